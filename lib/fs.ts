import { readdir } from 'node:fs/promises';

/**
 * readdirIfExists lists a directory's entry names, or none when the directory does not exist yet
 * (a store that has never written anything); any other failure (EACCES, ENOTDIR) still throws.
 */
export async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
