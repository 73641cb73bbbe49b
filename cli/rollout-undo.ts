/**
 * `gitcell rollout undo JOB [--to-revision N]`: undo a rollout the GitOps way, by a revert commit
 * on the followed branch made by the reconciler's own revertCommit (same author, same message
 * shape and Gitcell-Reverts trailer, the same compare-and-set of the branch under git's ref lock,
 * the same push for a remote), so the reconciler applies it like any commit. Without
 * --to-revision it reverts the commit of the job's newest rollout; with it, every rollout commit
 * after revision N, newest first (whole commits, as the automatic rollback does).
 */
import * as fs from 'node:fs';
import { resolve } from 'node:path';
import git from 'isomorphic-git';
import { UsageError } from '../lib/errors.ts';
import { silentLogger } from '../lib/log.ts';
import { createRemoteSource, isRemoteRepo, resolveLocalRepo, type GitAuth } from '../reconciler/index.ts';
import { revertCommit, revertMessage, type RevertRemote, type RevertResult } from '../reconciler/git/index.ts';
import { DEFAULT_STATE_DIR } from '../store/index.ts';
import type { RolloutHistoryEntry } from './commands/rollout.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** UndoOptions: where the repository is and which rollouts to undo. */
export interface UndoOptions {
  repo: string;
  branch?: string;
  stateDir?: string;
  credentialsFile?: string;
  /** auth of a remote (SSH deploy key and known_hosts); credentialsFile adds HTTP credentials. */
  auth?: GitAuth;
  /** signingKey: the cluster's SSH signing key, so the revert is signed as the automatic one is. */
  signingKey?: string;
  /** undo back to this revision of the rollout history (1-based); default: the previous one */
  toRevision?: number;
}

/** DEFAULT_SIGNING_KEY is where the reconciler keeps the cluster's signing key, under its state dir. */
const DEFAULT_SIGNING_KEY = ['git-signing', 'id_ed25519'] as const;

/**
 * clusterSigningKey is the key `rollout undo` signs with: `flag` (which must exist), else the
 * reconciler's default key under the state dir when there is one, else none (an unsigned revert).
 */
export function clusterSigningKey(flag: string | undefined, stateDir: string | undefined): string | undefined {
  if (flag !== undefined) {
    const file = resolve(flag);
    if (!fs.existsSync(file)) throw new UsageError(ErrorCodes.Usage, `--signing-key ${flag}: no such file`, { flag: '--signing-key' });
    return file;
  }
  const fallback = resolve(stateDir ?? DEFAULT_STATE_DIR, ...DEFAULT_SIGNING_KEY);
  return fs.existsSync(fallback) ? fallback : undefined;
}

/** commitsToRevert picks the commits to revert from a job's rollout history, newest first. Pure. */
export function commitsToRevert(history: readonly RolloutHistoryEntry[], toRevision?: number): string[] {
  if (!history.length) throw new UsageError(ErrorCodes.NothingToUndo, 'no rollout of this job is recorded: nothing to undo', {});
  const target = toRevision ?? history.length - 1;
  if (!Number.isInteger(target) || target < 1 || target > history.length) {
    throw new UsageError(ErrorCodes.Usage, `--to-revision ${toRevision}: expected a revision from 1 to ${history.length} (see \`gitcell rollout history\`)`, { flag: '--to-revision' });
  }
  if (target === history.length) throw new UsageError(ErrorCodes.NothingToUndo, `revision ${target} is the current one: nothing to undo`, {});
  const keep = new Set(history.slice(0, target).map((e) => e.commit));
  const out: string[] = [];
  for (const e of history.slice(target).reverse()) if (e.commit && !keep.has(e.commit) && !out.includes(e.commit)) out.push(e.commit);
  return out;
}

/** UndoResult: one revert per commit, in the order made. */
export type UndoResult = { commit: string; result: RevertResult }[];

/** undoRollouts commits the reverts of `commits` (newest first) on the branch; stops at the first that cannot be made. */
export async function undoRollouts(opts: UndoOptions, commits: readonly string[], what: string): Promise<UndoResult> {
  let target: { gitdir: string; dir?: string; branch: string; trackingRef: string; remote?: RevertRemote };
  if (isRemoteRepo(opts.repo)) {
    const branch = opts.branch ?? 'main';
    const src = createRemoteSource(
      { repo: opts.repo, branch, ...(opts.stateDir ? { stateDir: opts.stateDir } : {}), ...(opts.credentialsFile ? { credentialsFile: opts.credentialsFile } : {}), ...(opts.auth ? { auth: opts.auth } : {}) },
      silentLogger(),
    );
    await src.refresh();
    target = { gitdir: src.gitdir, branch, trackingRef: src.trackingRef, remote: { url: opts.repo, ...(src.auth ? { auth: src.auth } : {}), ...(src.transportLimits ? { limits: src.transportLimits } : {}) } };
  } else {
    const { gitdir, dir } = resolveLocalRepo(opts.repo);
    const branch = opts.branch ?? (await git.currentBranch({ fs, gitdir })) ?? 'main';
    target = { gitdir, ...(dir ? { dir } : {}), branch, trackingRef: `refs/heads/${branch}` };
  }
  const out: UndoResult = [];
  for (const commit of commits) {
    const result = await revertCommit({
      gitdir: target.gitdir,
      branch: target.branch,
      trackingRef: target.trackingRef,
      commit,
      message: (subject) => revertMessage(commit, subject, []).replace(/\n\n/, `\n\n\`gitcell rollout undo\` of ${what}.\n\n`),
      ...(target.remote ? { remote: target.remote } : {}),
      ...(target.dir ? { dir: target.dir } : {}),
      ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
    });
    out.push({ commit, result });
    if (result.outcome !== 'reverted' && result.outcome !== 'nothing-to-revert') break;
  }
  return out;
}
