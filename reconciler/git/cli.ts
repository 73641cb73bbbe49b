// The few things gitcell asks of the system `git` rather than isomorphic-git: what must hold git's
// own locks (a ref update that races a user's `git commit`), what must be signed (ssh-keygen / gpg
// through git's signing code) and what must be verified exactly as git verifies it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { GitError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** DEFAULT_GIT is Debian's git binary; override with GITCELL_GIT (an absolute path). */
export const DEFAULT_GIT = '/usr/bin/git';

/** GIT_TIMEOUT_MS bounds every git child process: a hung git must not hang the reconciler. */
export const GIT_TIMEOUT_MS = 60_000;

/** GitRun is what a git child process did. */
export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** gitBinary returns the absolute path of git, or throws E_GIT_MISSING naming where it looked. */
export function gitBinary(): string {
  const bin = process.env.GITCELL_GIT ?? DEFAULT_GIT;
  if (!existsSync(bin)) throw new GitError(ErrorCodes.GitMissing, `git not found at ${bin}: install the Debian package git (scripts/bootstrap.sh) or set GITCELL_GIT`, { binary: bin });
  return bin;
}

/** RunGitOptions: the repository (absolute gitdir), an optional work tree, stdin and extra environment. */
export interface RunGitOptions {
  gitdir: string;
  workTree?: string;
  input?: string;
  env?: Record<string, string>;
  /** config entries passed with `-c` (never read from the user's files for these). */
  config?: Record<string, string>;
}

/**
 * runGit runs `git --git-dir=GITDIR [-c k=v]... ARGS` and resolves with its exit code and output;
 * it rejects only when git cannot be run at all. The user's global and system configuration are
 * not read, so signing and verification behave the same on every machine.
 */
export function runGit(args: string[], opts: RunGitOptions): Promise<GitRun> {
  const bin = gitBinary();
  const config = Object.entries(opts.config ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const argv = [`--git-dir=${opts.gitdir}`, ...(opts.workTree ? [`--work-tree=${opts.workTree}`] : []), ...config, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      argv,
      {
        ...(opts.workTree ? { cwd: opts.workTree } : { cwd: opts.gitdir }),
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...opts.env },
        timeout: GIT_TIMEOUT_MS,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new GitError(ErrorCodes.GitExec, `git ${args[0]}: ${err.message}`, { args }));
          return;
        }
        resolve({ code: err ? ((err as { code: number }).code) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
