// Network transfers through the system `git` (fetch, push) over HTTP(S) or SSH. isomorphic-git
// inflates a fetched pack in memory (a 4 MB pack of zeros became gigabytes) and has no SSH; git's
// index-pack streams every blob over core.bigFileThreshold to disk while hashing it, and runs here
// under resource limits (heap and file size) and a deadline, with the user's config ignored, no
// prompts, and only the URL's own protocol allowed. SSH: a deploy key (a file, or bytes from a
// sealed Secret put on tmpfs for the call only), known_hosts pinned, no agent, no forwarding.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { GitError, type GitcellError } from '../../lib/errors.ts';
import { runGit, type GitLimits, type GitRun } from './cli.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** HttpCredentials are HTTP basic credentials (a token is sent as the password). */
export interface HttpCredentials {
  username: string;
  password: string;
}

/** SshAuth: the deploy key and the pinned host keys of an SSH remote. */
export interface SshAuth {
  /** identityFile: absolute path of the private key (mode 0600, as ssh demands). */
  identityFile?: string;
  /** identity: the private key itself (from a sealed Secret), written to tmpfs only while git runs. */
  identity?: Buffer;
  /** knownHostsFile: absolute path of the known_hosts file the server's key must be in. */
  knownHostsFile?: string;
  /** knownHosts: known_hosts lines (from the Secret), written next to the identity while git runs. */
  knownHosts?: string;
}

/** GitAuth is how gitcell authenticates to a remote: HTTP basic credentials or SSH. */
export interface GitAuth {
  http?: HttpCredentials;
  ssh?: SshAuth;
}

/** TransportLimits bound one transfer: git's heap, the largest file (pack) it writes, its duration. */
export interface TransportLimits {
  maxMemoryBytes: number;
  maxPackBytes: number;
  timeoutMs: number;
}

/** DEFAULT_TRANSPORT_LIMITS: 512 MiB of heap per git process, a 1 GiB pack, 2 minutes per transfer. */
export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = { maxMemoryBytes: 512 * 1024 * 1024, maxPackBytes: 1024 * 1024 * 1024, timeoutMs: 120_000 };

/** BIG_FILE_THRESHOLD: blobs larger than this are streamed by git (index-pack, unpack-objects), never held whole. */
export const BIG_FILE_THRESHOLD = '1m';

/** SSH_BINARY is OpenSSH's client, run by git for ssh:// and scp-like remotes. */
export const SSH_BINARY = '/usr/bin/ssh';

/** TMPFS_DIR holds a deploy key from a Secret while git runs: memory-backed, never a persistent disk. */
export const TMPFS_DIR = '/dev/shm';

/** isSshUrl tells an SSH remote: ssh://, git+ssh://, or scp-like user@host:path. */
export function isSshUrl(url: string): boolean {
  return /^(git\+)?ssh:\/\//i.test(url) || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)/.test(url);
}

/** urlScheme is the git protocol a remote URL uses ('https', 'http' or 'ssh'). */
export function urlScheme(url: string): 'http' | 'https' | 'ssh' {
  if (isSshUrl(url)) return 'ssh';
  if (/^https:\/\//i.test(url)) return 'https';
  if (/^http:\/\//i.test(url)) return 'http';
  throw new GitError(ErrorCodes.GitFetch, `${url}: not an http(s):// or SSH (ssh://, user@host:path) remote`, { url });
}

/** redactUrl hides a password in a URL's user info for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^(\w+:\/\/[^:/@]+):[^@/]*@/, '$1:***@');
}

/** shellQuote quotes one word for /bin/sh (git runs GIT_SSH_COMMAND through the shell). */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * sshCommand is GIT_SSH_COMMAND for a deploy key and pinned host keys: no user or system ssh config,
 * only this key (no agent), the host key must already be in `knownHosts` (never learnt on first use),
 * no forwarding of any kind, no prompts, and a dead connection noticed within a minute.
 */
export function sshCommand(identityFile: string, knownHostsFile: string): string {
  const opts = [
    'IdentitiesOnly=yes', 'IdentityAgent=none', 'ForwardAgent=no', 'ForwardX11=no', 'ClearAllForwardings=yes',
    'StrictHostKeyChecking=yes', `UserKnownHostsFile=${knownHostsFile}`, 'GlobalKnownHostsFile=/dev/null', 'UpdateHostKeys=no',
    'BatchMode=yes', 'PasswordAuthentication=no', 'KbdInteractiveAuthentication=no', 'PermitLocalCommand=no',
    'ConnectTimeout=30', 'ServerAliveInterval=15', 'ServerAliveCountMax=4',
  ];
  return [SSH_BINARY, '-F', '/dev/null', '-i', identityFile, ...opts.flatMap((o) => ['-o', o])].map(shellQuote).join(' ');
}

/** CREDENTIAL_HELPER answers git's `get` with the credentials from the environment: they never appear in argv or a file. */
const CREDENTIAL_HELPER = '!f() { test "$1" = get || exit 0; echo "username=$GITCELL_GIT_USERNAME"; echo "password=$GITCELL_GIT_PASSWORD"; }; f';

/** TransferSetup is the configuration and environment of one transfer, and what to remove after it. */
interface TransferSetup {
  config: Record<string, string>;
  env: Record<string, string>;
  cleanup: () => void;
}

/** originOf is scheme://host[:port] of an http(s) URL: the credential helper answers for it alone. */
function originOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

/** prepareTransfer builds the config and environment for `url` with `auth`; SSH key bytes go to a tmpfs dir. */
function prepareTransfer(url: string, auth: GitAuth | undefined): TransferSetup {
  const scheme = urlScheme(url);
  const config: Record<string, string> = {
    // Only the URL's protocol: no ext::, file:: or other transports a hostile remote could name.
    'protocol.allow': 'never',
    [`protocol.${scheme}.allow`]: 'always',
    'core.bigFileThreshold': BIG_FILE_THRESHOLD,
    // Keep what is fetched as a pack (index-pack), not thousands of loose objects.
    'fetch.unpackLimit': '1',
    'transfer.unpackLimit': '1',
    // Maintenance runs in the foreground, inside the deadline and the limits, never left behind.
    'gc.autoDetach': 'false',
    'maintenance.autoDetach': 'false',
    'credential.helper': '',
  };
  const env: Record<string, string> = {};
  let cleanup = () => undefined as void;
  if (scheme !== 'ssh') {
    if (auth?.http) {
      config[`credential.${originOf(url)}.helper`] = CREDENTIAL_HELPER;
      env.GITCELL_GIT_USERNAME = auth.http.username;
      env.GITCELL_GIT_PASSWORD = auth.http.password;
    }
    return { config, env, cleanup };
  }
  const ssh = auth?.ssh;
  if (!ssh || (!ssh.identity && !ssh.identityFile)) {
    throw new GitError(ErrorCodes.GitAuth, `${url}: an SSH remote needs a deploy key (--ssh-key FILE, or a sealed Secret with "identity" given by --git-secret)`, { url });
  }
  if (!ssh.knownHosts && !ssh.knownHostsFile) {
    throw new GitError(ErrorCodes.GitHostKey, `${url}: an SSH remote needs the server's host key pinned (--known-hosts FILE, or "known_hosts" in the Secret): gitcell never trusts a host key on first use`, { url });
  }
  for (const [flag, file] of [['identity', ssh.identityFile], ['known_hosts', ssh.knownHostsFile]] as const) {
    if (file !== undefined && !isAbsolute(file)) throw new GitError(ErrorCodes.GitAuth, `${flag} file ${file} must be an absolute path`, { url, file });
  }
  let identityFile = ssh.identityFile;
  let knownHostsFile = ssh.knownHostsFile;
  if (ssh.identity || ssh.knownHosts) {
    const dir = mkdtempSync(join(TMPFS_DIR, 'gitcell-ssh-'));
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    if (ssh.identity) {
      identityFile = join(dir, 'identity');
      // ssh refuses a key readable by others; the key ends with a newline or ssh cannot parse it.
      writeFileSync(identityFile, ssh.identity.at(-1) === 0x0a ? ssh.identity : Buffer.concat([ssh.identity, Buffer.from('\n')]), { mode: 0o600 });
    }
    if (ssh.knownHosts) {
      knownHostsFile = join(dir, 'known_hosts');
      writeFileSync(knownHostsFile, ssh.knownHosts.endsWith('\n') ? ssh.knownHosts : `${ssh.knownHosts}\n`, { mode: 0o600 });
    }
  }
  env.GIT_SSH_COMMAND = sshCommand(identityFile!, knownHostsFile!);
  env.GIT_SSH_VARIANT = 'ssh';
  return { config, env, cleanup };
}

/** runTransfer runs one git network command for `url` under the limits, cleaning up after it. */
async function runTransfer(args: string[], gitdir: string, url: string, auth: GitAuth | undefined, limits: TransportLimits): Promise<GitRun> {
  const setup = prepareTransfer(url, auth);
  const gitLimits: GitLimits = { dataBytes: limits.maxMemoryBytes, fileBytes: limits.maxPackBytes };
  try {
    return await runGit(args, { gitdir, config: setup.config, env: setup.env, limits: gitLimits, timeoutMs: limits.timeoutMs });
  } finally {
    setup.cleanup();
  }
}

/** transferError turns a failed fetch or push into a clear error: what was refused, which limit, why. */
export function transferError(what: 'fetching' | 'pushing to', url: string, r: GitRun, limits: TransportLimits, branch?: string): GitcellError {
  const shown = redactUrl(url);
  // git's own verdicts and what the server said (a hook's refusal comes as "remote:" lines).
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'Done');
  const said = lines.filter((l) => /^(remote:|fatal:|error:|!)|host key|Permission denied|private key|Load key/i.test(l));
  const stderr = (said.length ? said : lines).slice(-6).join('; ');
  const ctx = { url: shown, stderr };
  if (r.timedOut) return new GitError(ErrorCodes.GitFetch, `${what} ${shown}: no answer within ${limits.timeoutMs / 1000} s: git was stopped`, ctx);
  if (r.signal === 'SIGXFSZ') {
    return new GitError(ErrorCodes.GitPackTooLarge, `${what} ${shown}: the pack is larger than the limit of ${limits.maxPackBytes} bytes: refused, nothing of it is kept`, { ...ctx, limit: limits.maxPackBytes });
  }
  if (/Out of memory|malloc failed|Cannot allocate memory|cannot allocate/i.test(r.stderr)) {
    return new GitError(ErrorCodes.GitObjectTooLarge, `${what} ${shown}: an object inflates to more than git's memory limit of ${limits.maxMemoryBytes} bytes (a zip bomb?): refused (${stderr})`, { ...ctx, limit: limits.maxMemoryBytes });
  }
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/i.test(r.stderr)) {
    return new GitError(ErrorCodes.GitHostKey, `${what} ${shown}: the server's SSH host key is not the pinned one (not in known_hosts, or changed): refused (${stderr})`, ctx);
  }
  if (/Permission denied \(|Authentication failed|could not read (Username|Password)|returned error: (401|403)|UNPROTECTED PRIVATE KEY|invalid format|Load key/i.test(r.stderr)) {
    return new GitError(ErrorCodes.GitAuth, `${what} ${shown}: authentication failed (${stderr})`, ctx);
  }
  if (branch && /couldn't find remote ref/i.test(r.stderr)) {
    return new GitError(ErrorCodes.BranchNotFound, `fetching ${shown}: branch "${branch}" not found`, { url: shown, branch });
  }
  return new GitError(what === 'fetching' ? ErrorCodes.GitFetch : ErrorCodes.GitPush, `${what} ${shown}: git exited ${r.signal ?? r.code}: ${stderr}`, ctx);
}

/** FetchOptions: which branch of which remote into which ref of the local gitdir. */
export interface FetchOptions {
  gitdir: string;
  url: string;
  branch: string;
  /** trackingRef receives the branch tip (forced: it mirrors the remote, as git's remote-tracking refs do). */
  trackingRef: string;
  auth?: GitAuth;
  limits?: TransportLimits;
}

/**
 * fetchBranch fetches `branch` of `url` into `trackingRef` with the system git and returns the tip.
 * Throws E_GIT_AUTH, E_GIT_HOST_KEY, E_BRANCH_NOT_FOUND, E_GIT_PACK_TOO_LARGE, E_GIT_OBJECT_TOO_LARGE
 * or E_GIT_FETCH with git's last words.
 */
export async function fetchBranch(o: FetchOptions): Promise<string> {
  const limits = o.limits ?? DEFAULT_TRANSPORT_LIMITS;
  const refspec = `+refs/heads/${o.branch}:${o.trackingRef}`;
  const r = await runTransfer(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', o.url, refspec], o.gitdir, o.url, o.auth, limits);
  if (r.code !== 0) {
    // index-pack, stopped by the file size limit (SIGXFSZ), leaves a partial pack of exactly the limit.
    const partial = removePartialPacks(o.gitdir);
    throw transferError('fetching', o.url, partial >= limits.maxPackBytes ? { ...r, signal: 'SIGXFSZ' } : r, limits, o.branch);
  }
  const tip = await runGit(['rev-parse', '--verify', '--quiet', `${o.trackingRef}^{commit}`], { gitdir: o.gitdir });
  if (tip.code !== 0) throw new GitError(ErrorCodes.GitFetch, `fetching ${redactUrl(o.url)}: ${o.branch} does not name a commit`, { url: redactUrl(o.url), branch: o.branch });
  return tip.stdout.trim();
}

/** removePartialPacks deletes what a failed fetch left (tmp_pack_*, incoming dirs) and returns the largest size. */
function removePartialPacks(gitdir: string): number {
  let largest = 0;
  for (const dir of [join(gitdir, 'objects', 'pack'), join(gitdir, 'objects')]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.filter((n) => n.startsWith('tmp_') || n.startsWith('incoming-'))) {
      const path = join(dir, name);
      try {
        largest = Math.max(largest, statSync(path).size);
      } catch {
        /* gone */
      }
      rmSync(path, { recursive: true, force: true });
    }
  }
  return largest;
}

/** PushOutcome: pushed, or refused because the branch moved (fetch, redo, retry), or another failure. */
export type PushOutcome = { pushed: true } | { pushed: false; moved: boolean; error: GitcellError };

/**
 * pushCommit pushes `sha` to `refs/heads/<branch>` of `url`, never forced: the remote's receive-pack
 * compares the old tip under its own ref lock, so a commit pushed meanwhile is never overwritten.
 * With createOnly the branch must not exist yet (refused as `moved` otherwise).
 */
export async function pushCommit(o: { gitdir: string; url: string; sha: string; branch: string; createOnly?: boolean; auth?: GitAuth; limits?: TransportLimits }): Promise<PushOutcome> {
  const limits = o.limits ?? DEFAULT_TRANSPORT_LIMITS;
  // createOnly: the lease "expect nothing" makes the remote refuse when the branch already exists.
  const lease = o.createOnly ? [`--force-with-lease=refs/heads/${o.branch}:`] : [];
  // (--quiet would hide the porcelain line of an up-to-date ref, which tells createOnly the branch exists)
  const quiet = o.createOnly ? [] : ['--quiet'];
  const r = await runTransfer(['push', ...quiet, '--porcelain', '--no-recurse-submodules', ...lease, o.url, `${o.sha}:refs/heads/${o.branch}`], o.gitdir, o.url, o.auth, limits);
  // An identical commit (the same revert made again within the same second) is "up to date" (`=`),
  // exit 0, whatever the lease: for createOnly the branch existed already.
  if (r.code === 0 && o.createOnly && /^=\t/m.test(r.stdout)) {
    return { pushed: false, moved: true, error: transferError('pushing to', o.url, { ...r, code: 1, stderr: `refs/heads/${o.branch} exists already, at this commit\n${r.stdout}` }, limits) };
  }
  if (r.code === 0) return { pushed: true };
  const moved = /\[rejected\]|non-fast-forward|fetch first|failed to update ref|failed to lock|cannot lock ref|stale info/i.test(`${r.stdout}\n${r.stderr}`);
  return { pushed: false, moved, error: transferError('pushing to', o.url, { ...r, stderr: `${r.stderr}\n${r.stdout}` }, limits) };
}

/** initCache creates an empty bare repository at `gitdir` (absolute) for a remote's objects. */
export async function initCache(gitdir: string, branch: string): Promise<void> {
  mkdirSync(gitdir, { recursive: true, mode: 0o700 });
  const r = await runGit(['init', '--quiet', '--bare', `--initial-branch=${branch}`, gitdir], { gitdir });
  if (r.code !== 0) throw new GitError(ErrorCodes.GitFetch, `cannot create the clone cache ${gitdir}: ${r.stderr.trim()}`, { gitdir });
}
