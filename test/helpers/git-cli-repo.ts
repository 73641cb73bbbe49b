/**
 * Test helper: real Git working repositories made with the git CLI (git-repo.ts makes them with isomorphic-git), to commit manifests the way a
 * user would (so gitcell is tested against what git itself writes: loose refs, packed refs, locks).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { git, gitAsync } from './git-http.ts';

/** TestRepo is a non-bare repository in a temp dir on branch `main`. */
export interface TestRepo {
  dir: string;
  /** commit writes (string) or deletes (null) files, commits them all and returns the new sha. */
  commit(files: Record<string, string | null>, message?: string): string;
  git(...args: string[]): string;
  /** gitAsync is for commands that talk to an in-process server (push, fetch, pull). */
  gitAsync(...args: string[]): Promise<string>;
  head(): string;
  cleanup(): void;
}

/** makeRepo creates a repository; with `remote`, `origin` points there (push with repo.git('push', ...)). */
export function makeRepo(options: { remote?: string; prefix?: string } = {}): TestRepo {
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'gitcell-repo-'));
  git(dir, 'init', '--quiet', '--initial-branch=main');
  if (options.remote) git(dir, 'remote', 'add', 'origin', options.remote);
  let n = 0;
  return {
    dir,
    commit(files, message) {
      for (const [path, content] of Object.entries(files)) {
        const full = join(dir, path);
        if (content === null) {
          unlinkSync(full);
        } else {
          mkdirSync(dirname(full), { recursive: true });
          writeFileSync(full, content);
        }
      }
      git(dir, 'add', '-A');
      git(dir, 'commit', '--quiet', '--allow-empty', '-m', message ?? `change ${++n}`);
      return git(dir, 'rev-parse', 'HEAD');
    },
    git: (...args) => git(dir, ...args),
    gitAsync: (...args) => gitAsync(dir, ...args),
    head: () => git(dir, 'rev-parse', 'HEAD'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
