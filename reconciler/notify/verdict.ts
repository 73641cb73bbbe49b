/**
 * What to tell a forge about one commit, from what the store says about it: pending once the
 * reconciler has seen it, success once it is applied and every workload it changed has rolled out,
 * failure with the reason when it was refused or its rollout failed (with the revert that undid it).
 * Pure: the notifier gathers the facts and sends what this decides.
 */
import type { ClusterEvent } from '../../api/index.ts';
import { workloadVerdict, type WorkloadStatus } from '../controllers/index.ts';
import type { SyncStatus } from '../apply/index.ts';

/** CommitState is a commit status as every forge has it (GitLab says "failed", mapped at the edge). */
export type CommitState = 'pending' | 'success' | 'failure';

/** CommitStatusVerdict is one commit's status, with the revert commit when one undid it. */
export interface CommitStatusVerdict {
  revision: string;
  state: CommitState;
  description: string;
  /** the revert commit (full or abbreviated sha) when the failure was rolled back */
  revert?: string;
}

/** ChangedWorkload is a Job or DaemonSet whose desired record the commit changed, with its status. */
export interface ChangedWorkload {
  kind: 'Job' | 'DaemonSet';
  namespace: string;
  name: string;
  generation: number;
  type: 'service' | 'batch' | 'daemon';
  status?: WorkloadStatus;
}

/** CommitFacts is what the store says about one commit. */
export interface CommitFacts {
  revision: string;
  source: SyncStatus;
  /** the workloads the commit changed, when it is the applied revision (undefined: not gathered) */
  changed?: ChangedWorkload[];
  /** the source's rollback events (RolledBack, RevertConflict, RollbackDisabled), any commit */
  rollbacks: readonly ClusterEvent[];
  /** the revert commit found in Git for this commit, if any (gitcell reverts only failed rollouts) */
  revert?: string;
}

const short = (sha: string) => sha.slice(0, 12);

/** ROLLBACK_REASONS are the source events that end a failed rollout (rollback.ts). */
export const ROLLBACK_REASONS = ['RolledBack', 'RevertConflict', 'RollbackDisabled'] as const;

/** revertOfEvent reads the revert's abbreviated sha from a RolledBack event's message. */
function revertOfEvent(e: ClusterEvent): string | undefined {
  return /committed revert ([0-9a-f]{7,40})/.exec(e.message)?.[1];
}

/**
 * judgeCommit decides one commit's status; undefined when the reconciler has not seen it. Failures
 * come first (a rollback event or a failed rollout is final whatever else the status says).
 */
export function judgeCommit(f: CommitFacts): CommitStatusVerdict | undefined {
  const { revision, source: s } = f;
  const failed = s.failedRollouts.filter((r) => r.revision === revision);
  const rollback = f.rollbacks.find((e) => (ROLLBACK_REASONS as readonly string[]).includes(e.reason) && e.message.includes(` at ${short(revision)}`));
  if (failed.length || rollback || f.revert) {
    const revert = f.revert ?? (rollback ? revertOfEvent(rollback) : undefined);
    const what = failed.length
      ? `: ${failed.map((r) => `${r.object.kind} ${r.object.namespace}/${r.object.name}: ${r.reason}: ${r.message}`).join('; ')}`
      : rollback ? `: ${rollback.message}` : '';
    // What became of it first: forges cut descriptions short (GitHub at 140 characters).
    const after = revert ? `, reverted by ${short(revert)}` : rollback && rollback.reason !== 'RolledBack' ? `, ${rollback.reason}` : '';
    return { revision, state: 'failure', description: `rollout failed${after}${what}`, ...(revert ? { revert } : {}) };
  }
  const entry = s.history.find((h) => h.revision === revision);
  if (s.lastAppliedRevision === revision) return judgeApplied(f);
  if (entry && (entry.result === 'Applied' || entry.result === 'Unchanged')) {
    // Applied once, since superseded by a newer commit before this verdict was asked for.
    return { revision, state: 'success', description: `applied; superseded by ${short(s.lastAppliedRevision ?? s.lastAttemptedRevision ?? '')}` };
  }
  if (s.lastAttemptedRevision !== revision) return undefined;
  if (entry?.result === 'Stalled' && !s.phase) return { revision, state: 'failure', description: `not applied: ${entry.message}` };
  if (entry?.result === 'Failed' && !s.phase) return { revision, state: 'pending', description: `retrying: ${entry.message}` };
  return { revision, state: 'pending', description: 'reconciling' };
}

function judgeApplied(f: CommitFacts): CommitStatusVerdict {
  const { revision } = f;
  if (f.changed === undefined) return { revision, state: 'pending', description: 'applied; rolling out' };
  if (f.changed.length === 0) return { revision, state: 'success', description: 'applied; no workload changed' };
  const verdicts = f.changed.map((w) => ({ w, v: rolledOut(w) }));
  const bad = verdicts.find((x) => x.v.state === 'failed');
  if (bad) return { revision, state: 'failure', description: `${bad.w.kind} ${bad.w.namespace}/${bad.w.name}: ${bad.v.message}` };
  const waiting = verdicts.filter((x) => x.v.state === 'waiting');
  if (waiting.length === 0) return { revision, state: 'success', description: `applied and rolled out (${f.changed.length} workload${f.changed.length === 1 ? '' : 's'})` };
  // Coarse on purpose: a forge keeps every status posted (GitHub at most 1,000 per commit and
  // context), so pending names what is rolling out, not each task's progress.
  const names = waiting.map((x) => `${x.w.kind} ${x.w.namespace}/${x.w.name}`);
  return { revision, state: 'pending', description: `applied; rolling out ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}` };
}

/** rolledOut: a service or daemon once its rollout completes; a batch job once its tasks are out (it may run for hours). */
function rolledOut(w: ChangedWorkload): ReturnType<typeof workloadVerdict> {
  const v = workloadVerdict(w.status, w.generation, w.type);
  if (w.type === 'batch' && v.state === 'waiting' && w.status && w.status.observedGeneration >= w.generation) return { state: 'complete', message: `started: ${v.message}` };
  return v;
}
