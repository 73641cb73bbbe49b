/**
 * The phases of reconcileRevision (Flux kustomize-controller's shape), each a named function that
 * marks its `Reconciling` condition (`phase` below), does one thing and returns a typed result
 * or throws from outcome.ts's taxonomy:
 *
 *   read ─► validate ─► build ─► diff ─► apply ─► prune ─► health      (status: reconcile.ts, always)
 *            │           │        │
 *            └─ StalledError: ValidationFailed | BuildFailed | PruneAllRefused
 *
 * Writes are compare-and-set on the revision read in the diff phase, stage by stage (CRDs, Secrets,
 * workloads; prune in reverse), so a concurrent writer is detected, never overwritten.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_NAMESPACE } from '../../api/index.ts';
import { mapLimit, type Logger } from '../../lib/index.ts';
import type { StoreRecord } from '../../store/index.ts';
import { nextDesiredRecord, planDiff, type DesiredRecord, type Plan } from '../diff/index.ts';
import type { WorkloadStatus } from '../controllers/index.ts';
import { buildDesired, type BuildResult, type Located } from './build.ts';
import { desiredStoreKey, objectStatusKey } from './keys.ts';
import type { ReconcilerStore } from './store.ts';
import type { HistoryEntry, Phase } from './sync.ts';
import type { SyncStatusWriter } from './status-writer.ts';
import type { ReconcileRevisionOptions } from './reconcile.ts';
import { AbortedError, StalledError, short, summarize, type AppliedRevision } from './reconcile-outcome.ts';

/** ReconcileRun is one reconcile's running state: its options, clock, status writer and phase timings. */
export interface ReconcileRun<R> {
  readonly opts: ReconcileRevisionOptions<R>;
  readonly log: Logger;
  readonly iso: () => string;
  readonly writer: SyncStatusWriter;
  /** each finished phase and how long it took, in order */
  readonly phases: HistoryEntry['phases'];
  /** the diff phase's plan, once made (returned to the caller even when a later phase fails) */
  plan?: Plan;
}

/** phase marks `name` in progress (queued status write), runs `fn` and records its duration. */
async function phase<R, T>(run: ReconcileRun<R>, name: Phase, message: string, fn: () => Promise<T> | T): Promise<T> {
  checkAborted(run, `before ${name}`);
  run.writer.progress(name, run.opts.revision, message);
  const start = performance.now();
  try {
    return await fn();
  } finally {
    run.phases.push({ phase: name, durationMs: round(performance.now() - start) });
  }
}

function checkAborted<R>(run: ReconcileRun<R>, where: string): void {
  if (run.opts.signal?.aborted) throw new AbortedError(`reconcile of ${short(run.opts.revision)} aborted ${where}`);
}

/** runPhases runs read to health and returns what was applied; throws on the first phase that fails. */
export async function runPhases<R>(run: ReconcileRun<R>): Promise<AppliedRevision> {
  const read = await phase(run, 'read', `reading manifests at ${short(run.opts.revision)}`, run.opts.read);
  const objects = await validatePhase(run, read);
  const built = await buildPhase(run, objects);
  const diff = await diffPhase(run, built);
  const written = await phase(run, 'apply', `applying ${diff.plan.create.length} new and ${diff.plan.update.length} changed objects`, () => applyStages(run, diff));
  await phase(run, 'prune', `pruning ${diff.plan.prune.length} objects`, () => pruneStages(run, diff));
  const applied = new Map(diff.current.map((r) => [r.value.key, r.value]));
  for (const p of diff.plan.prune) applied.delete(p.key);
  for (const rec of written) applied.set(rec.key, rec);
  const health = await phase(run, 'health', 'checking workload health', () => checkHealth(run.opts.store, applied));
  return { plan: diff.plan, applied, health };
}

/** validatePhase keeps the revision's good objects; any problem stalls the revision. */
async function validatePhase<R>(run: ReconcileRun<R>, read: R): Promise<Located[]> {
  const v = await phase(run, 'validate', 'validating manifests', () => run.opts.validate(read));
  if (v.problems.length) throw new StalledError('ValidationFailed', summarize(v.problems), v.problems);
  return v.objects;
}

/** buildPhase turns objects into desired records; any problem stalls the revision. */
async function buildPhase<R>(run: ReconcileRun<R>, objects: Located[]): Promise<BuildResult> {
  const built = await phase(run, 'build', `building ${objects.length} objects`, () => buildDesired(objects));
  if (built.problems.length) throw new StalledError('BuildFailed', summarize(built.problems), built.problems);
  return built;
}

/** Diff is the diff phase's result: the plan and the records it was made against (for CAS). */
interface Diff {
  plan: Plan;
  current: StoreRecord<DesiredRecord>[];
  byKey: Map<string, StoreRecord<DesiredRecord>>;
}

/** diffPhase plans creates, updates and prunes against the cluster; a prune of everything stalls. */
async function diffPhase<R>(run: ReconcileRun<R>, built: BuildResult): Promise<Diff> {
  const { opts } = run;
  // The plan (hashing every object) is part of the diff phase's time, not hidden between phases.
  const d = await phase(run, 'diff', 'comparing with the cluster', async () => {
    const current = await (opts.current ? opts.current() : opts.store.desired.list());
    const plan = planDiff(built.objects, current.map((r) => r.value), { allowPruneAll: opts.allowPruneAll ?? false, ...(opts.hashCache ? { hashCache: opts.hashCache } : {}) });
    return { plan, current, byKey: new Map(current.map((r) => [r.value.key, r])) };
  });
  run.plan = d.plan;
  if (d.plan.refused) throw new StalledError('PruneAllRefused', d.plan.refused.message);
  return d;
}

/**
 * applyStages writes creates and updates in stages, each complete before the next: a CRD exists
 * before objects of its kind, a Secret before the workloads that mount it.
 */
async function applyStages<R>(run: ReconcileRun<R>, { plan, byKey }: Diff): Promise<DesiredRecord[]> {
  const { opts } = run;
  const now = run.iso();
  const items = [...plan.create, ...plan.update];
  const written: DesiredRecord[] = [];
  for (const stage of ['definitions', 'secrets', 'workloads'] as const) {
    await mapLimit(items.filter((i) => i.stage === stage), opts.concurrency ?? 256, async (item) => {
      checkAborted(run, 'during apply');
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

/** pruneStages deletes what the revision no longer has, in reverse stage order. */
async function pruneStages<R>(run: ReconcileRun<R>, { plan, byKey }: Diff): Promise<void> {
  for (const stage of ['workloads', 'secrets', 'definitions'] as const) {
    await mapLimit(plan.prune.filter((p) => p.stage === stage), run.opts.concurrency ?? 256, async (p) => {
      checkAborted(run, 'during prune');
      const prev = byKey.get(p.key);
      if (!prev) return;
      await run.opts.store.desired.delete(desiredStoreKey(p.key), { revision: prev.revision });
    });
  }
}

/** checkHealth summarizes the workloads' rollouts as their controllers last reported them. */
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

/** round keeps one decimal of a duration in milliseconds. */
export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
