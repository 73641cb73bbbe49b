/**
 * Node identity comes from the store key, never from the record body (like Kubernetes'
 * NodeRestriction). NATS permissions let the agent of node X write only the key `nodes.X`, so the
 * key names the node; a body naming another node is forged and refused. Labels under
 * RESERVED_LABEL_PREFIX place work (Secret-bearing work above all) and are set only by the operator
 * through the node's NodeSpec: the agent's own are dropped. Operator taints always apply, and the
 * operator may cap what a node says it can allocate. Pure.
 */
import { maxTasks, statusKey, type NodeRecord, type NodeSpec, type TaskStatus } from './cluster.ts';

/** RESERVED_LABEL_PREFIX starts the node labels only the control plane sets (from the NodeSpec). */
export const RESERVED_LABEL_PREFIX = 'node.gitcell.io/';

/** RefusedNodeRecord is a record whose body disagrees with its key. */
export interface RefusedNodeRecord {
  key: string;
  claimed: unknown;
  reason: string;
}

/**
 * trustedNodeRecords returns the records keyed by node name (the key), each with its name from the
 * key and without reserved labels, and the records refused because their body names another node.
 */
export function trustedNodeRecords(entries: Iterable<readonly [string, NodeRecord]>): { nodes: Map<string, NodeRecord>; refused: RefusedNodeRecord[] } {
  const nodes = new Map<string, NodeRecord>();
  const refused: RefusedNodeRecord[] = [];
  for (const [key, record] of entries) {
    if (!nodeRecordMatchesKey(key, record)) {
      refused.push({ key, claimed: record.name, reason: `node record ${key} names node ${JSON.stringify(record.name)}: the key (the writer's identity) and the body disagree; refused` });
      continue;
    }
    nodes.set(key, { ...record, labels: withoutReservedLabels(record.labels ?? {}) });
  }
  return { nodes, refused };
}

/**
 * nodeRecordMatchesKey tells whether a node record's body names the node of its key (the writer's
 * identity): the rule trustedNodeRecords applies, for a reader that needs no trusted copy.
 */
export function nodeRecordMatchesKey(key: string, record: Pick<NodeRecord, 'name'>): boolean {
  return record.name === key;
}

/** withoutReservedLabels drops the labels under RESERVED_LABEL_PREFIX. */
export function withoutReservedLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith(RESERVED_LABEL_PREFIX)));
}

/**
 * withNodeSpec is the node the control plane places work on: the agent's record with its reserved
 * labels replaced by the NodeSpec's labels, the operator's taints added, and allocatable capped.
 * The scheduler and the DaemonSet controller both judge nodes by it, so a node cannot place
 * Secret-bearing work on itself through either.
 */
export function withNodeSpec(record: NodeRecord, spec: NodeSpec | undefined): NodeRecord {
  return {
    ...record,
    labels: { ...withoutReservedLabels(record.labels ?? {}), ...(spec?.labels ?? {}) },
    taints: [...(record.taints ?? []), ...(spec?.taints ?? [])],
    allocatable: cappedAllocatable(record, spec),
  };
}

/** cappedAllocatable is what a node may be given: its own report, capped by the operator's NodeSpec. */
export function cappedAllocatable(record: NodeRecord, spec: NodeSpec | undefined): NodeRecord['allocatable'] {
  const cap = spec?.maxAllocatable;
  if (!cap) return record.allocatable;
  const min = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
  const out: NodeRecord['allocatable'] = { ...record.allocatable };
  for (const k of ['cpuMillis', 'memoryBytes'] as const) out[k] = min(record.allocatable[k], cap[k]) ?? record.allocatable[k];
  // Task slots by either name (maxTasks): the result carries the new name only.
  const slots = min(maxTasks(record.allocatable), maxTasks(cap));
  if (slots !== undefined) {
    delete out.pods;
    out.tasks = slots;
  }
  return out;
}

/**
 * statusMatchesKey tells whether a task status agrees with its key `<node>.<taskId>` (the node part
 * is what NATS permissions tie to the writer): one that names another node or task is forged.
 */
export function statusMatchesKey(key: string, status: Pick<TaskStatus, 'node' | 'taskId'>): boolean {
  return key === statusKey(status.node, status.taskId);
}

/**
 * boundTaskStatus is trustedTaskStatuses for one task that exists, by one lookup instead of a scan:
 * the status under the key of the node the task is bound to, if its body agrees with that key;
 * undefined while the task is bound nowhere (`boundTo` null) or that node has not reported it.
 */
export function boundTaskStatus(taskId: string, boundTo: string | null, get: (key: string) => TaskStatus | undefined): TaskStatus | undefined {
  if (boundTo === null) return undefined;
  const key = statusKey(boundTo, taskId);
  const s = get(key);
  return s && statusMatchesKey(key, s) ? s : undefined;
}

/** RefusedStatus is a task status whose writer is not the node the task is bound to. */
export interface RefusedStatus {
  key: string;
  node: string;
  taskId: string;
  boundTo: string;
  reason: string;
}

/**
 * TaskPlacement says where a task runs: the node it is bound to (its binding, else the node a
 * DaemonSet pinned it to, else the node a rebuilt store's hint names); null for a task that exists
 * but runs nowhere yet; undefined for a task that does not exist.
 */
export type TaskPlacement = (taskId: string) => string | null | undefined;

/**
 * trustedTaskStatuses keeps, per task, the status written by the node the task is bound to. The
 * key names the writer (permissions), so a status of another node's task is that node reporting
 * on work it was never given (a forged "failed" would roll back a good commit, a forged
 * "succeeded" end a batch Job): refused. A task not bound yet has no status; a task that does not
 * exist keeps its newest report (after a store rebuild, agents report tasks the store forgot, and
 * those reports are what re-adopts them). Forged bodies (statusMatchesKey) are dropped too. Pure.
 */
export function trustedTaskStatuses(entries: Iterable<readonly [string, TaskStatus]>, placement: TaskPlacement): { byTask: Map<string, TaskStatus>; refused: RefusedStatus[] } {
  const byTask = new Map<string, TaskStatus>();
  const refused: RefusedStatus[] = [];
  for (const [key, s] of entries) {
    if (!statusMatchesKey(key, s)) continue;
    const boundTo = placement(s.taskId);
    if (boundTo === null) continue;
    if (boundTo !== undefined && boundTo !== s.node) {
      refused.push(refusedStatus(key, s, boundTo));
      continue;
    }
    const prev = byTask.get(s.taskId);
    if (!prev || prev.updatedAt < s.updatedAt) byTask.set(s.taskId, s);
  }
  return { byTask, refused };
}

/**
 * trustedStatusOf is trustedTaskStatuses for the statuses of one task whose placement `boundTo` is
 * known: `keys` are its status keys in the order the full scan meets them, each body naming that
 * task and agreeing with its key (`get` reads it). Returns its trusted status and pushes the refused
 * ones onto `refused`. The same rule without a map per call: TrustedStatusIndex judges a task at
 * every change of it (at 100,000 tasks, ~450,000 judgements in a commit).
 */
export function trustedStatusOf(keys: readonly string[], get: (key: string) => TaskStatus, boundTo: string | null | undefined, refused: RefusedStatus[]): TaskStatus | undefined {
  if (boundTo === null) return undefined;
  let best: TaskStatus | undefined;
  for (const key of keys) {
    const s = get(key);
    if (boundTo !== undefined && boundTo !== s.node) {
      refused.push(refusedStatus(key, s, boundTo));
      continue;
    }
    if (!best || best.updatedAt < s.updatedAt) best = s;
  }
  return best;
}

function refusedStatus(key: string, s: TaskStatus, boundTo: string): RefusedStatus {
  return { key, node: s.node, taskId: s.taskId, boundTo, reason: `status of task ${s.taskId} written by node ${s.node}, but the task is bound to ${boundTo}: refused` };
}
