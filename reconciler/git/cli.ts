// The system `git` as a child process: what must hold git's own locks (a ref update that races a
// user's `git commit`), what must be signed or verified exactly as git does it (ssh-keygen / gpg
// through git's own code), and every network transfer (fetch and push, over HTTP(S) or SSH), which
// git streams to disk within resource limits where isomorphic-git would inflate a pack in memory.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { GitError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** DEFAULT_GIT is Debian's git binary; override with GITCELL_GIT (an absolute path). */
export const DEFAULT_GIT = '/usr/bin/git';

/** PRLIMIT is util-linux's prlimit (Debian essential): it sets a child's resource limits, then execs it. */
export const PRLIMIT = '/usr/bin/prlimit';

/** GIT_TIMEOUT_MS bounds every git child process: a hung git must not hang the reconciler. */
export const GIT_TIMEOUT_MS = 60_000;

/** MAX_OUTPUT_BYTES bounds what is kept of a git child's stdout or stderr. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** GitRun is what a git child process did: its exit code (-1 when a signal ended it) and output. */
export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
  /** signal that ended git (SIGXFSZ: a file over the size limit; SIGKILL after the deadline). */
  signal?: NodeJS.Signals;
  /** timedOut: the deadline passed and the process group was killed. */
  timedOut?: boolean;
}

/** GitLimits are resource limits of a git process and every process it starts (index-pack, ssh, ...). */
export interface GitLimits {
  /** dataBytes caps each process's heap (RLIMIT_DATA): an object inflating past it fails the process. */
  dataBytes?: number;
  /** fileBytes caps every file a process writes (RLIMIT_FSIZE): a larger pack ends it with SIGXFSZ. */
  fileBytes?: number;
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
  /** timeoutMs: the whole process group is killed after this long (default GIT_TIMEOUT_MS). */
  timeoutMs?: number;
  limits?: GitLimits;
}

/** gitEnvironment is the environment of every git child: no user or system config, no prompts. */
function gitEnvironment(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    LC_ALL: 'C',
    ...extra,
  };
}

/** live holds the process groups of running git children: killed if this process exits first. */
const live = new Set<number>();
let exitHookInstalled = false;
function track(pid: number): void {
  live.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) {
      try {
        process.kill(-p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/**
 * runGit runs `git --git-dir=GITDIR [-c k=v]... ARGS` and resolves with its exit code and output;
 * it rejects only when git cannot be run at all. The user's global and system configuration are
 * not read, so signing, verification and transfers behave the same on every machine. git runs in a
 * process group of its own, killed whole at the deadline; with `limits`, under prlimit.
 */
export function runGit(args: string[], opts: RunGitOptions): Promise<GitRun> {
  const bin = gitBinary();
  const config = Object.entries(opts.config ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const gitArgv = [`--git-dir=${opts.gitdir}`, ...(opts.workTree ? [`--work-tree=${opts.workTree}`] : []), ...config, ...args];
  const limits = [
    ...(opts.limits?.dataBytes ? [`--data=${opts.limits.dataBytes}`] : []),
    ...(opts.limits?.fileBytes ? [`--fsize=${opts.limits.fileBytes}`] : []),
  ];
  const [file, argv] = limits.length ? [PRLIMIT, [...limits, '--', bin, ...gitArgv]] : [bin, gitArgv];
  const timeoutMs = opts.timeoutMs ?? GIT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: opts.workTree ?? opts.gitdir, env: gitEnvironment(opts.env), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const collect = (which: 'stdout' | 'stderr') => (d: Buffer) => {
      if (out[which].length < MAX_OUTPUT_BYTES) out[which] += d.toString('utf8');
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    if (child.pid) track(child.pid);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new GitError(ErrorCodes.GitExec, `git ${args[0]}: ${err.message}`, { args }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid) live.delete(child.pid);
      resolve({ code: code ?? -1, ...out, ...(signal ? { signal } : {}), ...(timedOut ? { timedOut } : {}) });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
