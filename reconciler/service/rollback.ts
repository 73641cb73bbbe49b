import * as fs from 'node:fs';
import git from 'isomorphic-git';
import type { RolloutResult } from '../../api/index.ts';
import { DEFAULT_NAMESPACE } from '../../api/index.ts';
import { errorMessage, type Logger } from '../../lib/index.ts';
import { desiredStoreKey, emit, emptySyncStatus, setCondition, sourceStatusKey, type ReconcilerStore, type SyncStatus } from '../apply/index.ts';
import { decideAutoRollback, readRepoSettings, revertCommit, revertMessage, revertedCommitOf, revertBranchOf, type RevertRemote, type RevertResult, type RollbackFlag } from '../git/index.ts';
import type { Source } from '../source/index.ts';

/** RollbackContext is what the rollback step needs: the store, the source, a name for the status. */
export interface RollbackContext {
  store: ReconcilerStore;
  source: Source;
  sourceName: string;
  /** valid tells whether this replica still leads (checked before writing to Git). */
  valid: () => boolean;
  log: Logger;
  /** signingKey signs the revert commits (the cluster's SSH key, in the allowed list of a verifying reconciler). */
  signingKey?: string;
  /** autoRollback: the reconciler's --auto-rollback (revert: the repository decides; branch; off). */
  autoRollback?: RollbackFlag;
}

/** RollbackOutcome is what happened to the failed rollouts of one commit. */
export type RollbackOutcome = RevertResult | { outcome: 'disabled'; reason: string } | { outcome: 'already-reverted'; by: string };

/** rolloutId identifies one failed rollout (a commit, an object, its generation): handled once. */
export function rolloutId(r: RolloutResult): string {
  return `${r.revision}:${r.object.kind}/${r.object.namespace}/${r.object.name}@${r.generation}`;
}

/** groupByRevision gathers failed rollouts per commit: one revert undoes a commit's every failure. Pure. */
export function groupByRevision(rollouts: readonly RolloutResult[]): Map<string, RolloutResult[]> {
  const out = new Map<string, RolloutResult[]>();
  for (const r of rollouts) out.set(r.revision, [...(out.get(r.revision) ?? []), r]);
  return out;
}

/**
 * findRevertOf looks down the branch from its tip to `commit` for a commit that reverts it
 * (gitcell's trailer or git's "This reverts commit" line), so a replica that took over, or a
 * user who reverted by hand, never causes a second revert.
 */
export async function findRevertOf(gitdir: string, ref: string, commit: string): Promise<string | undefined> {
  const log = await git.log({ fs, gitdir, ref, depth: 200 });
  for (const entry of log) {
    if (entry.oid === commit) return undefined;
    if (revertedCommitOf(entry.commit.message) === commit) return entry.oid;
  }
  return undefined;
}

/**
 * rollBack reverts commit `revision` because `rollouts` failed, unless auto-rollback is off (the
 * repository's .gitcell.yaml or an object's annotation) or it is reverted already. A conflicting
 * revert, or rollback being off, holds the cluster where it is and marks the source Stalled with
 * the reason: a human must decide. Every outcome is an event.
 */
export async function rollBack(ctx: RollbackContext, revision: string, rollouts: RolloutResult[]): Promise<RollbackOutcome> {
  const { source, store, log } = ctx;
  const objects = await Promise.all(
    rollouts.map(async (r) => {
      const key = `${r.object.kind}/${r.object.namespace ?? DEFAULT_NAMESPACE}/${r.object.name}`;
      const rec = await store.desired.get(desiredStoreKey(key)).catch(() => undefined);
      return { key, annotations: rec?.value.object.metadata.annotations ?? {} };
    }),
  );
  const what = rollouts.map((r) => `${r.object.kind} ${r.object.namespace}/${r.object.name}`).join(', ');
  let outcome: RollbackOutcome;
  const settings = await readRepoSettings({ gitdir: source.gitdir, commit: revision, subPath: source.subPath }).catch((err) => {
    log.warn({ err: errorMessage(err) }, 'rollback: unreadable settings, keeping the default (on)');
    return { autoRollback: true };
  });
  const decision = decideAutoRollback(settings, objects, ctx.autoRollback);
  const by = decision.revert ? await findRevertOf(source.gitdir, source.trackingRef, revision) : undefined;
  if (!decision.revert) outcome = { outcome: 'disabled', reason: decision.reason };
  else if (by) outcome = { outcome: 'already-reverted', by };
  else if (!ctx.valid()) return { outcome: 'disabled', reason: 'no longer the leader' };
  else {
    outcome = await revertCommit({
      gitdir: source.gitdir,
      branch: source.branch,
      trackingRef: source.trackingRef,
      commit: revision,
      message: (subject) => revertMessage(revision, subject, rollouts),
      ...(source.remoteUrl ? { remote: remoteOf(source, source.remoteUrl) } : {}),
      ...(source.dir ? { dir: source.dir } : {}),
      ...(ctx.signingKey ? { signingKey: ctx.signingKey } : {}),
      // Protected branch: the revert goes to a branch of its own, for the team to merge.
      ...(decision.to === 'branch' ? { targetBranch: revertBranchOf(revision) } : {}),
    });
  }
  await report(ctx, revision, what, outcome);
  return outcome;
}

/** report says what rollBack did: an event for each outcome, the source Stalled while the cluster holds. */
async function report(ctx: RollbackContext, revision: string, what: string, outcome: RollbackOutcome): Promise<void> {
  const { source, store, log } = ctx;
  const short = revision.slice(0, 12);
  const object = { kind: 'Source', name: ctx.sourceName };
  switch (outcome.outcome) {
    case 'reverted':
      if (outcome.branch) {
        // The followed branch is left alone: the cluster holds until the team merges the revert.
        const message = `rollout of ${what} at ${short} failed; holding at the last good revision: revert ${outcome.sha.slice(0, 12)} committed on branch ${outcome.branch}${outcome.pushed ? ' (pushed)' : ''}, merge it into ${source.branch} to roll back`;
        log.warn({ revision, revert: outcome.sha, branch: outcome.branch }, `rollback: ${message}`);
        await markStalled(ctx, 'RevertProposed', message);
        await emit(store, { type: 'Warning', reason: 'RevertProposed', object, message }, log);
        break;
      }
      log.info({ revision, revert: outcome.sha, pushed: outcome.pushed }, 'rollback: committed a revert');
      await emit(store, { type: 'Normal', reason: 'RolledBack', object, message: `rollout of ${what} at ${short} failed: committed revert ${outcome.sha.slice(0, 12)} on ${source.branch}${outcome.pushed ? ' and pushed it' : ''}` }, log);
      await source.refresh().catch(() => undefined);
      break;
    case 'conflict':
    case 'disabled': {
      const reason = outcome.outcome === 'conflict' ? 'RevertConflict' : 'RollbackDisabled';
      const message = `rollout of ${what} at ${short} failed; holding at the last good revision: ${outcome.outcome === 'conflict' ? outcome.message : outcome.reason}`;
      log.warn({ revision }, `rollback: ${message}`);
      await markStalled(ctx, reason, message);
      await emit(store, { type: 'Warning', reason, object, message }, log);
      break;
    }
    case 'already-proposed':
      await markStalled(ctx, 'RevertProposed', `rollout of ${what} at ${short} failed; holding at the last good revision: a revert is proposed on branch ${outcome.branch}, merge it into ${source.branch} to roll back`);
      break;
    default:
      log.info({ revision, outcome }, 'rollback: nothing to commit');
  }
}

/** remoteOf is where a remote source's revert is pushed: its URL, with its own auth and limits. */
function remoteOf(source: Source, url: string): RevertRemote {
  return { url, ...(source.auth ? { auth: source.auth } : {}), ...(source.transportLimits ? { limits: source.transportLimits } : {}) };
}

async function markStalled(ctx: RollbackContext, reason: string, message: string): Promise<void> {
  try {
    await ctx.store.sync.updateWithRetry(sourceStatusKey(ctx.sourceName), (cur) => {
      const s = cur && (cur as SyncStatus).kind === 'SyncStatus' ? (cur as SyncStatus) : emptySyncStatus(ctx.sourceName);
      const now = new Date().toISOString();
      return { ...s, conditions: setCondition(s.conditions, { type: 'Stalled', status: 'True', reason, message }, now), updatedAt: now };
    });
  } catch (err) {
    ctx.log.warn({ err: errorMessage(err) }, 'rollback: could not mark the source Stalled');
  }
}
