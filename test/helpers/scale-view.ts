/**
 * The scale harness's view of the cluster: batched informers on tasks, bindings, status and nodes
 * (the control plane's identity), condition waits re-checked on changes (at most every 250 ms: a check
 * walks 100,000 tasks), the correctness checks of the scale test (`placementProblems`), and what
 * the harness looks at while it follows nothing: the buckets' write counts (`writeMarks`, their
 * streams' last sequences) and the records' own server times (`ScaleView.lastTimes`).
 */
import type { Binding, NodeRecord, TaskSpec, TaskStatus } from '../../api/index.ts';
import { Informer, type ClusterStore, type InformerEntry, type RoBucket } from '../../store/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { DAEMONSETS } from './scale-workload.ts';

/** VIEW_BATCH_MS is how late the view's copies may be (the waits' own re-check period). */
const VIEW_BATCH_MS = 250;

/** ScaleView follows the cluster's tasks, bindings, statuses and nodes. */
export class ScaleView {
  readonly tasks: Informer<TaskSpec>;
  readonly bindings: Informer<Binding>;
  readonly status: Informer<TaskStatus>;
  readonly nodes: Informer<NodeRecord>;
  private readonly stop = new AbortController();
  private changed = false;

  constructor(store: Pick<ClusterStore, 'tasks' | 'bindings' | 'status' | 'nodes'>) {
    const signal = this.stop.signal;
    const log = silentLogger();
    const onChange = () => (this.changed = true);
    // Batched (pull consumers asked every 250 ms, store/pull.ts): the waits re-check at most that
    // often anyway, and nats-server then writes the harness each batch back to back instead of
    // waking for it per task, binding and status (~3.5 deliveries per task in a 100,000-task commit,
    // on the cores the measured processes share).
    const b = { batchMs: VIEW_BATCH_MS };
    this.tasks = new Informer(store.tasks, { signal, log, onChange, ...b });
    // With each record's server time: the phases' times are taken from the records (lastTimes).
    this.bindings = new Informer(store.bindings, { signal, log, onChange, times: true, ...b });
    this.status = new Informer(store.status, { signal, log, onChange, times: true, ...b });
    this.nodes = new Informer(store.nodes, { signal, log, onChange, ...b });
  }

  async synced(): Promise<void> {
    await Promise.all([this.tasks.synced, this.bindings.synced, this.status.synced, this.nodes.synced]);
  }

  /** until resolves with the first defined value of `check` (re-checked after changes), or throws after `ms` with `describe()`. */
  async until<T>(what: string, ms: number, check: () => T | undefined, describe: () => string = () => ''): Promise<T> {
    const deadline = Date.now() + ms;
    this.changed = true;
    for (;;) {
      if (this.changed) {
        this.changed = false;
        const v = check();
        if (v !== undefined) return v;
      }
      if (Date.now() > deadline) throw new Error(`scale: ${what}: not within ${ms / 1000} s (${describe()})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** runningOn is the task's status on its bound node when that says running with the task's template. */
  runningOn(t: TaskSpec): TaskStatus | undefined {
    return this.runningEntry(t)?.value;
  }

  private runningEntry(t: TaskSpec): InformerEntry<TaskStatus> | undefined {
    const b = this.bindings.get(t.id);
    const s = b ? this.status.entry(`${b.node}.${t.id}`) : undefined;
    return s && s.value.state === 'running' && s.value.templateHash === t.templateHash ? s : undefined;
  }

  /**
   * lastTimes is when the newest of the tasks' bindings and of their running statuses were stored
   * (server time, epoch ms): once each of `tasks` is bound and running, the moment the last of them
   * became so (a record rewritten since counts at its rewrite: never earlier than the truth).
   * NaN when one is not bound or not running.
   */
  lastTimes(tasks: Iterable<TaskSpec>): { bound: number; running: number } {
    let bound = 0;
    let running = 0;
    for (const t of tasks) {
      const b = this.bindings.entry(t.id);
      const s = this.runningEntry(t);
      if (b?.created === undefined || s?.created === undefined) return { bound: NaN, running: NaN };
      bound = Math.max(bound, b.created);
      running = Math.max(running, s.created);
    }
    return { bound, running };
  }

  /** counts summarises progress: tasks, bound, running (for messages and logs). */
  counts(): { tasks: number; bound: number; running: number } {
    let bound = 0;
    let running = 0;
    for (const t of this.tasks.values()) {
      if (this.bindings.get(t.id)) bound++;
      if (this.runningOn(t)) running++;
    }
    return { tasks: this.tasks.entries.size, bound, running };
  }

  close(): Promise<void> {
    this.stop.abort();
    return Promise.all([this.tasks.done, this.bindings.done, this.status.done, this.nodes.done]).then(() => undefined);
  }
}

/** WriteMarks are the tasks', bindings' and status buckets' newest revisions: their streams' last sequences. */
export interface WriteMarks {
  tasks: number;
  bindings: number;
  status: number;
}

/** writeMarks reads the WriteMarks (one stream info request per bucket: nothing is followed). */
export async function writeMarks(store: Pick<ClusterStore, 'tasks' | 'bindings' | 'status'>): Promise<WriteMarks> {
  const [tasks, bindings, status] = await Promise.all([store.tasks.lastRevision(), store.bindings.lastRevision(), store.status.lastRevision()]);
  return { tasks, bindings, status };
}

/**
 * untilWrites polls the WriteMarks every 250 ms until `check` holds, or throws after `ms`: the
 * wait of a measured window, which costs the servers three API requests a poll instead of a
 * delivery of every record to the harness.
 */
export async function untilWrites(store: Pick<ClusterStore, 'tasks' | 'bindings' | 'status'>, what: string, ms: number, check: (m: WriteMarks) => boolean): Promise<WriteMarks> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = await writeMarks(store);
    if (check(m)) return m;
    if (Date.now() > deadline) throw new Error(`scale: ${what}: not within ${ms / 1000} s (writes ${JSON.stringify(m)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** firstWriteTime is the server time (epoch ms) of the bucket's first change after revision `after`; throws after 60 s. */
export async function firstWriteTime(bucket: Pick<RoBucket<unknown>, 'watch'>, after: number): Promise<number> {
  const w = bucket.watch({ afterRevision: after, lazy: true, signal: AbortSignal.timeout(60_000) });
  try {
    for await (const ev of w) if (ev.type !== 'synced') return ev.created.getTime();
  } finally {
    await w.close();
  }
  throw new Error(`scale: no change of ${after + 1} in 60 s`);
}

/**
 * lastDeleteTime is when the last of `keys` was deleted (server time, epoch ms), replaying the
 * bucket's changes after revision `after` once, up to revision `upTo` (a deleted key keeps its
 * tombstone). NaN when one of them was not deleted in them; throws after 120 s.
 */
export async function lastDeleteTime(bucket: Pick<RoBucket<unknown>, 'watch'>, after: number, upTo: number, keys: ReadonlySet<string>): Promise<number> {
  const missing = new Set(keys);
  let last = 0;
  if (upTo > after) {
    const w = bucket.watch({ afterRevision: after, lazy: true, batchMs: VIEW_BATCH_MS, signal: AbortSignal.timeout(120_000) });
    try {
      for await (const ev of w) {
        if (ev.type === 'delete' && missing.delete(ev.key)) last = Math.max(last, ev.created.getTime());
        if (ev.revision >= upTo) break;
      }
    } finally {
      await w.close();
    }
    if (w.revision < upTo) throw new Error(`scale: the replay of revisions ${after}..${upTo} ended at ${w.revision}`);
  }
  return missing.size === 0 ? last : NaN;
}

function matches(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * placementProblems lists what is wrong with the cluster as the view sees it, given the nodes that
 * live (`dead` were killed): a task without a binding, bound to a dead or unknown node, or not
 * running there with its template; a task running on two live nodes; a live node whose bound
 * tasks request more than it allocates; a DaemonSet missing from an eligible live node or on
 * another; a Job with more or fewer tasks than its replicas, or two tasks with one index.
 */
export function placementProblems(v: ScaleView, o: { dead: ReadonlySet<string>; tasksPerJob: number; jobs: number }): string[] {
  const out: string[] = [];
  const live = new Map([...v.nodes.entries].filter(([name]) => !o.dead.has(name)).map(([name, e]) => [name, e.value]));
  const used = new Map<string, { cpu: number; mem: number }>();
  const perJob = new Map<string, Set<number>>();
  const dsNodes = new Map<string, Set<string>>();
  for (const t of v.tasks.values()) {
    const b = v.bindings.get(t.id);
    if (t.jobKey.startsWith('DaemonSet/') && t.nodeName && o.dead.has(t.nodeName)) continue; // pinned to a dead node
    if (!b) { out.push(`task ${t.id} is not bound`); continue; }
    if (!live.has(b.node)) { out.push(`task ${t.id} is bound to ${b.node}, which is not a live node`); continue; }
    if (!v.runningOn(t)) out.push(`task ${t.id} is not running on ${b.node} with template ${t.templateHash}`);
    const u = used.get(b.node) ?? { cpu: 0, mem: 0 };
    u.cpu += t.template.resources.requests.cpuMillis;
    u.mem += t.template.resources.requests.memoryBytes;
    used.set(b.node, u);
    if (t.jobKey.startsWith('Job/')) {
      const s = perJob.get(t.jobKey) ?? new Set<number>();
      if (s.has(t.index)) out.push(`job ${t.jobKey} has two tasks with index ${t.index}`);
      s.add(t.index);
      perJob.set(t.jobKey, s);
    }
    if (t.jobKey.startsWith('DaemonSet/')) {
      const name = t.jobKey.split('/')[2]!;
      const s = dsNodes.get(name) ?? new Set<string>();
      if (s.has(b.node)) out.push(`DaemonSet ${name} has two tasks on ${b.node}`);
      s.add(b.node);
      dsNodes.set(name, s);
    }
  }
  // A task running on a second live node: a status saying running there for a task bound elsewhere.
  for (const [key, e] of v.status.entries) {
    const node = key.slice(0, key.indexOf('.'));
    const id = key.slice(key.indexOf('.') + 1);
    if (!live.has(node) || e.value.state !== 'running') continue;
    const b = v.bindings.get(id);
    if (b && b.node !== node) out.push(`task ${id} runs on ${node} and is bound to ${b.node}`);
  }
  for (const [node, u] of used) {
    const a = live.get(node)!.allocatable;
    if (u.cpu > a.cpuMillis || u.mem > a.memoryBytes) out.push(`node ${node} is overcommitted: ${u.cpu}m/${a.cpuMillis}m cpu, ${u.mem}/${a.memoryBytes} bytes`);
  }
  const jobs = [...perJob].filter(([k]) => /^Job\/default\/j\d{4}$/.test(k));
  if (jobs.length !== o.jobs) out.push(`${jobs.length} Jobs have tasks, expected ${o.jobs}`);
  for (const [key, s] of jobs) if (s.size !== o.tasksPerJob) out.push(`job ${key} has ${s.size} tasks, expected ${o.tasksPerJob}`);
  for (const [name, selector] of Object.entries(DAEMONSETS)) {
    const want = [...live.values()].filter((n) => matches(n.labels, selector)).map((n) => n.name);
    const have = dsNodes.get(name) ?? new Set<string>();
    const missing = want.filter((n) => !have.has(n));
    if (missing.length) out.push(`DaemonSet ${name} is missing on ${missing.length} eligible nodes (${missing.slice(0, 3).join(', ')}...)`);
    const wanted = new Set(want);
    const extra = [...have].filter((n) => !wanted.has(n));
    if (extra.length) out.push(`DaemonSet ${name} runs on ${extra.length} nodes it does not select (${extra.slice(0, 3).join(', ')}...)`);
  }
  return out;
}
