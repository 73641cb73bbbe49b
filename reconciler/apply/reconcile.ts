/**
 * reconcileRevision makes one Git revision the desired state (Flux kustomize-controller's Reconcile):
 * this outer function owns the final status, written at the end whatever happened (defer-style);
 * the phases (reconcile-phases.ts) each mark their condition and return a typed result or throw a
 * StalledError / AbortedError / anything retryable (reconcile-outcome.ts); status-writer.ts writes.
 *
 *   try   runPhases: read ─► validate ─► build ─► diff ─► apply ─► prune ─► health ─► succeeded()
 *   catch failed(err): Stalled (needs a human) | Failed, retry now (aborted) | Failed, retry in 5 s
 *   then  status phase: inventory + final status (finalStatus, pure) ─► event ─► ReconcileOutcome
 */
import { performance } from 'node:perf_hooks';
import type { AnyObject } from '../../api/index.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/index.ts';
import type { StoreRecord } from '../../store/index.ts';
import type { DesiredRecord, Plan } from '../diff/index.ts';
import type { Located } from './build.ts';
import { inventoryKey } from './keys.ts';
import { emit, type ReconcilerStore } from './store.ts';
import { emptySyncStatus, type HistoryEntry, type Inventory, type SyncStatus, type ValidationMessage } from './sync.ts';
import { SyncStatusWriter } from './status-writer.ts';
import { round, runPhases, type ReconcileRun } from './reconcile-phases.ts';
import { failed, finalStatus, isRetryable, isSuccess, RETRY_AFTER_MS, succeeded, type AppliedRevision, type Outcome } from './reconcile-outcome.ts';

export { STALLING_CODES } from './reconcile-outcome.ts';

/** ValidatedRevision is what the validate phase hands on: objects with their sources, or problems. */
export interface ValidatedRevision {
  objects: Located[];
  problems: ValidationMessage[];
}

/** ReconcileRevisionOptions configure one reconcile of one revision of one source. */
export interface ReconcileRevisionOptions<R> {
  store: ReconcilerStore;
  /** source names the sync record (`source.<name>`), e.g. the branch being followed. */
  source: string;
  /** revision is the commit being reconciled. */
  revision: string;
  /** read loads the revision's manifests (reconciler-git's source; errors there are retried). */
  read: () => Promise<R>;
  /** validate checks what read returned (the foundation's validator) and keeps the good objects. */
  validate: (read: R) => ValidatedRevision | Promise<ValidatedRevision>;
  /** generation of the source's configuration, reported as observedGeneration (default 1). */
  generation?: number;
  /** allowPruneAll lets a revision prune every object gitcell manages. */
  allowPruneAll?: boolean;
  /** term is the leader term of this reconciler (stamped on the status). */
  term?: number;
  /** aborting stops between phases and between writes; the status still records the attempt. */
  signal?: AbortSignal;
  /**
   * current lists the `desired` bucket for the diff phase (default: store.desired.list(), a full
   * read). A long-running reconciler can pass an informer's entries instead, which saves the read
   * on every commit; a stale entry is harmless, its compare-and-set write fails and the reconcile is
   * retried.
   */
  current?: () => Promise<StoreRecord<DesiredRecord>[]> | StoreRecord<DesiredRecord>[];
  /** hashCache is planDiff's per-object hash cache (see PlanOptions); pass one only for read-only objects. */
  hashCache?: WeakMap<AnyObject, string>;
  /** concurrency bounds in-flight store writes within one apply stage (default 256). */
  concurrency?: number;
  now?: () => number;
  log?: Logger;
}

/** ReconcileOutcome is the result of reconcileRevision. */
export interface ReconcileOutcome {
  status: SyncStatus;
  result: HistoryEntry['result'];
  plan?: Plan;
  /**
   * retryAfterMs is set for errors worth retrying (store unavailable, lost races, unreadable
   * source); absent for stalling errors (invalid revision, prune-all refusal) that need a human.
   */
  retryAfterMs?: number;
}

/** reconcileRevision makes `opts.revision` the desired state and always writes the source's final status, whatever a phase threw. */
export async function reconcileRevision<R>(opts: ReconcileRevisionOptions<R>): Promise<ReconcileOutcome> {
  const log = opts.log ?? createLogger('reconciler');
  const now = opts.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const run: ReconcileRun<R> = {
    opts, log, iso, phases: [],
    writer: new SyncStatusWriter({ store: opts.store, source: opts.source, iso, log, ...(opts.term !== undefined ? { term: opts.term } : {}) }),
  };
  const started = { at: iso(), t0: performance.now() };
  let outcome: Outcome;
  let applied: AppliedRevision | undefined;
  try {
    applied = await runPhases(run);
    outcome = succeeded(opts.revision, applied);
  } catch (err) {
    outcome = failed(err);
    // Store trouble or an unreadable source: nothing says the next attempt fails too.
    if (isRetryable(err)) log.warn({ err: errorMessage(err), revision: opts.revision }, 'reconciler: reconcile failed, will retry');
  }
  return writeFinalStatus(run, started, outcome, applied);
}

/** writeFinalStatus is the status phase: inventory and status side by side, then the event. */
async function writeFinalStatus<R>(run: ReconcileRun<R>, started: { at: string; t0: number }, outcome: Outcome, a: AppliedRevision | undefined): Promise<ReconcileOutcome> {
  const { opts, iso } = run;
  const statusStart = performance.now();
  const ok = isSuccess(outcome) && a !== undefined;
  const inventory: Inventory | undefined = ok ? { kind: 'Inventory', source: opts.source, revision: opts.revision, entries: inventoryOf(a.applied), updatedAt: iso() } : undefined;
  // Called at write time (again on a compare-and-set retry), so the durations include the write.
  const make = (s: SyncStatus): SyncStatus => finalStatus(s, {
    revision: opts.revision, generation: opts.generation ?? 1, outcome, ...(ok ? { applied: a.applied, inventory } : {}), now: iso(),
    entry: historyEntry(run, started, outcome, performance.now() - statusStart),
  });
  let status: SyncStatus;
  try {
    // The inventory and the status are separate keys: write them side by side.
    const [, written] = await Promise.all([inventory ? opts.store.sync.put(inventoryKey(opts.source), inventory) : undefined, run.writer.final(make)]);
    status = written;
  } catch (err) {
    run.log.error({ err: errorMessage(err), revision: opts.revision }, 'reconciler: could not write the sync status');
    status = make(emptySyncStatus(opts.source));
    outcome.retryAfterMs ??= RETRY_AFTER_MS;
  }
  await emit(opts.store, {
    type: ok ? 'Normal' : 'Warning',
    reason: ok ? (outcome.result === 'Applied' ? 'RevisionApplied' : 'RevisionUnchanged') : outcome.reason,
    object: { kind: 'Source', name: opts.source },
    message: outcome.message,
  }, run.log);
  return { status, result: outcome.result, ...(run.plan ? { plan: run.plan } : {}), ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}) };
}

/** historyEntry is this attempt as the status history keeps it, the status phase included. */
function historyEntry<R>(run: ReconcileRun<R>, started: { at: string; t0: number }, outcome: Outcome, statusMs: number): HistoryEntry {
  const { plan } = run;
  return {
    revision: run.opts.revision,
    result: outcome.result,
    message: outcome.message,
    startedAt: started.at,
    durationMs: round(performance.now() - started.t0),
    phases: [...run.phases, { phase: 'status', durationMs: round(statusMs) }],
    ...(plan && isSuccess(outcome) ? { counts: { created: plan.create.length, updated: plan.update.length, unchanged: plan.unchanged.length, pruned: plan.prune.length } } : {}),
  };
}

/** inventoryOf lists the objects applied from Git as `Kind/namespace/name@generation`, sorted. */
function inventoryOf(records: Map<string, DesiredRecord>): string[] {
  const out: string[] = [];
  for (const r of records.values()) if (r.origin.type === 'git') out.push(`${r.key}@${r.generation}`);
  return out.sort();
}
