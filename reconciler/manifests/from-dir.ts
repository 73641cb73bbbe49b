// Loads manifests from a plain directory (the working tree): the pre-commit use of `gitcell validate`.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitcellError, ManifestError, ErrorCodes } from '../../lib/index.ts';
import { ManifestCollector } from './collect.ts';
import { LoadErrorCode, MANIFEST_LIMITS, isManifestFile, type LoadOptions, type LoadResult } from './types.ts';

/**
 * loadManifestsFromDir reads every *.yaml, *.yml and *.json file under `dir` (sorted, recursively;
 * hidden entries like .git and symbolic links are skipped so a link cannot pull in files from
 * outside). File names in the result are relative to `dir`. Throws GitcellError E_PATH_NOT_FOUND
 * when `dir` is not a directory; everything wrong inside a file is a Problem.
 *
 * @example
 *   const { objects, problems } = await loadManifestsFromDir('sample-repo');
 */
export async function loadManifestsFromDir(dir: string, options: LoadOptions = {}): Promise<LoadResult> {
  const limits = { ...MANIFEST_LIMITS, ...options };
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new ManifestError(ErrorCodes.PathNotFound, `${dir} is not a directory`, { dir });
  const collector = new ManifestCollector(limits);
  for (const rel of await listManifestFiles(dir, '')) {
    const abs = join(dir, rel);
    try {
      const s = await lstat(abs);
      if (s.size > limits.maxFileBytes) {
        // Refuse before reading: a huge file must not cost its size in memory.
        collector.problem({ code: LoadErrorCode.fileTooLarge, file: rel, line: 1, column: 1, message: `file is ${s.size} bytes, over the limit of ${limits.maxFileBytes} (1 MiB): split it` });
        continue;
      }
      collector.add(rel, await readFile(abs));
    } catch (err) {
      collector.problem({ code: LoadErrorCode.unreadable, file: rel, line: 1, column: 1, message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    }
  }
  return collector.result();
}

async function listManifestFiles(root: string, rel: string): Promise<string[]> {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listManifestFiles(root, path)));
    else if (e.isFile() && isManifestFile(e.name)) out.push(path);
  }
  return out;
}
