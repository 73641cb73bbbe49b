import { accessSync, closeSync, constants, openSync, readdirSync, readFileSync } from 'node:fs';
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

/**
 * readdirSyncOrEmpty lists a directory's entry names, or none when it cannot be read for any
 * reason: for best-effort listings (containers on disk, rotated logs) where absence and
 * unreadability mean the same thing.
 */
export function readdirSyncOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * readFileNoFollow reads a file as UTF-8 through O_NOFOLLOW, so a symlink swapped in for the last
 * path component fails (ELOOP) instead of being followed out of an untrusted root filesystem.
 * Callers check the parent directories themselves.
 */
export function readFileNoFollow(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * findExecutable returns `dir/name` for the first of `dirs` where `name` is executable, or undefined.
 * Tools are spawned by absolute path: a bare name makes every spawn try each PATH entry in turn
 * while the spawning process waits (eight failed execs for `ip` on a PATH with tool shims).
 */
export function findExecutable(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** pathDirs are the absolute directories of $PATH, in order. */
export function pathDirs(): string[] {
  return (process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/'));
}
