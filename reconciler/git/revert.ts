import * as fs from 'node:fs';
import git from 'isomorphic-git';
import { GitcellError, GitError } from '../../lib/errors.ts';
import { GITCELL_AUTHOR } from './message.ts';
import { runGit } from './cli.ts';
import { fetchBranch, pushCommit, redactUrl, type GitAuth, type TransportLimits } from './transport.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** EMPTY_TREE is git's id of the empty tree: the "parent tree" of a root commit. */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** RevertOptions: which commit to revert on which branch, and where to push the result. */
export interface RevertOptions {
  gitdir: string;
  /** branch name on the remote (or locally): the revert lands on `refs/heads/<branch>`. */
  branch: string;
  /** trackingRef holds the branch tip in `gitdir` (refs/heads/B, or refs/remotes/origin/B for a remote). */
  trackingRef: string;
  /** commit is the commit to revert (C). */
  commit: string;
  /** message builds the commit message from C's subject (see revertMessage). */
  message: (subject: string) => string;
  /** remote: push the revert there (a remote source) with the source's own transport; absent for a local repository. */
  remote?: RevertRemote;
  /** dir: working tree of a local repository; updated to the revert when it was clean. */
  dir?: string;
  /**
   * signingKey: an SSH private key (absolute path, the cluster's): the revert is signed with it by
   * `git commit-tree -S` (git runs ssh-keygen -Y sign), so a verifying reconciler trusts it.
   */
  signingKey?: string;
  /**
   * targetBranch: commit the revert to this new branch (`autoRollback: branch`, for protected
   * branches) instead of the followed one, which is left alone: created only if it does not exist
   * (locally with update-ref's all-zero old value, remotely with --force-with-lease=REF: on nothing).
   */
  targetBranch?: string;
  /** now in ms since epoch (commit timestamps). */
  now?: () => number;
}

/** RevertRemote: where a remote source's revert is pushed, authenticated and bounded as its fetches are. */
export interface RevertRemote {
  url: string;
  auth?: GitAuth;
  limits?: TransportLimits;
}

/** RevertResult: what revertCommit did. */
export type RevertResult =
  /** branch: where the revert was committed when it is not the followed branch (targetBranch). */
  | { outcome: 'reverted'; sha: string; parent: string; mode: 'tip' | 'three-way'; pushed: boolean; branch?: string }
  /** targetBranch exists already (a revert proposed before): nothing is written. */
  | { outcome: 'already-proposed'; branch: string; tip: string }
  /** The branch already has C's changes undone (a user's revert, a fix): nothing to commit. */
  | { outcome: 'nothing-to-revert'; tip: string }
  /** C is not in the branch's history (force-pushed away): nothing to revert. */
  | { outcome: 'not-on-branch'; tip: string }
  /** Later commits touch the same lines: a human must decide. */
  | { outcome: 'conflict'; tip: string; files: string[]; message: string };

/**
 * PUSH_ATTEMPTS bounds the reverts made again when the branch moved under us (a user commits or
 * pushes in a loop), locally between our read and our ref update, remotely between our fetch and
 * our push: each attempt starts from their newest commit, after a short growing, jittered pause.
 */
export const PUSH_ATTEMPTS = 20;

const retryPause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.min(10 * attempt, 200) * (0.5 + Math.random())));

/**
 * revertCommit commits a revert of `commit` on the branch, authored by gitcell, and pushes it when
 * the repository is remote. If C is the tip, the revert's tree is C^'s tree. Otherwise it is a
 * three-way merge (base C, ours the tip, theirs C^'s tree): isomorphic-git has no revert, so a
 * temporary commit with C^'s tree and parent C is merged into the tip (their merge base is C) and
 * only the merged tree is kept, in a single-parent commit on the tip. Conflicts are returned, not
 * thrown. Throws E_GIT_PUSH when the remote refuses the push after PUSH_ATTEMPTS.
 *
 * @example
 *   const r = await revertCommit({ gitdir, branch: 'main', trackingRef: 'refs/heads/main', commit: c, message: (s) => `Revert "${s}"` });
 */
export async function revertCommit(opts: RevertOptions): Promise<RevertResult> {
  for (let attempt = 1; ; attempt++) {
    const made = await makeRevert(opts);
    if (made.outcome !== 'reverted') return made;
    if (opts.targetBranch) return proposeOnBranch(opts, opts.targetBranch, made);
    if (!opts.remote) {
      try {
        await updateLocalBranch(opts, made.parent, made.sha);
        return made;
      } catch (err) {
        // A user committed while we reverted: revert again on top of their commit.
        if ((err as GitcellError).code === ErrorCodes.GitBranchMoved && attempt < PUSH_ATTEMPTS) {
          await retryPause(attempt);
          continue;
        }
        throw err;
      }
    }
    const { url, auth, limits } = opts.remote;
    const transfer = { gitdir: opts.gitdir, url, branch: opts.branch, ...(auth ? { auth } : {}), ...(limits ? { limits } : {}) };
    const pushed = await pushCommit({ ...transfer, sha: made.sha });
    if (pushed.pushed) {
      await runGit(['update-ref', opts.trackingRef, made.sha], { gitdir: opts.gitdir });
      return { ...made, pushed: true };
    }
    if (!pushed.moved || attempt >= PUSH_ATTEMPTS) {
      throw new GitcellError(ErrorCodes.GitPush, `pushing the revert of ${opts.commit.slice(0, 12)} to ${redactUrl(url)}: ${pushed.error.message}`, { url: redactUrl(url), commit: opts.commit });
    }
    // Someone pushed meanwhile: fetch their commits and revert again on top of them. The push is
    // never forced: the remote's receive-pack compares the old tip under its own ref lock.
    await retryPause(attempt);
    await fetchBranch({ ...transfer, trackingRef: opts.trackingRef });
  }
}

/** ZERO_OID as the old value of `git update-ref` means "the ref must not exist". */
const ZERO_OID = '0'.repeat(40);

/**
 * proposeOnBranch writes the revert `made` to the new branch `target` (locally, or pushed to the
 * remote), never touching the followed branch: a branch that exists already is left as it is.
 */
async function proposeOnBranch(opts: RevertOptions, target: string, made: Extract<RevertResult, { outcome: 'reverted' }>): Promise<RevertResult> {
  const ref = `refs/heads/${target}`;
  if (!opts.remote) {
    const r = await runGit(['update-ref', '-m', `gitcell: proposed revert of ${opts.commit.slice(0, 12)}`, ref, made.sha, ZERO_OID], { gitdir: opts.gitdir });
    if (r.code === 0) return { ...made, branch: target };
    const tip = await runGit(['rev-parse', '--verify', '--quiet', ref], { gitdir: opts.gitdir });
    if (tip.code === 0) return { outcome: 'already-proposed', branch: target, tip: tip.stdout.trim() };
    throw new GitError(ErrorCodes.GitBranchMoved, `cannot create branch ${target} for the revert of ${opts.commit.slice(0, 12)}: ${r.stderr.trim()}`, { branch: target });
  }
  const { url, auth, limits } = opts.remote;
  const pushed = await pushCommit({ gitdir: opts.gitdir, url, sha: made.sha, branch: target, createOnly: true, ...(auth ? { auth } : {}), ...(limits ? { limits } : {}) });
  if (pushed.pushed) return { ...made, branch: target, pushed: true };
  if (pushed.moved) return { outcome: 'already-proposed', branch: target, tip: '' };
  throw new GitcellError(ErrorCodes.GitPush, `pushing the revert of ${opts.commit.slice(0, 12)} to branch ${target} of ${redactUrl(url)}: ${pushed.error.message}`, { url: redactUrl(url), commit: opts.commit });
}

async function makeRevert(opts: RevertOptions): Promise<RevertResult> {
  const { gitdir, commit } = opts;
  const tip = await git.resolveRef({ fs, gitdir, ref: opts.trackingRef });
  if (tip !== commit && !(await git.isDescendent({ fs, gitdir, oid: tip, ancestor: commit, depth: -1 }))) {
    return { outcome: 'not-on-branch', tip };
  }
  const c = (await git.readCommit({ fs, gitdir, oid: commit })).commit;
  const parentTree = c.parent[0] ? (await git.readCommit({ fs, gitdir, oid: c.parent[0] })).commit.tree : await git.writeTree({ fs, gitdir, tree: [] });
  const tipCommit = (await git.readCommit({ fs, gitdir, oid: tip })).commit;
  const nowSec = Math.floor((opts.now?.() ?? Date.now()) / 1000);
  const who = { ...GITCELL_AUTHOR, timestamp: nowSec, timezoneOffset: 0 };

  let tree: string;
  let mode: 'tip' | 'three-way';
  if (tip === commit) {
    tree = parentTree;
    mode = 'tip';
  } else {
    mode = 'three-way';
    const theirs = await git.writeCommit({
      fs,
      gitdir,
      commit: { tree: parentTree, parent: [commit], author: who, committer: who, message: `gitcell: temporary commit with the tree before ${commit}\n` },
    });
    try {
      const merged = await git.merge({ fs, gitdir, ours: tip, theirs, fastForward: false, noUpdateBranch: true, abortOnConflict: true, author: who, committer: who, message: 'gitcell: temporary revert merge\n' });
      if (!merged.tree) throw new Error(`merge of the revert of ${commit} produced no tree`);
      tree = merged.tree;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'MergeConflictError' || code === 'MergeNotSupportedError') {
        const files = ((err as { data?: { filepaths?: string[] } }).data?.filepaths ?? []).slice().sort();
        return {
          outcome: 'conflict',
          tip,
          files,
          message: `reverting ${commit.slice(0, 12)} conflicts with later commits on ${opts.branch}${files.length ? ` in ${files.join(', ')}` : ''}: revert it by hand`,
        };
      }
      throw err;
    }
  }
  if (tree === tipCommit.tree) return { outcome: 'nothing-to-revert', tip };
  const subject = c.message.split('\n')[0] ?? '';
  const message = opts.message(subject);
  const sha = opts.signingKey
    ? await signedCommit(gitdir, tree, tip, message, nowSec, opts.signingKey)
    : await git.writeCommit({ fs, gitdir, commit: { tree, parent: [tip], author: who, committer: who, message } });
  return { outcome: 'reverted', sha, parent: tip, mode, pushed: false };
}

/**
 * updateLocalBranch moves the local branch from `from` to `to` with `git update-ref REF TO FROM`:
 * git takes the ref's own lock (`<ref>.lock`, O_EXCL, the lock every `git commit` takes) and
 * compares the tip with `from` while holding it, so a commit made since we read the tip (or one
 * being made right now) is never overwritten: the update fails and the caller reverts again on top
 * of it. When the branch is checked out, the index lock is taken first and held until the index
 * matches the new tip (as `git merge` and `git reset` do): otherwise a user's `git add` + `git
 * commit` between the two steps would build its tree from the old index and bring the reverted
 * change back on top of the revert. `git read-tree -m -u FROM TO` brings the work tree along as
 * `git checkout` would: it refuses to touch a file the user changed (the tree is left alone).
 */
async function updateLocalBranch(opts: RevertOptions, from: string, to: string): Promise<void> {
  const checkedOut = opts.dir !== undefined && (await runGit(['symbolic-ref', '--quiet', 'HEAD'], { gitdir: opts.gitdir })).stdout.trim() === opts.trackingRef;
  const index = `${opts.gitdir}/index`;
  const lock = checkedOut ? await takeIndexLock(opts, index) : undefined;
  try {
    const r = await runGit(['update-ref', '-m', `gitcell: revert ${opts.commit.slice(0, 12)}`, opts.trackingRef, to, from], { gitdir: opts.gitdir });
    if (r.code !== 0) {
      throw new GitcellError(ErrorCodes.GitBranchMoved, `${opts.branch} moved (or is being committed to) while reverting from ${from.slice(0, 12)}; will retry: ${r.stderr.trim()}`, { branch: opts.branch });
    }
    if (!lock) return;
    // The new index is written beside the lock and renamed over the index while the lock is held.
    const next = `${index}.gitcell-${process.pid}`;
    await fs.promises.copyFile(index, next).catch(() => undefined);
    // Best effort: a refused or failed update leaves the user's files as they are, the revert is committed.
    const rt = await runGit(['read-tree', '-m', '-u', from, to], { gitdir: opts.gitdir, workTree: opts.dir!, env: { GIT_INDEX_FILE: next } });
    if (rt.code === 0) await fs.promises.rename(next, index);
    else await fs.promises.rm(next, { force: true });
  } finally {
    if (lock) {
      await lock.close();
      await fs.promises.rm(`${index}.lock`, { force: true });
    }
  }
}

/** takeIndexLock creates `<gitdir>/index.lock` as git does (O_EXCL); held by another git process, the caller retries. */
async function takeIndexLock(opts: RevertOptions, index: string): Promise<fs.promises.FileHandle> {
  try {
    return await fs.promises.open(`${index}.lock`, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new GitcellError(ErrorCodes.GitBranchMoved, `${opts.branch}: another git process holds ${index}.lock; will retry`, { branch: opts.branch });
  }
}

/** signedCommit writes the revert commit with the real git, signed with the SSH key `keyFile`. */
async function signedCommit(gitdir: string, tree: string, parent: string, message: string, nowSec: number, keyFile: string): Promise<string> {
  const date = `${nowSec} +0000`;
  const r = await runGit(['commit-tree', tree, '-p', parent, '-S', '-F', '-'], {
    gitdir,
    input: message,
    config: { 'gpg.format': 'ssh', 'user.signingkey': keyFile, 'gpg.ssh.program': '/usr/bin/ssh-keygen' },
    env: {
      GIT_AUTHOR_NAME: GITCELL_AUTHOR.name, GIT_AUTHOR_EMAIL: GITCELL_AUTHOR.email, GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: GITCELL_AUTHOR.name, GIT_COMMITTER_EMAIL: GITCELL_AUTHOR.email, GIT_COMMITTER_DATE: date,
    },
  });
  if (r.code !== 0) throw new GitcellError(ErrorCodes.GitSign, `signing the revert commit with ${keyFile}: ${r.stderr.trim()}`, { keyFile });
  return r.stdout.trim();
}
