/**
 * The rows the browser shows, built from store records by the CLI's own pure cores (cli/listings.ts:
 * joinTask, taskReason, nodeRow, workloadCells), so `gitcell get` and the dashboard never disagree.
 * Rows are small flat JSON objects: the server sends a row again only when its JSON changed.
 */
import { liveReplicas, maxTasks, type AutoscaleRecord, type JobSpec, type NodeRecord, type NodeSpec, type TaskStatus } from '../api/index.ts';
import { decisionInputs } from '../cli/autoscale.ts';
import { nodeRow, taskReason, workloadCells, type TaskRow } from '../cli/listings.ts';
import type { DesiredRecord, SyncStatus, WorkloadStatus } from '../reconciler/index.ts';

/**
 * TaskView is one task as the dashboard lists it: only what a list row shows (10,000 of them go to
 * every new browser); the rest of the spec is on the task page.
 */
export interface TaskView {
  id: string;
  /** `<Kind>/<namespace>/<name>` of its job */
  job: string;
  index: number;
  node?: string;
  state: TaskRow['state'];
  ready: boolean;
  restarts: number;
  ip?: string;
  /** why it is not fine (taskReason), '' when it is */
  reason: string;
  message?: string;
  template: string;
}

/** taskView is the row of a joined task. Pure. */
export function taskView(r: TaskRow): TaskView {
  const st = r.status;
  return {
    id: r.spec.id,
    job: r.spec.jobKey,
    index: r.spec.index,
    ...(r.node ? { node: r.node } : {}),
    state: r.state,
    ready: r.ready,
    restarts: st?.restarts ?? 0,
    ...(st?.ip ? { ip: st.ip } : {}),
    reason: taskReason(r),
    ...(st?.message ? { message: st.message } : {}),
    template: r.spec.templateHash,
  };
}

/** NodeView is one node with its capacity bars: requested, used and allocatable. */
export interface NodeView {
  name: string;
  ready: boolean;
  scheduling: 'enabled' | 'cordoned' | 'draining';
  tasks: number;
  maxTasks?: number;
  cpu: { requested: number; used: number; allocatable: number };
  memory: { requested: number; used: number; allocatable: number };
  labels: Record<string, string>;
  heartbeatAt: string;
  addresses: string[];
}

/** nodeView is the row of a node from its record, admin spec and the tasks bound to it. Pure. */
export function nodeView(node: NodeRecord, spec: NodeSpec | undefined, tasks: readonly TaskRow[], now: number, graceMs?: number): NodeView {
  const r = nodeRow(node, spec, tasks, now, graceMs);
  const running = tasks.filter((t) => t.status?.state === 'running');
  const usage = (f: (s: TaskStatus) => number | undefined) => running.reduce((a, t) => a + (f(t.status!) ?? 0), 0);
  const slots = maxTasks(node.allocatable);
  return {
    name: node.name,
    ready: r.ready,
    scheduling: spec?.draining ? 'draining' : spec?.cordoned ? 'cordoned' : 'enabled',
    tasks: r.tasks,
    ...(slots !== undefined ? { maxTasks: slots } : {}),
    cpu: { requested: r.requested.cpuMillis, used: usage((s) => s.usage?.cpuMillis), allocatable: node.allocatable.cpuMillis },
    memory: { requested: r.requested.memoryBytes, used: usage((s) => s.usage?.memoryBytes), allocatable: node.allocatable.memoryBytes },
    labels: { ...node.labels, ...spec?.labels },
    heartbeatAt: node.heartbeatAt,
    addresses: node.addresses,
  };
}

/** JobView is one Job or DaemonSet: its health (the READY/STATUS/REASON of `get jobs`) and rollout. */
export interface JobView {
  /** `<Kind>/<namespace>/<name>`, the tasks' jobKey */
  key: string;
  kind: string;
  namespace: string;
  name: string;
  type?: string;
  ready: string;
  status: string;
  reason: string;
  /** the Git revision that last changed it */
  revision: string;
  generation: number;
  workload?: WorkloadStatus;
  /** the autoscaler's side, when the Job has an `autoscale:` block */
  autoscale?: AutoscaleView;
}

/** AutoscaleView is what the job page shows of an autoscaled Job (as `describe job` does). */
export interface AutoscaleView {
  min: number;
  max: number;
  /** Git's `replicas`: where it starts and returns to; not used while autoscaled */
  git: number;
  /** the count the controllers run: the autoscale bucket's, within Git's bounds */
  live: number;
  /** the bucket's own count (absent before the first decision) */
  stored?: number;
  /** the last decisions, newest first, each with its inputs in one line */
  decisions: { at: string; current: number; desired: number; proposal: number; stabilized: number; reason: string; message: string; inputs: string }[];
}

/** autoscaleView is the autoscale side of a Job's row (undefined without a block). Pure. */
export function autoscaleView(spec: Partial<JobSpec>, record: AutoscaleRecord | undefined): AutoscaleView | undefined {
  const a = spec.autoscale;
  if (!a) return undefined;
  return {
    min: a.minReplicas ?? 1,
    max: a.maxReplicas,
    git: spec.replicas ?? 1,
    live: liveReplicas(spec, record),
    ...(record ? { stored: record.replicas } : {}),
    decisions: [...(record?.decisions ?? [])].reverse().map((d) => ({
      at: d.at, current: d.current, desired: d.desired, proposal: d.proposal, stabilized: d.stabilized, reason: d.reason, message: d.message, inputs: decisionInputs(d),
    })),
  };
}

/** WORKLOAD_KINDS are the kinds the dashboard lists as jobs. */
export const WORKLOAD_KINDS = ['Job', 'DaemonSet'] as const;

/** jobView is the row of a workload from its desired record, controller status and autoscale record. Pure. */
export function jobView(rec: DesiredRecord, st: WorkloadStatus | undefined, scaled?: AutoscaleRecord): JobView {
  const o = rec.object;
  const namespace = o.metadata.namespace ?? 'default';
  const type = o.kind === 'Job' ? ((o.spec as { type?: string }).type ?? 'service') : undefined;
  const c = workloadCells(type, st);
  const autoscale = o.kind === 'Job' ? autoscaleView(o.spec as Partial<JobSpec>, scaled) : undefined;
  return {
    key: `${o.kind}/${namespace}/${o.metadata.name}`,
    kind: o.kind,
    namespace,
    name: o.metadata.name,
    ...(type ? { type } : {}),
    ready: c.ready,
    status: c.status,
    reason: c.reason,
    revision: rec.revision,
    generation: rec.generation,
    ...(st ? { workload: st } : {}),
    ...(autoscale ? { autoscale } : {}),
  };
}

/** SourceView is the Git source: applied revision (with author and subject when the repository is readable) and conditions. */
export interface SourceView {
  name: string;
  status: SyncStatus;
  commit?: { author: string; subject: string; time: string };
}

/** MalformedView is a store record the store refused to decode: shown as such, never dropped silently. */
export interface MalformedView {
  bucket: string;
  key: string;
  revision: number;
  reason: string;
}
