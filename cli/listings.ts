/**
 * What `gitcell get KIND` shows for each kind: the store records joined into rows (columns, wide
 * columns, labels for `-l`, the JSON form), with a REASON that says why something is not fine (a
 * task backing off on a missing image says so; a finished batch Job reads Complete 3/3, not 0/3).
 * Reads the store only; the row builders are pure.
 */
import { DEFAULT_NAMESPACE, NODE_GRACE_MS, autoscaleKey, maxTasks, nodeIsLive, statusKey, type Binding, type JobSpec, type CustomResourceDefinitionSpec, type NodeRecord, type NodeSpec, type TaskSpec, type TaskStatus } from '../api/index.ts';
// The modules themselves, not reconciler/index.ts: that would load the whole reconciler (git, ajv).
import { objectStatusKey } from '../reconciler/apply/keys.ts';
import type { CronJobStatus, DesiredRecord, WorkloadStatus } from '../reconciler/index.ts';
import { age, type ClientStore } from './client.ts';
import { listNodesWithLeases, readLiveness } from '../store/index.ts';
import { customKinds, type KindInfo } from './kinds.ts';
import { requirementsMatch, type Requirement } from '../api/index.ts';
import type { Row } from './output.ts';
import { serviceItems } from './services.ts';
import { AUTOSCALE_HEAD, autoscaleCells } from './autoscale.ts';

/** TaskRow is a task with its binding and the state its agent reports (`get tasks -o json`). */
export interface TaskRow {
  spec: TaskSpec;
  node?: string;
  state: TaskStatus['state'] | 'unscheduled' | 'unknown';
  ready: boolean;
  status?: TaskStatus;
}

/** listTasks joins tasks, bindings and statuses. */
export async function listTasks(store: ClientStore): Promise<TaskRow[]> {
  const [tasks, bindings, statuses] = await Promise.all([store.tasks.list(), store.bindings.list(), store.status.list()]);
  return joinTasks(tasks.map((t) => t.value), new Map(bindings.map((b) => [b.key, b.value])), new Map(statuses.map((s) => [s.key, s.value])))
    .sort((a, b) => (a.spec.jobKey + a.spec.index).localeCompare(b.spec.jobKey + b.spec.index));
}

/** joinTask is one task with its binding and the status its bound node reports. Pure. */
export function joinTask(spec: TaskSpec, binding: Binding | undefined, statusOf: (key: string) => TaskStatus | undefined): TaskRow {
  const node = binding?.node ?? spec.nodeName;
  const st = node ? statusOf(statusKey(node, spec.id)) : undefined;
  const state: TaskRow['state'] = st?.state ?? (binding ? 'unknown' : 'unscheduled');
  return { spec, ...(node ? { node } : {}), state, ready: st?.ready ?? false, ...(st ? { status: st } : {}) };
}

/** joinTasks joins tasks with their bindings (by task id) and statuses (by statusKey). Pure. */
export function joinTasks(tasks: readonly TaskSpec[], bindings: ReadonlyMap<string, Binding>, statuses: ReadonlyMap<string, TaskStatus>): TaskRow[] {
  return tasks.map((t) => joinTask(t, bindings.get(t.id), (k) => statuses.get(k)));
}

/** taskReason names why a task is where it is, kubectl-style (ImagePullBackOff, CrashLoopBackOff, OOMKilled...). */
export function taskReason(t: Pick<TaskRow, 'state' | 'ready' | 'status'>): string {
  const st = t.status;
  const msg = st?.message ?? '';
  switch (t.state) {
    case 'unscheduled':
      return 'Unscheduled';
    case 'backoff':
      if (/^start failed/.test(msg)) return /image|manifest|pull|registry|E_BLOB_NOT_FOUND|unauthori[sz]ed/i.test(msg) ? 'ImagePullBackOff' : 'StartError';
      return st?.oomKilled ? 'OOMKilled' : 'CrashLoopBackOff';
    case 'failed':
      return st?.oomKilled ? 'OOMKilled' : `Error${st?.exitCode !== undefined ? ` (exit ${st.exitCode})` : ''}`;
    case 'succeeded':
      return 'Completed';
    case 'running':
      return t.ready ? '' : msg ? 'NotReady' : 'Starting';
    default:
      return '';
  }
}

/** short cuts a message to `n` characters for a table cell. */
export function short(s: string, n = 60): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** reasonCell is the REASON column: the reason and, in a table, the start of the message behind it. */
function reasonCell(reason: string, message: string | undefined): string {
  if (!reason) return '-';
  return message && reason !== 'Completed' ? `${reason}: ${short(message, 50)}` : reason;
}

/** Query is what `get` asked for: a namespace (undefined: all), names (none: all), a selector. */
export interface Query {
  namespace?: string;
  names: readonly string[];
  selector: readonly Requirement[];
}

/** Item is one object before filtering: where it lives, its labels, its row and its JSON form. */
export interface Item extends Row {
  namespace?: string;
  objectName: string;
  labels: Record<string, string>;
  json: unknown;
}

/** KindListing is the rows of one kind for a query, and the names asked for that were not found. */
export interface KindListing {
  head: string[];
  wideHead: string[];
  rows: Item[];
  missing: string[];
}

function filter(items: Item[], q: Query, namespaced: boolean): { rows: Item[]; missing: string[] } {
  const inScope = items.filter((i) => !namespaced || q.namespace === undefined || i.namespace === q.namespace);
  const named = q.names.length ? inScope.filter((i) => q.names.includes(i.objectName)) : inScope;
  const rows = named.filter((i) => requirementsMatch(q.selector, i.labels));
  const missing = q.names.filter((n) => !inScope.some((i) => i.objectName === n));
  return { rows, missing };
}

const nsOf = (r: DesiredRecord): string => r.object.metadata.namespace ?? DEFAULT_NAMESPACE;

/** rowOf is what every listing row of a namespaced object shares: `type/name`, its namespace and labels. */
const rowOf = (type: string, rec: DesiredRecord): Pick<Item, 'name' | 'objectName' | 'namespace' | 'labels'> => ({
  name: `${type}/${rec.object.metadata.name}`,
  objectName: rec.object.metadata.name,
  namespace: nsOf(rec),
  labels: rec.object.metadata.labels ?? {},
});

/** crdSpecs reads the CRDs applied to the cluster. */
export async function crdSpecs(store: ClientStore): Promise<CustomResourceDefinitionSpec[]> {
  return (await store.desired.list('CustomResourceDefinition')).map((r) => r.value.object.spec as CustomResourceDefinitionSpec);
}

/** clusterKinds is every kind the cluster knows: built-in and user kinds. */
export async function clusterKinds(store: ClientStore, builtin: readonly KindInfo[]): Promise<KindInfo[]> {
  return [...builtin, ...customKinds(await crdSpecs(store))];
}

/** listKind builds the listing of one kind for `q`. */
export async function listKind(store: ClientStore, kind: KindInfo, q: Query, now = Date.now()): Promise<KindListing> {
  const { head, wideHead, items } = await ITEMS[kind.kind]?.(store, now) ?? (await customItems(store, kind, now));
  // NAMESPACE leads only when several namespaces can show up (-A), as kubectl.
  const showNs = kind.namespaced && q.namespace === undefined;
  const { rows, missing } = filter(items, q, kind.namespaced);
  return {
    head: showNs ? ['NAMESPACE', ...head] : head,
    wideHead,
    rows: showNs ? rows.map((r) => ({ ...r, cells: [r.namespace ?? '-', ...r.cells] })) : rows,
    missing,
  };
}

type Items = (store: ClientStore, now: number) => Promise<{ head: string[]; wideHead: string[]; items: Item[] }>;

async function workloadStatus<T>(store: ClientStore, kind: string, rec: DesiredRecord): Promise<T | undefined> {
  return (await store.sync.get(objectStatusKey(kind, nsOf(rec), rec.object.metadata.name)))?.value as T | undefined;
}

/** workloadCells renders READY, STATUS and REASON of a Job or DaemonSet. */
export function workloadCells(type: string | undefined, st: WorkloadStatus | undefined): { ready: string; status: string; reason: string } {
  if (!st) return { ready: '-', status: 'Pending', reason: '-' };
  if (type === 'batch' && st.batch) {
    const b = st.batch;
    return { ready: `${b.succeeded}/${st.desired}`, status: b.phase, reason: b.phase === 'Failed' ? short(b.reason ?? `${b.failed} failed`) : b.failed ? `${b.failed} failed` : '-' };
  }
  const failed = st.rollout?.phase === 'Failed' ? st.rollout.failed : undefined;
  const stalled = st.conditions.find((c) => c.status === 'False' && c.reason && c.type !== 'Progressing');
  return {
    ready: `${st.ready}/${st.desired}`,
    status: st.rollout?.phase ?? (st.ready >= st.desired ? 'Complete' : 'Progressing'),
    reason: failed ? `${failed.reason}: ${short(failed.tasks[0]?.lastError ?? failed.message, 50)}` : stalled ? `${stalled.reason}` : '-',
  };
}

const workloads = (kind: 'Job' | 'DaemonSet'): Items => async (store, now) => {
  const recs = (await store.desired.list(kind)).map((r) => r.value);
  const items = await Promise.all(
    recs.map(async (rec): Promise<Item> => {
      const status = await workloadStatus<WorkloadStatus>(store, kind, rec);
      const type = kind === 'Job' ? ((rec.object.spec as { type?: string }).type ?? 'service') : undefined;
      const c = workloadCells(type, status);
      const name = rec.object.metadata.name;
      // Jobs: Git's replicas, the tasks there are, and the autoscaler's live count (it owns it, never Git).
      const spec = rec.object.spec as Partial<JobSpec>;
      const autoscale = kind === 'Job' && spec.autoscale ? (await store.autoscale.get(autoscaleKey(nsOf(rec), name)))?.value : undefined;
      const counts = kind === 'Job' ? autoscaleCells(spec, autoscale, status?.current) : [];
      return {
        ...rowOf(kind.toLowerCase(), rec),
        cells: [name, ...(type ? [type] : []), c.ready, c.status, c.reason, ...counts, age(rec.updatedAt, now)],
        wide: [status?.updated ?? '-', rec.generation, rec.revision.slice(0, 12)],
        json: { object: rec.object, generation: rec.generation, revision: rec.revision, status, ...(autoscale ? { autoscale } : {}) },
      };
    }),
  );
  return { head: ['NAME', ...(kind === 'Job' ? ['TYPE'] : []), 'READY', 'STATUS', 'REASON', ...(kind === 'Job' ? AUTOSCALE_HEAD : []), 'AGE'], wideHead: ['UP-TO-DATE', 'GEN', 'REVISION'], items };
};

const tasks: Items = async (store, now) => {
  const [rows, jobs] = await Promise.all([listTasks(store), store.desired.list()]);
  const labelsOf = new Map(jobs.map((j) => [`${j.value.object.kind}/${nsOf(j.value)}/${j.value.object.metadata.name}`, j.value.object.metadata.labels ?? {}]));
  const items = rows.map((r): Item => {
    const reason = taskReason(r);
    return {
      name: `task/${r.spec.id}`,
      objectName: r.spec.id,
      namespace: r.spec.namespace,
      labels: { ...labelsOf.get(r.spec.jobKey), 'gitcell.io/job': r.spec.owner.name },
      cells: [r.spec.id, r.spec.owner.name, r.node ?? '-', r.state, r.ready ? 'yes' : 'no', r.status?.restarts ?? 0, reasonCell(reason, r.status?.message), age(r.spec.createdAt, now)],
      wide: [r.spec.template.image, r.status?.ip ?? '-', r.status?.message ?? '-'],
      json: r,
    };
  });
  return { head: ['ID', 'JOB', 'NODE', 'STATE', 'READY', 'RESTARTS', 'REASON', 'AGE'], wideHead: ['IMAGE', 'IP', 'MESSAGE'], items };
};

/** NodeRow is a node with its admin spec, liveness and what its tasks request (`get nodes -o json`). */
export interface NodeRow {
  node: NodeRecord;
  spec?: NodeSpec;
  ready: boolean;
  /** the grace `ready` was judged by: the published one (store/liveness.ts) */
  graceMs: number;
  tasks: number;
  requested: { cpuMillis: number; memoryBytes: number };
}

/** listNodes joins node records (with their leases: liveness), their admin specs and their tasks' requests. */
export async function listNodes(store: ClientStore, now = Date.now()): Promise<NodeRow[]> {
  const [nodes, specs, tasks, liveness] = await Promise.all([listNodesWithLeases(store), store.nodespec.list(), listTasks(store), readLiveness(store.cluster)]);
  const specOf = new Map(specs.map((s) => [s.key, s.value]));
  return nodes.map((n) => nodeRow(n.value, specOf.get(n.key), tasks.filter((t) => t.node === n.key), now, liveness.graceMs));
}

/** nodeRow is one node with its admin spec, liveness and what its tasks (those bound to it) request. Pure. */
export function nodeRow(node: NodeRecord, spec: NodeSpec | undefined, tasks: readonly TaskRow[], now: number, graceMs = NODE_GRACE_MS): NodeRow {
  const on = tasks.filter((t) => !['succeeded', 'failed', 'stopped'].includes(t.state));
  const used = on.reduce((a, t) => ({ cpu: a.cpu + t.spec.template.resources.requests.cpuMillis, mem: a.mem + t.spec.template.resources.requests.memoryBytes }), { cpu: 0, mem: 0 });
  return { node, ...(spec ? { spec } : {}), ready: nodeIsLive(node, now, graceMs), graceMs, tasks: on.length, requested: { cpuMillis: used.cpu, memoryBytes: used.mem } };
}

/** mib renders bytes in MiB. */
export const mib = (b: number): string => `${Math.round(b / 2 ** 20)}Mi`;

const nodes: Items = async (store, now) => {
  const items = (await listNodes(store, now)).map((r): Item => ({
    name: `node/${r.node.name}`,
    objectName: r.node.name,
    labels: { ...r.node.labels, ...r.spec?.labels },
    cells: [
      r.node.name,
      r.ready ? 'yes' : 'no',
      r.spec?.draining ? 'draining' : r.spec?.cordoned ? 'cordoned' : 'enabled',
      `${r.tasks}/${maxTasks(r.node.allocatable) ?? "-"}`,
      `${r.requested.cpuMillis}m/${r.node.allocatable.cpuMillis}m`,
      `${mib(r.requested.memoryBytes)}/${mib(r.node.allocatable.memoryBytes)}`,
      r.ready ? '-' : `NodeNotReady: no heartbeat for ${age(r.node.heartbeatAt, now)}`,
      age(r.node.heartbeatAt, now),
    ],
    wide: [r.node.addresses.join(',') || '-', r.node.runtime.kernel, r.node.runtime.agentVersion],
    json: r,
  }));
  return { head: ['NAME', 'READY', 'SCHEDULING', 'TASKS', 'CPU (req/alloc)', 'MEMORY (req/alloc)', 'REASON', 'HEARTBEAT'], wideHead: ['ADDRESSES', 'KERNEL', 'AGENT'], items };
};

const cronjobs: Items = async (store, now) => {
  const recs = (await store.desired.list('CronJob')).map((r) => r.value);
  const items = await Promise.all(
    recs.map(async (rec): Promise<Item> => {
      const status = await workloadStatus<CronJobStatus>(store, 'CronJob', rec);
      const spec = rec.object.spec as { schedule?: string; suspend?: boolean; timeZone?: string };
      const name = rec.object.metadata.name;
      return {
        ...rowOf('cronjob', rec),
        cells: [name, `${spec.schedule ?? ''}${spec.timeZone ? ` (${spec.timeZone})` : ''}`, spec.suspend ? 'yes' : 'no', status?.active.length ?? 0, age(status?.lastScheduleTime, now), status?.error ? short(status.error) : '-'],
        wide: [status?.nextScheduleTime ?? '-', status?.lastSuccessfulTime ?? '-'],
        json: { object: rec.object, generation: rec.generation, status },
      };
    }),
  );
  return { head: ['NAME', 'SCHEDULE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'REASON'], wideHead: ['NEXT', 'LAST SUCCESS'], items };
};

/** redactSecret keeps a Secret's key names and hides every value (sealed or not). */
export function redactSecret<T extends { spec?: unknown }>(o: T): T {
  const spec = { ...((o.spec as Record<string, unknown>) ?? {}) };
  for (const f of ['encryptedData', 'data', 'stringData']) {
    const m = spec[f] as Record<string, unknown> | undefined;
    if (m) spec[f] = Object.fromEntries(Object.keys(m).map((k) => [k, '(hidden)']));
  }
  return { ...o, spec };
}

/** secretKeys lists a Secret's key names, whichever field holds them. */
export function secretKeys(spec: { encryptedData?: object; data?: object; stringData?: object }): string[] {
  return [...new Set([...Object.keys(spec.encryptedData ?? {}), ...Object.keys(spec.data ?? {}), ...Object.keys(spec.stringData ?? {})])].sort();
}

const secrets: Items = async (store, now) => {
  const items = (await store.desired.list('Secret')).map(({ value: rec }): Item => {
    const spec = rec.object.spec as { type?: string; encryptedData?: object; data?: object; stringData?: object };
    const name = rec.object.metadata.name;
    return {
      ...rowOf('secret', rec),
      cells: [name, spec.type ?? 'Opaque', secretKeys(spec).length, spec.encryptedData ? 'sealed' : 'plaintext', age(rec.updatedAt, now)],
      wide: [secretKeys(spec).join(',') || '-', rec.revision.slice(0, 12)],
      json: { object: redactSecret(rec.object as { spec?: unknown }), generation: rec.generation, revision: rec.revision },
    };
  });
  return { head: ['NAME', 'TYPE', 'DATA', 'SEALED', 'AGE'], wideHead: ['KEYS', 'REVISION'], items };
};

const crds: Items = async (store, now) => {
  const items = (await store.desired.list('CustomResourceDefinition')).map(({ value: rec }): Item => {
    const spec = rec.object.spec as CustomResourceDefinitionSpec;
    return {
      name: `customresourcedefinition/${rec.object.metadata.name}`,
      objectName: rec.object.metadata.name,
      labels: rec.object.metadata.labels ?? {},
      cells: [rec.object.metadata.name, spec.names.kind, spec.group, (spec.names.shortNames ?? []).join(',') || '-', age(rec.updatedAt, now)],
      wide: [spec.versions.map((v) => v.name).join(',')],
      json: { object: rec.object, generation: rec.generation, revision: rec.revision },
    };
  });
  return { head: ['NAME', 'KIND', 'GROUP', 'SHORTNAMES', 'AGE'], wideHead: ['VERSIONS'], items };
};

async function customItems(store: ClientStore, kind: KindInfo, now: number): Promise<{ head: string[]; wideHead: string[]; items: Item[] }> {
  const items = (await store.desired.list(kind.kind)).map(({ value: rec }): Item => ({
    ...rowOf(kind.singular, rec),
    cells: [rec.object.metadata.name, rec.generation, age(rec.updatedAt, now)],
    wide: [rec.object.apiVersion, rec.revision.slice(0, 12)],
    json: { object: rec.object, generation: rec.generation, revision: rec.revision },
  }));
  return { head: ['NAME', 'GEN', 'AGE'], wideHead: ['API VERSION', 'REVISION'], items };
}

const ITEMS: Record<string, Items> = {
  Job: workloads('Job'),
  DaemonSet: workloads('DaemonSet'),
  Task: tasks,
  Node: nodes,
  CronJob: cronjobs,
  Secret: secrets,
  Service: serviceItems,
  CustomResourceDefinition: crds,
};

/** WATCHED_BUCKETS are the buckets whose changes can change a kind's rows (`get -w`). */
export const WATCHED_BUCKETS: Record<string, readonly ('desired' | 'sync' | 'tasks' | 'bindings' | 'status' | 'nodes' | 'nodespec' | 'services' | 'autoscale')[]> = {
  Job: ['desired', 'sync', 'autoscale'],
  DaemonSet: ['desired', 'sync'],
  CronJob: ['desired', 'sync'],
  Task: ['tasks', 'bindings', 'status'],
  Node: ['nodes', 'nodespec', 'tasks', 'bindings'],
  Service: ['desired', 'services'],
};
