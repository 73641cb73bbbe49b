import { performance } from 'node:perf_hooks';
import { DEFAULT_NAMESPACE, type AnyObject } from '../../api/index.ts';
import { createLogger, errorMessage, isGitcellError, mapLimit, type Logger } from '../../lib/index.ts';
import { StoreErrorCodes, type StoreRecord } from '../../store/index.ts';
import { nextDesiredRecord, planDiff, planIsEmpty, type DesiredRecord, type Plan } from '../diff/index.ts';
import type { WorkloadStatus } from '../controllers/index.ts';
import { buildDesired, type Located } from './build.ts';
import { desiredStoreKey, inventoryKey, objectStatusKey, sourceStatusKey } from './keys.ts';
import { emit, type ReconcilerStore, type SyncRecord } from './store.ts';
import {
  emptySyncStatus,
  pushHistory,
  resolveFailedRollouts,
  setCondition,
  type HistoryEntry,
  type Inventory,
  type Phase,
  type SyncStatus,
  type ValidationMessage,
} from './sync.ts';

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
   * read). A long-running reconciler can pass a store Informer's entries instead, which saves the read
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

/**
 * STALLING_CODES are errors thrown while reading a revision that no retry can cure: the revision is
 * Stalled with the error's message instead of failed and retried.
 */
export const STALLING_CODES: ReadonlySet<string> = new Set(['E_GIT_OBJECT_TOO_LARGE', 'E_UNTRUSTED_COMMIT']);

/** Stalled ends a reconcile that needs a human (an invalid revision, a refused prune-all): not retried. */
class Stalled extends Error {
  constructor(readonly reason: string, message: string, readonly problems: ValidationMessage[] = []) {
    super(message);
  }
}

/** Aborted ends a reconcile stopped from outside (shutdown, lost leadership): not the revision's fault. */
class Aborted extends Error {
  readonly reason = 'Aborted';
}

/**
 * reconcileRevision makes one Git revision the desired state, in explicit phases (Flux's
 * kustomize-controller): read -> validate -> build -> diff -> apply -> prune -> health -> status.
 * Before each phase the source's SyncStatus gets a `Reconciling` condition saying what is going on;
 * at the end the status is always written: lastAttemptedRevision, lastAppliedRevision (on success
 * only), observedGeneration, Ready/Reconciling/Stalled, the per-object inventory and a short
 * history with phase durations. An invalid revision (validation or build problems, or a prune of
 * everything) applies nothing and is Stalled with its problems: the last good revision keeps
 * running. Writes are compare-and-set on the revision read in the diff phase, stage by stage
 * (CRDs, Secrets, workloads; prune in reverse), so a concurrent writer is detected, never overwritten.
 */
export async function reconcileRevision<R>(opts: ReconcileRevisionOptions<R>): Promise<ReconcileOutcome> {
  const log = opts.log ?? createLogger('reconciler');
  const now = opts.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const { store, revision } = opts;
  const statusKey = sourceStatusKey(opts.source);
  const startedAt = iso();
  const t0 = performance.now();
  const phases: HistoryEntry['phases'] = [];
  const generation = opts.generation ?? 1;

  // The status record as this reconcile last wrote it: the next write compare-and-sets against it
  // directly (one round trip); only when someone else wrote in between does it fall back to
  // updateWithRetry's read-modify-write. Either way a concurrent writer is never overwritten.
  let last: StoreRecord<SyncRecord> | undefined;
  const stamp = (cur: SyncRecord | undefined, fn: (s: SyncStatus) => SyncStatus): SyncStatus => {
    const base = cur && (cur as SyncStatus).kind === 'SyncStatus' ? (cur as SyncStatus) : emptySyncStatus(opts.source);
    return { ...fn(base), updatedAt: iso(), ...(opts.term !== undefined ? { term: opts.term } : {}) };
  };
  const writeStatus = async (fn: (s: SyncStatus) => SyncStatus): Promise<StoreRecord<SyncRecord> | undefined> => {
    if (last) {
      const next = stamp(last.value, fn);
      try {
        last = { key: statusKey, value: next, revision: await store.sync.update(statusKey, next, last.revision) };
        return last;
      } catch (err) {
        if (!isGitcellError(err, StoreErrorCodes.Conflict)) throw err;
      }
    }
    last = await store.sync.updateWithRetry(statusKey, (cur) => stamp(cur, fn));
    return last;
  };
  // Progress writes are pipelined: each is queued behind the previous one (so they land in phase
  // order) while the phase itself runs at once, instead of a store round trip before every phase.
  // The final status write waits for this chain, so a progress write can never land after it.
  let progressChain: Promise<void> = Promise.resolve();
  const progress = (phase: Phase, message: string) => {
    if (opts.signal?.aborted) throw new Aborted(`reconcile of ${short(revision)} aborted before ${phase}`);
    progressChain = progressChain.then(async () => {
      try {
        await writeStatus((s) => ({
          ...s,
          phase,
          lastAttemptedRevision: revision,
          conditions: setCondition(s.conditions, { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `${phase}: ${message}` }, iso()),
        }));
      } catch (err) {
        // Progress is informative; the final status write is the one that must happen.
        log.warn({ err: errorMessage(err), phase }, 'reconciler: could not write progress');
      }
    });
  };
  const run = async <T>(phase: Phase, message: string, fn: () => Promise<T> | T): Promise<T> => {
    progress(phase, message);
    const start = performance.now();
    try {
      return await fn();
    } finally {
      phases.push({ phase, durationMs: round(performance.now() - start) });
    }
  };

  let plan: Plan | undefined;
  let applied: Map<string, DesiredRecord> | undefined;
  let outcome: { result: HistoryEntry['result']; reason: string; message: string; problems?: ValidationMessage[]; retryAfterMs?: number };
  try {
    const read = await run('read', `reading manifests at ${short(revision)}`, opts.read);
    const validated = await run('validate', 'validating manifests', () => opts.validate(read));
    if (validated.problems.length) throw new Stalled('ValidationFailed', summarize(validated.problems), validated.problems);
    const built = await run('build', `building ${validated.objects.length} objects`, () => buildDesired(validated.objects));
    if (built.problems.length) throw new Stalled('BuildFailed', summarize(built.problems), built.problems);

    // The plan (hashing every object) is part of the diff phase's time, not hidden between phases.
    const { current, diffed } = await run('diff', 'comparing with the cluster', async () => {
      const recs = await (opts.current ? opts.current() : store.desired.list());
      return { current: recs, diffed: planDiff(built.objects, recs.map((r) => r.value), { allowPruneAll: opts.allowPruneAll ?? false, ...(opts.hashCache ? { hashCache: opts.hashCache } : {}) }) };
    });
    plan = diffed;
    const byKey = new Map(current.map((r) => [r.value.key, r]));
    if (plan.refused) throw new Stalled('PruneAllRefused', plan.refused.message);

    const changes = plan.create.length + plan.update.length;
    const written = await run('apply', `applying ${plan.create.length} new and ${plan.update.length} changed objects`, () => applyStages(opts, plan!, byKey, iso()));
    await run('prune', `pruning ${plan.prune.length} objects`, () => pruneObjects(opts, plan!, byKey));

    applied = new Map(current.map((r) => [r.value.key, r.value]));
    for (const p of plan.prune) applied.delete(p.key);
    for (const rec of written) applied.set(rec.key, rec);
    const health = await run('health', 'checking workload health', () => checkHealth(store, applied!));
    const counts = { created: plan.create.length, updated: plan.update.length, unchanged: plan.unchanged.length, pruned: plan.prune.length };
    outcome = {
      result: changes + plan.prune.length === 0 ? 'Unchanged' : 'Applied',
      reason: 'ReconciliationSucceeded',
      message: `applied revision ${short(revision)}: ${counts.created} created, ${counts.updated} updated, ${counts.pruned} pruned, ${counts.unchanged} unchanged; ${health}`,
    };
  } catch (err) {
    if (err instanceof Aborted) {
      // Shutdown or lost leadership: not the revision's fault; whoever runs next tries again.
      outcome = { result: 'Failed', reason: err.reason, message: err.message, retryAfterMs: 0 };
    } else if (err instanceof Stalled) {
      outcome = { result: 'Stalled', reason: err.reason, message: err.message, problems: err.problems };
    } else if (isGitcellError(err) && STALLING_CODES.has(err.code)) {
      // The revision itself is refused (an object over its size limit, an untrusted commit): trying
      // again reads the same bytes, so a human must act; the last good revision keeps running.
      outcome = { result: 'Stalled', reason: err.code, message: errorMessage(err) };
    } else {
      // Store trouble or an unreadable source: nothing says the next attempt fails too.
      outcome = { result: 'Failed', reason: isGitcellError(err) ? err.code : 'ReconcileError', message: errorMessage(err), retryAfterMs: 5_000 };
      log.warn({ err: errorMessage(err), revision }, 'reconciler: reconcile failed, will retry');
    }
  }

  // status: always written, success or failure.
  const statusStart = performance.now();
  const entry: HistoryEntry = {
    revision,
    result: outcome.result,
    message: outcome.message,
    startedAt,
    durationMs: 0,
    phases,
    ...(plan && !plan.refused && (outcome.result === 'Applied' || outcome.result === 'Unchanged')
      ? { counts: { created: plan.create.length, updated: plan.update.length, unchanged: plan.unchanged.length, pruned: plan.prune.length } }
      : {}),
  };
  const ok = outcome.result === 'Applied' || outcome.result === 'Unchanged';
  const finalize = (s: SyncStatus): SyncStatus => {
    const t = iso();
    let next: SyncStatus = { ...s, observedGeneration: generation, lastAttemptedRevision: revision };
    delete next.phase;
    if (ok && applied && inventory) {
      next.lastAppliedRevision = revision;
      next.inventoryCount = inventory.entries.length;
      delete next.problems;
      const gen = new Map([...applied.values()].map((r) => [r.key, r.generation]));
      next = resolveFailedRollouts(next, (kind, ns, name) => gen.get(`${kind}/${ns}/${name}`));
    } else if (outcome.problems?.length) {
      next.problems = outcome.problems;
    }
    next.conditions = setCondition(next.conditions, { type: 'Reconciling', status: 'False', reason: outcome.reason, message: outcome.message }, t);
    next.conditions = setCondition(next.conditions, { type: 'Ready', status: ok ? 'True' : 'False', reason: outcome.reason, message: outcome.message }, t);
    next.conditions = setCondition(
      next.conditions,
      { type: 'Stalled', status: outcome.result === 'Stalled' ? 'True' : 'False', reason: outcome.result === 'Stalled' ? outcome.reason : 'NotStalled', message: outcome.result === 'Stalled' ? outcome.message : '' },
      t,
    );
    entry.durationMs = round(performance.now() - t0);
    next.history = pushHistory(s.history, { ...entry, phases: [...phases, { phase: 'status', durationMs: round(performance.now() - statusStart) }] });
    return next;
  };
  const inventory: Inventory | undefined = ok && applied ? { kind: 'Inventory', source: opts.source, revision, entries: inventoryOf(applied), updatedAt: iso() } : undefined;
  let status: SyncStatus;
  try {
    await progressChain;
    // The inventory and the status are separate keys: write them side by side.
    const [, rec] = await Promise.all([inventory ? store.sync.put(inventoryKey(opts.source), inventory) : undefined, writeStatus(finalize)]);
    status = rec!.value as SyncStatus;
  } catch (err) {
    log.error({ err: errorMessage(err), revision }, 'reconciler: could not write the sync status');
    status = finalize(emptySyncStatus(opts.source));
    outcome.retryAfterMs ??= 5_000;
  }
  await emit(
    store,
    {
      type: ok ? 'Normal' : 'Warning',
      reason: ok ? (outcome.result === 'Applied' ? 'RevisionApplied' : 'RevisionUnchanged') : outcome.reason,
      object: { kind: 'Source', name: opts.source },
      message: outcome.message,
    },
    log,
  );
  return { status, result: outcome.result, ...(plan ? { plan } : {}), ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}) };
}

async function applyStages<R>(opts: ReconcileRevisionOptions<R>, plan: Plan, byKey: Map<string, StoreRecord<DesiredRecord>>, now: string): Promise<DesiredRecord[]> {
  const items = [...plan.create, ...plan.update];
  const written: DesiredRecord[] = [];
  // Stages in order, each complete before the next: a CRD exists before objects of its kind, a
  // Secret before the workloads that mount it.
  for (const stage of ['definitions', 'secrets', 'workloads'] as const) {
    const batch = items.filter((i) => i.stage === stage);
    await mapLimit(batch, opts.concurrency ?? 256, async (item) => {
      if (opts.signal?.aborted) throw new Aborted('aborted during apply');
      const prev = byKey.get(item.key);
      const rec = nextDesiredRecord(prev?.value, item.object, { type: 'git', revision: opts.revision }, now, item.specHash);
      const key = desiredStoreKey(item.key);
      if (prev) await opts.store.desired.update(key, rec, prev.revision);
      else await opts.store.desired.create(key, rec);
      written.push(rec);
    });
  }
  return written;
}

async function pruneObjects<R>(opts: ReconcileRevisionOptions<R>, plan: Plan, byKey: Map<string, StoreRecord<DesiredRecord>>): Promise<void> {
  for (const stage of ['workloads', 'secrets', 'definitions'] as const) {
    await mapLimit(plan.prune.filter((p) => p.stage === stage), opts.concurrency ?? 256, async (p) => {
      if (opts.signal?.aborted) throw new Aborted('aborted during prune');
      const prev = byKey.get(p.key);
      if (!prev) return;
      await opts.store.desired.delete(desiredStoreKey(p.key), { revision: prev.revision });
    });
  }
}

async function checkHealth(store: ReconcilerStore, applied: Map<string, DesiredRecord>): Promise<string> {
  const statuses = await store.sync.list('object');
  const byKey = new Map(statuses.map((r) => [r.key, r.value]));
  let ready = 0;
  let rolling = 0;
  let failed = 0;
  let waiting = 0;
  for (const rec of applied.values()) {
    const o = rec.object;
    if (o.kind !== 'Job' && o.kind !== 'DaemonSet') continue;
    const s = byKey.get(objectStatusKey(o.kind, o.metadata.namespace ?? DEFAULT_NAMESPACE, o.metadata.name)) as WorkloadStatus | undefined;
    if (!s || s.observedGeneration < rec.generation) waiting++;
    else if (s.rollout?.phase === 'Failed' || s.batch?.phase === 'Failed') failed++;
    else if (s.rollout?.phase === 'Complete' || s.batch?.phase === 'Complete') ready++;
    else rolling++;
  }
  return `workloads: ${ready} ready, ${rolling} rolling out, ${waiting} not yet observed, ${failed} failed`;
}

function inventoryOf(records: Map<string, DesiredRecord>): string[] {
  const out: string[] = [];
  for (const r of records.values()) if (r.origin.type === 'git') out.push(`${r.key}@${r.generation}`);
  return out.sort();
}

function summarize(problems: readonly ValidationMessage[]): string {
  const first = problems.slice(0, 3).map((p) => `${p.file}:${p.line}: ${p.message}`);
  return `${problems.length} problem${problems.length === 1 ? '' : 's'}: ${first.join('; ')}${problems.length > 3 ? '; ...' : ''}`;
}

function short(revision: string): string {
  return revision.slice(0, 12);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

