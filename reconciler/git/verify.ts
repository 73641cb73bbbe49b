// Only trusted commits reach the cluster: a revision is applied only when its commits are signed by
// a key of an allowed list, SSH (`allowed_signers`, as `ssh-keygen -Y verify` reads it) or OpenPGP
// (a keyring holding only the allowed public keys), checked by the real `git verify-commit`, which
// picks ssh-keygen or gpg from the signature itself. Flux verifies OpenPGP only; this does both.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { errorMessage, UsageError, GitError } from '../../lib/errors.ts';
import { runGit } from './cli.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** VERIFY_MODES: off; the tip commit only; every commit since the last applied revision. */
export const VERIFY_MODES = ['off', 'tip', 'all'] as const;

/** VerifyMode is one of VERIFY_MODES. */
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** MAX_VERIFIED_COMMITS bounds mode `all`: more new commits than this in one revision is refused. */
export const MAX_VERIFIED_COMMITS = 1000;

/** CLUSTER_PRINCIPAL names the cluster's own key in allowed_signers. */
export const CLUSTER_PRINCIPAL = 'gitcell-cluster';

/** TrustStore is the allowed list, ready for git: an allowed_signers file and a GNUPGHOME. */
export interface TrustStore {
  /** allowedSigners is the SSH allowed_signers file git hands to ssh-keygen (absolute). */
  allowedSigners: string;
  /** gnupgHome holds only the allowed OpenPGP public keys (absolute). */
  gnupgHome: string;
}

/** stricterMode returns the stricter of two modes (off < tip < all). Pure. */
export function stricterMode(a: VerifyMode, b: VerifyMode): VerifyMode {
  return VERIFY_MODES.indexOf(a) >= VERIFY_MODES.indexOf(b) ? a : b;
}

/** parseVerifyMode checks a mode named by a flag or a settings field; E_USAGE naming `where` otherwise. */
export function parseVerifyMode(value: unknown, where: string): VerifyMode {
  if (typeof value === 'string' && (VERIFY_MODES as readonly string[]).includes(value)) return value as VerifyMode;
  throw new UsageError(ErrorCodes.Usage, `${where}: "${String(value)}" is not one of ${VERIFY_MODES.join(', ')}`, { where });
}

function run(bin: string, args: string[], env: Record<string, string>, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = execFile(bin, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return rej(new GitError(ErrorCodes.Exec, `${bin}: ${err.message}`, { bin }));
      res({ code: err ? (err as { code: number }).code : 0, stdout, stderr });
    });
    // A child that exits without reading its input (ssh-keygen) closes the pipe first: EPIPE is
    // not an error of the run (its exit code is), and unhandled it would crash the reconciler.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

/**
 * ensureSigningKey returns the cluster's SSH signing key at `keyFile` (absolute), generating an
 * ed25519 key pair there (0600, no passphrase) on first use with the real ssh-keygen.
 */
export async function ensureSigningKey(keyFile: string): Promise<{ keyFile: string; publicKey: string }> {
  const file = resolve(keyFile);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const r = await run('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', CLUSTER_PRINCIPAL, '-f', file], {});
    if (r.code !== 0) throw new GitError(ErrorCodes.SigningKey, `cannot generate the cluster's signing key ${file}: ${r.stderr.trim()}`, { file });
  }
  chmodSync(file, 0o600);
  let publicKey: string;
  try {
    publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
  } catch (err) {
    throw new GitError(ErrorCodes.SigningKey, `cannot read the public half ${file}.pub of the signing key: ${errorMessage(err)}`, { file });
  }
  return { keyFile: file, publicKey };
}

/**
 * prepareTrustStore writes the allowed list under `dir` (made fresh on every start, so a key taken off
 * the list is gone): allowed_signers = the operator's file plus the cluster key, and a GNUPGHOME
 * into which the operator's armored OpenPGP public keys are imported with the real gpg.
 */
export async function prepareTrustStore(o: { dir: string; allowedSignersFile?: string; gpgKeysFile?: string; clusterPublicKey?: string }): Promise<TrustStore> {
  const dir = resolve(o.dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'gnupg'), { recursive: true, mode: 0o700 });
  const lines: string[] = [];
  if (o.allowedSignersFile) {
    try {
      lines.push(readFileSync(o.allowedSignersFile, 'utf8').trim());
    } catch (err) {
      throw new UsageError(ErrorCodes.Usage, `--allowed-signers ${o.allowedSignersFile}: ${errorMessage(err)}`, { flag: '--allowed-signers' });
    }
  }
  if (o.clusterPublicKey) lines.push(`${CLUSTER_PRINCIPAL} namespaces="git" ${o.clusterPublicKey}`);
  const allowedSigners = join(dir, 'allowed_signers');
  writeFileSync(allowedSigners, `${lines.filter(Boolean).join('\n')}\n`, { mode: 0o600 });
  const gnupgHome = join(dir, 'gnupg');
  if (o.gpgKeysFile) {
    const r = await run('/usr/bin/gpg', ['--batch', '--quiet', '--import', resolve(o.gpgKeysFile)], { GNUPGHOME: gnupgHome });
    if (r.code !== 0) throw new UsageError(ErrorCodes.Usage, `--trusted-gpg-keys ${o.gpgKeysFile}: gpg could not import it: ${r.stderr.trim()}`, { flag: '--trusted-gpg-keys' });
  }
  return { allowedSigners, gnupgHome };
}

/** CommitVerdict is what git said of one commit's signature. */
export type CommitVerdict = { trusted: true; signer: string } | { trusted: false; reason: string };

/**
 * verifyCommitSignature runs `git verify-commit --raw SHA` against the trust store: trusted when
 * git (through ssh-keygen or gpg) found a good signature by an allowed key. Says why not otherwise.
 */
export async function verifyCommitSignature(gitdir: string, sha: string, trust: TrustStore): Promise<CommitVerdict> {
  const r = await runGit(['verify-commit', '--raw', sha], {
    gitdir,
    env: { GNUPGHOME: trust.gnupgHome },
    config: { 'gpg.ssh.allowedSignersFile': trust.allowedSigners, 'gpg.program': '/usr/bin/gpg', 'gpg.ssh.program': '/usr/bin/ssh-keygen' },
  });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.code === 0) {
    const ssh = /Good "git" signature for (\S+) with (\S+) key (\S+)/.exec(out);
    const pgp = /\[GNUPG:\] VALIDSIG (\w+)/.exec(out);
    return { trusted: true, signer: ssh ? `SSH ${ssh[1]} (${ssh[3]})` : pgp ? `OpenPGP ${pgp[1]}` : 'an allowed key' };
  }
  if (out.trim() === '') return { trusted: false, reason: 'is not signed' };
  if (/No principal matched/.test(out)) return { trusted: false, reason: 'is signed by an SSH key that is not in the allowed list' };
  if (/NO_PUBKEY/.test(out)) return { trusted: false, reason: 'is signed by an OpenPGP key that is not in the allowed list' };
  if (/BADSIG|Signature verification failed|incorrect signature|Could not verify signature/i.test(out)) return { trusted: false, reason: 'has a signature that does not match its content (tampered)' };
  return { trusted: false, reason: `has no valid signature by an allowed key (${out.trim().split('\n').slice(-1)[0]?.slice(0, 200)})` };
}

/**
 * verifyRevision checks the commits of a revision before anything of it is read: the tip (`tip`
 * mode) or every commit reachable from the tip and not from the last applied revision (`all`; the
 * tip alone when nothing was applied yet). Throws E_UNTRUSTED_COMMIT naming the first bad commit
 * and why: the reconciler marks the revision Stalled and applies nothing.
 */
export async function verifyRevision(o: { gitdir: string; tip: string; mode: VerifyMode; trust: TrustStore; lastApplied?: string }): Promise<{ verified: string[] }> {
  if (o.mode === 'off') return { verified: [] };
  let commits = [o.tip];
  if (o.mode === 'all' && o.lastApplied && o.lastApplied !== o.tip) {
    const known = await runGit(['cat-file', '-e', `${o.lastApplied}^{commit}`], { gitdir: o.gitdir });
    const r = await runGit(['rev-list', `--max-count=${MAX_VERIFIED_COMMITS + 1}`, o.tip, ...(known.code === 0 ? ['--not', o.lastApplied] : [])], { gitdir: o.gitdir });
    if (r.code !== 0) throw new GitError(ErrorCodes.GitExec, `listing the commits of ${o.tip.slice(0, 12)}: ${r.stderr.trim()}`, { tip: o.tip });
    commits = r.stdout.split('\n').filter(Boolean);
    if (commits.length > MAX_VERIFIED_COMMITS) {
      throw new GitError(ErrorCodes.UntrustedCommit, `revision ${o.tip.slice(0, 12)} brings more than ${MAX_VERIFIED_COMMITS} new commits to verify: refused`, { commit: o.tip });
    }
  }
  for (const sha of commits) {
    const v = await verifyCommitSignature(o.gitdir, sha, o.trust);
    if (!v.trusted) {
      const subject = (await runGit(['log', '-1', '--format=%s', sha], { gitdir: o.gitdir })).stdout.trim();
      const which = sha === o.tip ? 'tip commit' : `commit (one of ${commits.length} since the last applied revision)`;
      throw new GitError(ErrorCodes.UntrustedCommit, `${which} ${sha.slice(0, 12)} "${subject.slice(0, 80)}" ${v.reason}: nothing of revision ${o.tip.slice(0, 12)} is applied (commit verification: ${o.mode})`, { commit: sha, tip: o.tip, reason: v.reason });
    }
  }
  return { verified: commits };
}
