// Builds real Git repositories with isomorphic-git in temp dirs, for loader and CLI tests.
import * as fs from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import git from 'isomorphic-git';

const author = { name: 'gitcell test', email: 'test@gitcell.invalid', timestamp: 1_700_000_000, timezoneOffset: 0 };

/** TestRepo is a temp Git repository; `commit` writes files (null deletes) and returns the commit id. */
export interface TestRepo {
  dir: string;
  commit(files: Record<string, string | Uint8Array | null>, message?: string): Promise<string>;
  write(files: Record<string, string | Uint8Array | null>): Promise<void>;
  remove(): Promise<void>;
}

/** makeTestRepo creates an empty repository on branch main in a fresh temp dir. */
export async function makeTestRepo(prefix = 'gitcell-repo-'): Promise<TestRepo> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await git.init({ fs, dir, defaultBranch: 'main' });
  let n = 0;
  const write = async (files: Record<string, string | Uint8Array | null>): Promise<void> => {
    for (const [path, content] of Object.entries(files)) {
      const abs = join(dir, path);
      if (content === null) await unlink(abs).catch(() => undefined);
      else {
        await mkdir(dirname(abs), { recursive: true });
        await writeFile(abs, content);
      }
    }
  };
  return {
    dir,
    write,
    async commit(files, message) {
      await write(files);
      for (const [path, content] of Object.entries(files)) {
        if (content === null) await git.remove({ fs, dir, filepath: path });
        else await git.add({ fs, dir, filepath: path });
      }
      n++;
      return git.commit({ fs, dir, message: message ?? `commit ${n}`, author: { ...author, timestamp: author.timestamp + n } });
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
