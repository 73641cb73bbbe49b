// The autoscaler's edge: every sync period (Kubernetes' --horizontal-pod-autoscaler-sync-period,
// 15 s) it reads each autoscaled Job's metrics (the agents' cgroup samples from the store, Prometheus
// over HTTP), runs decideAutoscale, and writes the Job's AutoscaleRecord by compare-and-set, the only
// writer of the `autoscale` bucket. It never touches Git, desired objects or tasks: the controllers
// read the live count (api liveReplicas) and scale with their normal machinery. Runs on the
// reconciler leader only (leaderJobs), so one autoscaler acts per cluster, on its own connection as
// the autoscaler identity (store openAutoscalerStore), the only one NATS lets write the bucket.
import {
  autoscaleKey,
  jobKeyOf,
  trustedTaskStatuses,
  type AutoscaleRecord,
  type Binding,
  type ClusterEvent,
  type Job,
  type TaskSpec,
  type TaskStatus,
} from '../../api/index.ts';
import { createLogger, errorMessage, isGitcellError, PassRunner, type Logger, type LoopOptions, type RunningLoop } from '../../lib/index.ts';
import { Informer, StoreErrorCodes, eventTokens, recordEvent, AUTOSCALER_SOURCE, type Bucket, type EventStream, type InformerView } from '../../store/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import type { TaskInformers } from '../apply/shared-informers.ts';
import { decideAutoscale, metricName, type AutoscaleOutcome, type MetricInput } from './decide.ts';
import { queryPerTask, DEFAULT_TASK_LABEL } from './prometheus.ts';
import { resourceSamples, unplacedTasks, valueSamples, type JobTask } from './samples.ts';

/** AutoscalerStore is what the autoscaler reads (desired, tasks, status, bindings) and writes (autoscale, events). */
export interface AutoscalerStore {
  desired: Bucket<DesiredRecord>;
  tasks: Bucket<TaskSpec>;
  status: Bucket<TaskStatus>;
  bindings: Bucket<Binding>;
  autoscale: Bucket<AutoscaleRecord>;
  events: EventStream<ClusterEvent>;
}

/** RunAutoscalerOptions configure runAutoscaler. */
export interface RunAutoscalerOptions extends LoopOptions<AutoscalerStore> {
  /** syncMs: how often every autoscaled Job is evaluated (default 15,000, Kubernetes' sync period). */
  syncMs?: number;
  /** prometheusUrl: where prometheus metrics are queried (none: those metrics are missing). */
  prometheusUrl?: string;
  /** unplacedGraceMs: a task unbound this long counts as waiting for capacity (default 20,000). */
  unplacedGraceMs?: number;
  /** told of every evaluation (tests, metrics). */
  onDecision?: (job: string, outcome: AutoscaleOutcome) => void;
  /**
   * shared: the reconciler replica's copies of the task buckets, read instead of copies of its own
   * (the autoscaler only reads them; it writes only its bucket, on its own connection). At 100,000
   * tasks its own three copies were ~2.1 KB per task of the reconciler's heap.
   */
  shared?: TaskInformers;
}

/** DEFAULT_AUTOSCALE_SYNC_MS is Kubernetes' HPA sync period. */
export const DEFAULT_AUTOSCALE_SYNC_MS = 15_000;

/** AutoscalerLoop is a running autoscaler. */
export type AutoscalerLoop = RunningLoop;

/** isAutoscaled tells whether a desired object is a service Job with an autoscale block. */
export function isAutoscaled(o: DesiredRecord['object']): o is Job {
  const spec = (o as Job).spec;
  return o.kind === 'Job' && spec?.type === 'service' && spec.autoscale !== undefined;
}

/** runAutoscaler starts the loop; it ends when `signal` aborts. */
export function runAutoscaler(opts: RunAutoscalerOptions): AutoscalerLoop {
  const log = opts.log ?? createLogger('autoscaler');
  const { store, signal } = opts;
  const own: Informer<unknown>[] = [];
  const inform = <T>(bucket: Bucket<T>, prefix?: string): Informer<T> => {
    const i = new Informer<T>(bucket, { signal, log, ...(prefix ? { prefix } : {}) });
    own.push(i as Informer<unknown>);
    return i;
  };
  const { shared } = opts;
  const v: View = {
    desired: inform(store.desired, 'Job'),
    tasks: shared?.tasks ?? inform(store.tasks),
    status: shared?.statuses ?? inform(store.status),
    bindings: shared?.bindings ?? inform(store.bindings),
    records: inform(store.autoscale),
  };
  const informers = Object.values(v) as InformerView<unknown>[];
  const syncMs = opts.syncMs ?? DEFAULT_AUTOSCALE_SYNC_MS;
  // One pass as soon as every informer holds its snapshot, then one per sync period; a failed
  // pass is tried again the next period (Kubernetes' HPA does the same).
  const runner = new PassRunner({
    signal,
    tickMs: syncMs,
    debounceMs: 0,
    ready: () => informers.every((i) => i.hasSynced),
    backoff: { initialMs: syncMs, maxMs: syncMs, factor: 1 },
    pass: () => autoscalePass(opts, v, log),
    onError: (err) => log.warn({ err: errorMessage(err) }, 'autoscaler: pass failed, trying again next period'),
  });
  void Promise.all(informers.map((i) => i.synced)).then(() => runner.request(0));
  const done = (async () => {
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    await runner.stop();
    // Only its own: the shared copies outlive this term.
    await Promise.allSettled(own.map((i) => i.done));
  })();
  return { done, passes: () => runner.passes };
}

/** View is the autoscaler's informers. */
interface View {
  desired: Informer<DesiredRecord>;
  tasks: InformerView<TaskSpec>;
  status: InformerView<TaskStatus>;
  bindings: InformerView<Binding>;
  records: Informer<AutoscaleRecord>;
}

/**
 * tasksByJob groups the tasks of the Jobs `jobKeys` with their trusted status and binding by job
 * key. Only those Jobs' tasks and statuses are read: at 100,000 tasks of Jobs none of which
 * autoscales, grouping them all was 30 s of the reconciler process's 391 s busy.
 */
function tasksByJob(v: View, jobKeys: ReadonlySet<string>): Map<string, JobTask[]> {
  const out = new Map<string, JobTask[]>();
  if (jobKeys.size === 0) return out;
  const ofJobs = (id: string) => {
    const spec = v.tasks.get(id);
    return spec && jobKeys.has(spec.jobKey) ? spec : undefined;
  };
  const placement = (id: string) => {
    const spec = v.tasks.get(id);
    return spec ? (v.bindings.get(id)?.node ?? spec.nodeName ?? spec.runningOn ?? null) : undefined;
  };
  // A status key is `<node>.<taskId>`; a node name (a DNS label) holds no dot.
  const statuses = [...v.status.entries].filter(([k]) => ofJobs(k.slice(k.indexOf('.') + 1))).map(([k, c]) => [k, c.value] as const);
  const { byTask } = trustedTaskStatuses(statuses, placement);
  for (const spec of v.tasks.values()) {
    if (!jobKeys.has(spec.jobKey)) continue;
    const status = byTask.get(spec.id);
    const binding = v.bindings.get(spec.id);
    const list = out.get(spec.jobKey) ?? [];
    list.push({ spec, ...(status ? { status } : {}), ...(binding ? { binding } : {}) });
    out.set(spec.jobKey, list);
  }
  return out;
}

/** autoscalePass evaluates every autoscaled Job once and forgets Jobs that are no longer autoscaled. */
async function autoscalePass(opts: RunAutoscalerOptions, v: View, log: Logger): Promise<void> {
  const autoscaled = new Set<string>();
  for (const { object: o } of v.desired.values()) if (isAutoscaled(o)) autoscaled.add(jobKeyOf('Job', o.metadata.namespace ?? 'default', o.metadata.name));
  const byJob = tasksByJob(v, autoscaled);
  const live = new Set<string>();
  for (const rec of v.desired.values()) {
    const o = rec.object;
    if (!isAutoscaled(o)) continue;
    const ns = o.metadata.namespace ?? 'default';
    const key = autoscaleKey(ns, o.metadata.name);
    live.add(key);
    const tasks = byJob.get(jobKeyOf('Job', ns, o.metadata.name)) ?? [];
    const now = (opts.now ?? Date.now)();
    const metrics = await readMetrics(o, tasks, opts.prometheusUrl);
    const unplaced = await unplacedInput(opts, tasks, now);
    const prev = v.records.get(key);
    const outcome = decideAutoscale({ namespace: ns, name: o.metadata.name, spec: o.spec.autoscale!, gitReplicas: o.spec.replicas ?? 1, metrics, now, ...(prev ? { prev } : {}), ...(unplaced ? { unplaced } : {}) });
    opts.onDecision?.(key, outcome);
    if (!(await write(opts, v, key, outcome.record, log))) continue;
    if (outcome.notable) await emitDecision(opts, ns, o.metadata.name, outcome, log);
  }
  for (const [key, entry] of v.records.entries) {
    if (live.has(key) || !mayWrite(opts)) continue;
    v.records.apply(key, undefined, await opts.store.autoscale.delete(key, { revision: entry.revision }));
    const [ns = '', name = ''] = key.split('.');
    await record(opts, { type: 'Normal', reason: 'AutoscaleRemoved', object: { kind: 'Job', namespace: ns, name }, message: `autoscale left the Job in Git: it returns to its Git replicas (last live count ${entry.value.replicas})` }, log);
  }
}

/** readMetrics reads every metric of a Job; a metric that fails is an error input, never a failed pass. */
async function readMetrics(job: Job, tasks: readonly JobTask[], prometheusUrl: string | undefined): Promise<MetricInput[]> {
  const out: MetricInput[] = [];
  for (const m of job.spec.autoscale!.metrics) {
    try {
      if (m.resource) out.push({ samples: resourceSamples(tasks, m.resource) });
      else if (!prometheusUrl) out.push({ error: 'no Prometheus configured (reconciler --prometheus-url)' });
      else out.push({ samples: valueSamples(tasks, await queryPerTask(prometheusUrl, m.prometheus!.query, m.prometheus!.taskLabel ?? DEFAULT_TASK_LABEL)) });
    } catch (err) {
      out.push({ error: `${metricName(m)}: ${errorMessage(err)}` });
    }
  }
  return out;
}

/**
 * unplacedInput counts the Job's tasks waiting for a node, with the scheduler's last word on the
 * oldest. A task counts once it waited the grace, or at once when the scheduler already said it
 * cannot place it (FailedScheduling): otherwise a scale-up period ending inside the grace would add
 * tasks the cluster has no room for.
 */
async function unplacedInput(opts: RunAutoscalerOptions, tasks: readonly JobTask[], now: number): Promise<{ count: number; message: string } | undefined> {
  const unbound = unplacedTasks(tasks, now, -Infinity);
  if (unbound.length === 0) return undefined;
  const waited = unplacedTasks(tasks, now, opts.unplacedGraceMs ?? 20_000);
  const oldest = [...unbound].sort((a, b) => Date.parse(a.spec.createdAt) - Date.parse(b.spec.createdAt))[0]!.spec;
  const said = await failedScheduling(opts, oldest);
  if (waited.length === 0 && said === undefined) return undefined;
  return { count: waited.length || unbound.length, message: said !== undefined ? `${oldest.id}: ${said}` : `task ${oldest.id} has no node` };
}

/** failedScheduling is the scheduler's last FailedScheduling message about a task, if that is its last word. */
async function failedScheduling(opts: RunAutoscalerOptions, task: JobTask['spec']): Promise<string | undefined> {
  try {
    const evs = await opts.store.events.recent({ limit: 1, prefix: eventTokens({ object: { kind: 'Task', namespace: task.namespace, name: task.id } }).join('.') });
    const last = evs.at(-1)?.value;
    return last?.reason === 'FailedScheduling' ? last.message : undefined;
  } catch {
    // the reason is a courtesy: a task that waited the grace holds the scale-up without it
    return undefined;
  }
}

function mayWrite(opts: RunAutoscalerOptions): boolean {
  return !opts.signal.aborted && (opts.valid?.() ?? true);
}

/** write stores a Job's record by compare-and-set on what the informer holds; a lost race waits for the next period. */
async function write(opts: RunAutoscalerOptions, v: View, key: string, value: AutoscaleRecord, log: Logger): Promise<boolean> {
  if (!mayWrite(opts)) return false;
  const cur = v.records.entry(key);
  try {
    const revision = cur ? await opts.store.autoscale.update(key, value, cur.revision) : await opts.store.autoscale.create(key, value);
    v.records.apply(key, value, revision);
    return true;
  } catch (err) {
    if (isGitcellError(err, StoreErrorCodes.Conflict) || isGitcellError(err, StoreErrorCodes.Exists)) return false;
    log.warn({ key, err: errorMessage(err) }, 'autoscaler: could not store the decision');
    return false;
  }
}

/** emitDecision records a decision as an event: Normal Autoscaled for a change, Warning when held, else Normal. */
async function emitDecision(opts: RunAutoscalerOptions, namespace: string, name: string, o: AutoscaleOutcome, log: Logger): Promise<void> {
  const d = o.decision;
  const inputs = d.metrics.map((m) => (m.error ? `${m.metric}: ${m.error}` : `${m.metric} ${m.current} (target ${m.target}) over ${m.ready} ready, ${m.missing} missing, ${m.unready} unready: ${m.proposal}`)).join('; ');
  const held = d.reason === 'CapacityLimited' || d.reason === 'FailedGetMetrics' || d.reason === 'ScaleDownSkipped';
  const reason = o.changed ? 'Autoscaled' : held ? 'AutoscaleHeld' : 'AutoscaleSteady';
  const message = `${d.current} -> ${d.desired} (${d.reason}: ${d.message}); proposal ${d.proposal}, stabilized ${d.stabilized}; ${inputs}`;
  await record(opts, { type: held ? 'Warning' : 'Normal', reason, object: { kind: 'Job', namespace, name }, message }, log);
}

async function record(opts: RunAutoscalerOptions, ev: Omit<ClusterEvent, 'time' | 'source'>, log: Logger): Promise<void> {
  await recordEvent(opts.store.events, { ...ev, time: new Date((opts.now ?? Date.now)()).toISOString(), source: AUTOSCALER_SOURCE }, { log, valid: () => mayWrite(opts) });
}
