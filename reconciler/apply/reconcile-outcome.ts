/**
 * How a reconcile of a revision ends, pure: the error taxonomy the phases throw (Flux's
 * kustomize-controller: a stalling error needs a human and is not retried; anything else is retried),
 * the outcome each ending becomes, and the final SyncStatus written from it.
 *
 *   StalledError  the revision itself is wrong (invalid, unbuildable, prunes everything): Stalled, no retry
 *   STALLING_CODES a source error no retry cures (object too large, untrusted commit): Stalled, no retry
 *   AbortedError  shutdown or lost leadership, not the revision's fault: Failed, whoever runs next retries at once
 *   anything else store trouble, an unreadable source: Failed, retried after RETRY_AFTER_MS
 */
import { errorMessage, isGitcellError, ErrorCodes, ReconcileError } from '../../lib/index.ts';
import type { DesiredRecord, Plan } from '../diff/index.ts';
import { pushHistory, resolveFailedRollouts, setCondition, type HistoryEntry, type Inventory, type SyncStatus, type ValidationMessage } from './sync.ts';

/**
 * STALLING_CODES are errors thrown while reading a revision that no retry can cure (an object over
 * its size limit, an untrusted commit): trying again reads the same bytes, so the revision is
 * Stalled with the error's message and the last good revision keeps running.
 */
export const STALLING_CODES: ReadonlySet<string> = new Set([ErrorCodes.GitObjectTooLarge, ErrorCodes.UntrustedCommit]);

/** RETRY_AFTER_MS is how long a retryable failure waits before the next attempt. */
export const RETRY_AFTER_MS = 5_000;

/** StalledError (E_STALLED): the revision cannot be applied as it is; a new commit (a human) must fix it. */
export class StalledError extends ReconcileError {
  constructor(readonly reason: 'ValidationFailed' | 'BuildFailed' | 'PruneAllRefused', message: string, readonly problems: ValidationMessage[] = []) {
    super(ErrorCodes.Stalled, message, { reason });
    this.name = 'StalledError';
  }
}

/** AbortedError (E_ABORTED): the reconcile was told to stop (shutdown, lost leadership) between phases or writes. */
export class AbortedError extends ReconcileError {
  readonly reason = 'Aborted';
  constructor(message: string) {
    super(ErrorCodes.Aborted, message);
    this.name = 'AbortedError';
  }
}

/** Outcome is how one reconcile ended, before it is written down. */
export interface Outcome {
  result: HistoryEntry['result'];
  /** the condition reason (ReconciliationSucceeded, a StalledError reason, Aborted, an error code) */
  reason: string;
  message: string;
  problems?: ValidationMessage[];
  /** set for endings worth retrying; absent for a stall */
  retryAfterMs?: number;
}

/** AppliedRevision is what the phases hand to the status when they all succeeded. */
export interface AppliedRevision {
  plan: Plan;
  /** every desired record of the cluster after apply and prune, by object key */
  applied: Map<string, DesiredRecord>;
  /** the health phase's summary */
  health: string;
}

/** succeeded is the outcome of a reconcile whose phases all ran. */
export function succeeded(revision: string, a: AppliedRevision): Outcome {
  const { plan } = a;
  const changes = plan.create.length + plan.update.length + plan.prune.length;
  return {
    result: changes === 0 ? 'Unchanged' : 'Applied',
    reason: 'ReconciliationSucceeded',
    message: `applied revision ${short(revision)}: ${plan.create.length} created, ${plan.update.length} updated, ${plan.prune.length} pruned, ${plan.unchanged.length} unchanged; ${a.health}`,
  };
}

/** failed classifies what a phase threw: a StalledError or stalling code stalls, an AbortedError retries at once, the rest retry after RETRY_AFTER_MS. */
export function failed(err: unknown): Outcome {
  if (err instanceof AbortedError) return { result: 'Failed', reason: err.reason, message: err.message, retryAfterMs: 0 };
  if (err instanceof StalledError) return { result: 'Stalled', reason: err.reason, message: err.message, problems: err.problems };
  if (isGitcellError(err) && STALLING_CODES.has(err.code)) return { result: 'Stalled', reason: err.code, message: errorMessage(err) };
  return { result: 'Failed', reason: isGitcellError(err) ? err.code : 'ReconcileError', message: errorMessage(err), retryAfterMs: RETRY_AFTER_MS };
}

/** isRetryable tells a failure worth retrying later (neither a stall nor an abort). */
export function isRetryable(err: unknown): boolean {
  return !(err instanceof StalledError) && !(err instanceof AbortedError) && !(isGitcellError(err) && STALLING_CODES.has(err.code));
}

/** isSuccess tells an applied (or unchanged) revision from a stalled or failed one. */
export function isSuccess(o: Outcome): boolean {
  return o.result === 'Applied' || o.result === 'Unchanged';
}

/** FinalStatusInput is everything the final status is made of. */
export interface FinalStatusInput {
  revision: string;
  generation: number;
  outcome: Outcome;
  /** set on success only */
  applied?: Map<string, DesiredRecord>;
  inventory?: Inventory;
  /** the history entry of this attempt, phase durations included */
  entry: HistoryEntry;
  /** ISO time of the conditions */
  now: string;
}

/**
 * finalStatus is the status a reconcile leaves, pure: observedGeneration and lastAttemptedRevision
 * always; lastAppliedRevision, the inventory count and resolved rollouts on success; the problems
 * of a stall; Reconciling False, Ready and Stalled conditions; the attempt on top of the history.
 */
export function finalStatus(s: SyncStatus, f: FinalStatusInput): SyncStatus {
  const { outcome } = f;
  const ok = isSuccess(outcome);
  let next: SyncStatus = { ...s, observedGeneration: f.generation, lastAttemptedRevision: f.revision };
  delete next.phase;
  if (ok && f.applied && f.inventory) {
    next.lastAppliedRevision = f.revision;
    next.inventoryCount = f.inventory.entries.length;
    delete next.problems;
    const gen = new Map([...f.applied.values()].map((r) => [r.key, r.generation]));
    next = resolveFailedRollouts(next, (kind, ns, name) => gen.get(`${kind}/${ns}/${name}`));
  } else if (outcome.problems?.length) {
    next.problems = outcome.problems;
  }
  const stalled = outcome.result === 'Stalled';
  next.conditions = setCondition(next.conditions, { type: 'Reconciling', status: 'False', reason: outcome.reason, message: outcome.message }, f.now);
  next.conditions = setCondition(next.conditions, { type: 'Ready', status: ok ? 'True' : 'False', reason: outcome.reason, message: outcome.message }, f.now);
  next.conditions = setCondition(next.conditions, { type: 'Stalled', status: stalled ? 'True' : 'False', reason: stalled ? outcome.reason : 'NotStalled', message: stalled ? outcome.message : '' }, f.now);
  next.history = pushHistory(s.history, f.entry);
  return next;
}

/** summarize lists the first three problems of a revision, for a condition message. */
export function summarize(problems: readonly ValidationMessage[]): string {
  const first = problems.slice(0, 3).map((p) => `${p.file}:${p.line}: ${p.message}`);
  return `${problems.length} problem${problems.length === 1 ? '' : 's'}: ${first.join('; ')}${problems.length > 3 ? '; ...' : ''}`;
}

/** short is a revision as messages show it (12 characters). */
export function short(revision: string): string {
  return revision.slice(0, 12);
}
