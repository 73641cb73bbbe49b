import type { AnyObject, AutoscaleRecord, Job, NodeRecord, RolloutResult, TaskSpec, TaskStatus } from '../../api/index.ts';
import { DEFAULT_NAMESPACE, autoscaleKey, liveReplicas } from '../../api/index.ts';
import { errorMessage } from '../../lib/index.ts';
import {
  CREATED_BY_ANNOTATION,
  SCHEDULED_AT_ANNOTATION,
  computeBatchJob,
  computeCronJob,
  computeDaemonSet,
  computeServiceJob,
  type ControllerEvent,
  type CronChild,
  type CronJobStatus,
  type EligibleNodes,
  type PlacementRules,
  type TaskView,
  type WorkloadSpec,
  type WorkloadStatus,
} from '../controllers/index.ts';
import { nextDesiredRecord, type DesiredRecord } from '../diff/index.ts';
import { canonicalJson } from '../template/index.ts';
import { desiredStoreKey, objectStatusKey } from './keys.ts';
import type { SyncRecord } from './store.ts';
import { adoptReported } from './adopt.ts';
import { isCronJob, isDaemonSet, isJob, secretVersionsOf, workloadSpecOf } from './workloads.ts';

/** ClusterView is everything one controller pass reads: the cached contents of five buckets. */
export interface ClusterView {
  desired: ReadonlyMap<string, DesiredRecord>;
  tasks: ReadonlyMap<string, TaskSpec>;
  /** statuses by task id (the newest report when several nodes reported one task). */
  statuses: ReadonlyMap<string, TaskStatus>;
  /** the nodes DaemonSets run on (api trustedNodeRecords, withNodeSpec); not read when `eligibleNodes` is given */
  nodes?: readonly NodeRecord[];
  /**
   * each DaemonSet's eligible nodes (by desired key) at the pass's `now` and node grace, if the
   * caller keeps them (EligibleNodeIndex): must equal eligibleNodeNames(nodes, rules, now, grace).
   */
  eligibleNodes?: (owner: string, rules: PlacementRules) => EligibleNodes;
  /** controller statuses by `sync` key (`object.<Kind>.<ns>.<name>`). */
  objectStatuses: ReadonlyMap<string, SyncRecord>;
  /**
   * tasks grouped by owner with their statuses, if the caller keeps them (TrustedStatusIndex):
   * must equal groupTasksByOwner(tasks.values(), statuses); computed when absent.
   */
  tasksByOwner?: ReadonlyMap<string, readonly TaskView[]>;
  /** autoscaled Jobs' live counts by `autoscale` key (`<namespace>.<name>`): a service Job with an autoscale block runs this many (api liveReplicas). */
  autoscale?: ReadonlyMap<string, AutoscaleRecord>;
}

/** PassOptions are the controller knobs of a pass. */
export interface PassOptions {
  now: number;
  crashLoopRestarts?: number;
  nodeGraceMs?: number;
  /** when this controller loop began watching (its first pass): rollout deadlines count from no earlier. */
  watchingSince?: number;
}

/** PassEvent is an event a pass wants recorded, with its object. */
export interface PassEvent extends ControllerEvent {
  object: { kind: string; namespace: string; name: string };
}

/**
 * PassResult is every write one pass decides, in the order the edge applies them: statuses first,
 * then deletions (tasks, desired objects made by controllers, statuses of vanished objects), then
 * creations. Statuses whose content did not change are left out.
 */
export interface PassResult {
  putStatuses: { key: string; value: SyncRecord }[];
  deleteStatuses: string[];
  deleteTasks: string[];
  createTasks: TaskSpec[];
  /** desired records a CronJob creates (`desired` keys). */
  createDesired: { key: string; value: DesiredRecord }[];
  deleteDesired: string[];
  events: PassEvent[];
  failedRollouts: RolloutResult[];
  /** problems with single objects (e.g. a template that no longer resolves); the rest goes on. */
  errors: { object: string; message: string }[];
}

/**
 * controllerPass runs every controller once over a snapshot of the cluster and returns the writes
 * to make: Jobs (service and batch), DaemonSets and CronJobs, plus garbage collection of tasks
 * whose owner is gone, of a deleted CronJob's Jobs, and of statuses of deleted objects. Pure:
 * the loop in controllers-loop.ts feeds it from watches and applies its result. `cache` (resolved
 * templates) and `fingerprints` (inputs of service Jobs at rest, which are then skipped) are
 * memos the caller keeps between passes; results are the same with or without them.
 */
export function controllerPass(
  view: ClusterView,
  opts: PassOptions,
  cache: Map<string, { stamp: string; spec: WorkloadSpec }> = new Map(),
  fingerprints?: Map<string, string>,
): PassResult {
  const p = newPass(view, opts, cache, fingerprints);
  // CronJobs after the workloads: they decide from the state of the Jobs they created.
  for (const rec of view.desired.values()) runWorkload(p, rec);
  for (const rec of view.desired.values()) runCronJob(p, rec);
  collectGarbage(p);
  return p.out;
}

/** Pass is one controllerPass in progress: its inputs, memos and what it decided so far. */
interface Pass {
  view: ClusterView;
  opts: PassOptions;
  cache: Map<string, { stamp: string; spec: WorkloadSpec }>;
  fingerprints: Map<string, string> | undefined;
  out: PassResult;
  versions: ReturnType<typeof secretVersionsOf>;
  /** tasks by owning object key; what is left after the workloads ran has no owner any more */
  tasksByOwner: Map<string, readonly TaskView[]>;
  /** object statuses some object still stands for (the others are deleted) */
  seenStatus: Set<string>;
  /** each CronJob's Jobs, as the CronJob controller reads them */
  childrenOf: Map<string, CronChild[]>;
}

function newPass(view: ClusterView, opts: PassOptions, cache: Pass['cache'], fingerprints: Pass['fingerprints']): Pass {
  const out: PassResult = { putStatuses: [], deleteStatuses: [], deleteTasks: [], createTasks: [], createDesired: [], deleteDesired: [], events: [], failedRollouts: [], errors: [] };
  // A copy of the outer map only: the pass takes each owner's list out as its controller runs.
  const tasksByOwner: Map<string, readonly TaskView[]> = view.tasksByOwner ? new Map(view.tasksByOwner) : groupTasksByOwner(view.tasks.values(), view.statuses);
  return { view, opts, cache, fingerprints, out, versions: secretVersionsOf(view.desired.values()), tasksByOwner, seenStatus: new Set(), childrenOf: new Map() };
}

/**
 * groupTasksByOwner lists each owner's tasks (by jobKey, in the order of `tasks`) with their trusted
 * status: what a controller pass hands each Job or DaemonSet controller. Pure.
 */
export function groupTasksByOwner(tasks: Iterable<TaskSpec>, statuses: ReadonlyMap<string, TaskStatus>): Map<string, TaskView[]> {
  const byOwner = new Map<string, TaskView[]>();
  for (const spec of tasks) {
    const status = statuses.get(spec.id);
    const list = byOwner.get(spec.jobKey);
    const view = status ? { spec, status } : { spec };
    if (list) list.push(view);
    else byOwner.set(spec.jobKey, [view]);
  }
  return byOwner;
}

/** putStatus writes an object's status unless only its time changed. */
function putStatus(p: Pass, key: string, value: SyncRecord): void {
  p.seenStatus.add(key);
  const prev = p.view.objectStatuses.get(key);
  if (prev && sameIgnoringTime(prev, value)) return;
  p.out.putStatuses.push({ key, value });
}

/** runWorkload runs the controller of one Job or DaemonSet (anything else is left alone). */
function runWorkload(p: Pass, rec: DesiredRecord): void {
  const { view, opts, out } = p;
  const o = rec.object;
  if (!isJob(o) && !isDaemonSet(o)) return;
  const ns = o.metadata.namespace ?? DEFAULT_NAMESPACE;
  const createdBy = o.metadata.annotations?.[CREATED_BY_ANNOTATION];
  if (isJob(o) && createdBy && rec.origin.type === 'controller' && !view.desired.has(createdBy)) {
    out.deleteDesired.push(desiredStoreKey(rec.key)); // its CronJob is gone
    return;
  }
  const statusKey = objectStatusKey(o.kind, ns, o.metadata.name);
  const prev = view.objectStatuses.get(statusKey) as WorkloadStatus | undefined;
  let spec: WorkloadSpec;
  try {
    spec = cachedSpec(rec, p.versions, p.cache);
  } catch (err) {
    out.errors.push({ object: rec.key, message: errorMessage(err) });
    p.seenStatus.add(statusKey);
    return;
  }
  const tasks = p.tasksByOwner.get(rec.key) ?? [];
  p.tasksByOwner.delete(rec.key);
  // The live count: Git's replicas, or the autoscaler's within Git's bounds. Never written back to Git.
  const replicas = isJob(o) ? liveReplicas(o.spec, view.autoscale?.get(autoscaleKey(ns, o.metadata.name))) : 0;
  // Asked every pass, skipped or not: the index forgets the DaemonSets no pass asks for.
  const eligible = isDaemonSet(o) && view.eligibleNodes ? view.eligibleNodes(rec.key, spec.template) : undefined;
  if (unchangedAtRest(p, rec, spec, prev, tasks, replicas, eligible)) {
    p.seenStatus.add(statusKey);
    return;
  }
  const copts = {
    now: opts.now,
    ...(opts.crashLoopRestarts !== undefined ? { crashLoopRestarts: opts.crashLoopRestarts } : {}),
    ...(opts.watchingSince !== undefined ? { watchingSince: opts.watchingSince } : {}),
  };
  const r = isDaemonSet(o)
    ? computeDaemonSet({
      ds: spec,
      ...(eligible ? { eligible } : { nodes: view.nodes ?? [] }),
      tasks,
      ...(prev ? { prev } : {}),
      ...(opts.nodeGraceMs !== undefined ? { nodeGraceMs: opts.nodeGraceMs } : {}),
    }, copts)
    : o.spec.type === 'batch'
      ? computeBatchJob({ job: spec, batch: o.spec, tasks, ...(prev ? { prev } : {}) }, copts)
      : computeServiceJob({ job: spec, replicas, tasks, ...(prev ? { prev } : {}) }, copts);
  putStatus(p, statusKey, r.status);
  out.deleteTasks.push(...r.delete);
  out.createTasks.push(...r.create);
  for (const e of r.events) out.events.push({ ...e, object: { kind: o.kind, namespace: ns, name: o.metadata.name } });
  if (r.failedRollout) out.failedRollouts.push(r.failedRollout);
  if (createdBy && r.status.batch) {
    const list = p.childrenOf.get(createdBy) ?? [];
    list.push({
      name: o.metadata.name,
      scheduledAt: o.metadata.annotations?.[SCHEDULED_AT_ANNOTATION] ?? rec.updatedAt,
      phase: r.status.batch.phase,
      ...(r.status.batch.finishedAt ? { finishedAt: r.status.batch.finishedAt } : {}),
    });
    p.childrenOf.set(createdBy, list);
  }
}

/**
 * unchangedAtRest: a service Job at rest (rollout Complete or Failed) decides the same from the same
 * inputs, and no clock matters to it: skip it while nothing it reads changed. So does a DaemonSet at
 * rest whose eligible nodes the caller keeps (EligibleNodeIndex: node liveness is judged there, and
 * its view object is replaced whenever the set changes) and whose task list is the same object
 * (TrustedStatusIndex replaces an owner's list when one of its tasks changes): at 10,000 nodes the
 * two DaemonSets' 12,500 tasks were filed by node every 1-s tick of a quiet cluster (groupByNode,
 * 2.3 of the reconciler's 6.1 busy CPU-s in a 70-s window with 110,000 tasks running). Everything
 * else (rollouts in progress, batch runs) is time-sensitive and always runs.
 */
function unchangedAtRest(p: Pass, rec: DesiredRecord, spec: WorkloadSpec, prev: WorkloadStatus | undefined, tasks: readonly TaskView[], replicas: number, eligible: EligibleNodes | undefined): boolean {
  if (!p.fingerprints) return false;
  const o = rec.object;
  const atRest = prev?.rollout?.phase === 'Complete' || prev?.rollout?.phase === 'Failed';
  const steadyJob = atRest && isJob(o) && o.spec.type !== 'batch';
  const steadyDaemonSet = atRest && isDaemonSet(o) && eligible !== undefined && p.view.tasksByOwner !== undefined;
  // A kept list (TrustedStatusIndex) stands for its tasks by identity: building and comparing each
  // Job's task part (~6 KB for 100 tasks) was ~1 of the reconciler's 6.1 busy s on a quiet 110,000-task cluster.
  const fp = steadyJob ? (p.view.tasksByOwner ? `${fingerprintParts(rec, spec, prev!, replicas)}|list:${identity(tasks)}` : fingerprint(rec, spec, prev!, tasks, replicas))
    : steadyDaemonSet ? `${fingerprintParts(rec, spec, prev!, 0)}|ds:${identity(tasks)}:${identity(eligible!)}` : undefined;
  if (fp !== undefined && p.fingerprints.get(rec.key) === fp) return true;
  if (fp === undefined) p.fingerprints.delete(rec.key);
  else p.fingerprints.set(rec.key, fp);
  return false;
}

/** runCronJob runs the controller of one CronJob: the Jobs to create and delete, from its Jobs' states. */
function runCronJob(p: Pass, rec: DesiredRecord): void {
  const { view, opts, out } = p;
  const o = rec.object;
  if (!isCronJob(o)) return;
  const ns = o.metadata.namespace ?? DEFAULT_NAMESPACE;
  const statusKey = objectStatusKey('CronJob', ns, o.metadata.name);
  const prev = view.objectStatuses.get(statusKey) as (CronJobStatus & { kind: 'CronJob' }) | undefined;
  const r = computeCronJob({
    namespace: ns,
    name: o.metadata.name,
    generation: rec.generation,
    spec: o.spec,
    createdAt: rec.updatedAt,
    jobs: p.childrenOf.get(rec.key) ?? [],
    ...(prev ? { prev } : {}),
    now: opts.now,
  });
  putStatus(p, statusKey, { ...r.status, kind: 'CronJob' });
  for (const job of r.createJobs) {
    const value = nextDesiredRecord(undefined, job as Job as AnyObject, { type: 'controller', owner: rec.key }, new Date(opts.now).toISOString());
    out.createDesired.push({ key: desiredStoreKey(value.key), value });
  }
  for (const name of r.deleteJobs) out.deleteDesired.push(desiredStoreKey(`Job/${ns}/${name}`));
  for (const e of r.events) out.events.push({ ...e, object: { kind: 'CronJob', namespace: ns, name: o.metadata.name } });
}

/** collectGarbage deletes tasks whose owner is gone and statuses no object stands for; adopts reported tasks. */
function collectGarbage(p: Pass): void {
  const { view, out } = p;
  // Tasks whose Job or DaemonSet is gone (pruned, or a finished CronJob run deleted).
  for (const [owner, tasks] of p.tasksByOwner) {
    if (view.desired.has(owner)) continue;
    for (const t of tasks) out.deleteTasks.push(t.spec.id);
  }
  for (const key of view.objectStatuses.keys()) if (!p.seenStatus.has(key)) out.deleteStatuses.push(key);
  out.deleteTasks = [...new Set(out.deleteTasks)];
  // After a store rebuild, running instances that agents still report keep their ids (adopt.ts).
  out.createTasks = adoptReported(out.createTasks, view.tasks, view.statuses.values());
}

function cachedSpec(rec: DesiredRecord, versions: ReturnType<typeof secretVersionsOf>, cache: Map<string, { stamp: string; spec: WorkloadSpec }>): WorkloadSpec {
  const ns = rec.object.metadata.namespace ?? DEFAULT_NAMESPACE;
  const v = versions.get(ns);
  const stamp = `${rec.specHash}:${rec.generation}:${rec.revision}:${v ? canonicalJson(v) : ''}`;
  const hit = cache.get(rec.key);
  if (hit && hit.stamp === stamp) return hit.spec;
  const spec = workloadSpecOf(rec, versions);
  cache.set(rec.key, { stamp, spec });
  return spec;
}

function fingerprint(rec: DesiredRecord, spec: WorkloadSpec, prev: WorkloadStatus, tasks: readonly TaskView[], replicas: number): string {
  return `${fingerprintParts(rec, spec, prev, replicas)}|${tasksFingerprint(tasks)}`;
}

function fingerprintParts(rec: DesiredRecord, spec: WorkloadSpec, prev: WorkloadStatus, replicas: number): string {
  // The live count is an input too: an autoscaler's decision must wake a Job at rest.
  return [rec.specHash, String(rec.generation), spec.templateHash, prev.templateHash, prev.rollout?.phase ?? '', String(prev.observedGeneration), String(replicas)].join('|');
}

/** identities numbers the lists and views a pass is handed, for fingerprints of inputs the caller replaces rather than changes. */
const identities = new WeakMap<object, number>();
let lastIdentity = 0;

function identity(o: object): number {
  let id = identities.get(o);
  if (id === undefined) identities.set(o, (id = ++lastIdentity));
  return id;
}

/**
 * taskParts memoises the task part of fingerprints by list: a caller that keeps the lists
 * (TrustedStatusIndex) hands the same list while the owner's tasks are unchanged, and listing
 * 100,000 tasks' states per pass for the Jobs at rest was the largest part of a pass. Lists are
 * never changed once handed to a pass, so a list's part never changes either.
 */
const taskParts = new WeakMap<readonly TaskView[], string>();

function tasksFingerprint(tasks: readonly TaskView[]): string {
  let part = taskParts.get(tasks);
  if (part !== undefined) return part;
  const parts: string[] = [];
  for (const t of tasks) {
    const s = t.status;
    parts.push(`${t.spec.id}:${s ? `${s.state}/${s.ready}/${s.restarts}/${s.templateHash}` : '-'}`);
  }
  part = parts.join('|');
  taskParts.set(tasks, part);
  return part;
}

function sameIgnoringTime(a: SyncRecord, b: SyncRecord): boolean {
  const strip = (x: SyncRecord) => ({ ...x, updatedAt: '' });
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}
