/**
 * Test helper: real Git working repositories made with the git CLI (git-repo.ts makes them with isomorphic-git), to commit manifests the way a
 * user would (so gitcell is tested against what git itself writes: loose refs, packed refs, locks).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { git, gitAsync, startGitHttpServer, type GitHttpServer } from './git-http.ts';

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

/** RemoteRepo is a git http-backend serving one bare repository, and a working repo pushing to it. */
export interface RemoteRepo {
  server: GitHttpServer;
  /** url is the bare repository's clone URL, without credentials (sources take a credentials file). */
  url: string;
  /** work's origin is `url` with the credentials in it, so `git push` just works. */
  work: TestRepo;
}

/**
 * makeRemoteRepo starts a git http-backend for test t (basic auth when `auth` is given), creates
 * the bare repository `cluster` on it and a working repo whose origin points there; t's after
 * hooks remove both.
 */
export async function makeRemoteRepo(t: { after(fn: () => unknown): void }, auth?: { username: string; password: string }): Promise<RemoteRepo> {
  const server = await startGitHttpServer(auth ? { auth } : {});
  t.after(() => server.close());
  const url = server.createBareRepo('cluster');
  const work = makeRepo({ remote: auth ? url.replace('http://', `http://${auth.username}:${auth.password}@`) : url });
  t.after(() => work.cleanup());
  return { server, url, work };
}
