/**
 * DashboardModel: the store as the dashboard shows it. One Informer per bucket (the store's one
 * watch cache; no polling), rows rebuilt only for the keys a change touched, and every row whose JSON
 * changed handed to the subscribers (the SSE streams) in batches of at most one per FLUSH_MS.
 *
 *   informers ──onChange(key)──► dirty ids ──flush (≤ 1 per FLUSH_MS)──► rows (JSON compared) ──► RowBatch ──► subscribers
 *   events stream ──follow──► ring of recent events ──► subscribers
 *   onInvalid (a record the store refused) ──► malformed rows, cleared by the key's next good write
 */
import type { AutoscaleRecord, Binding, ClusterEvent, NodeRecord, NodeSpec, TaskSpec, TaskStatus } from '../api/index.ts';
import { Backoff, errorMessage, sleep, type Logger } from '../lib/index.ts';
import { defaultInformerBackoff, Informer, LivenessInformer, NodeInformer, type InformerChange, type InvalidRecord } from '../store/index.ts';
import type { ClientStore } from '../cli/client.ts';
import { joinTask, type TaskRow } from '../cli/listings.ts';
import type { DesiredRecord, SyncRecord, SyncStatus, WorkloadStatus } from '../reconciler/index.ts';
import { jobView, nodeView, taskView, WORKLOAD_KINDS, type JobView, type MalformedView, type NodeView, type SourceView, type TaskView } from './rows.ts';

/** FLUSH_MS bounds how often changed rows are sent: a burst of writes becomes one batch. */
export const FLUSH_MS = 50;
/** EVENTS_KEPT is how many recent cluster events the model keeps for new browsers. */
export const EVENTS_KEPT = 1000;
/** NODE_TICK_MS re-judges node liveness (a heartbeat that stops changes nothing in the store). */
const NODE_TICK_MS = 5000;

/** RowKind names a family of rows. */
export type RowKind = 'tasks' | 'nodes' | 'jobs' | 'sources' | 'malformed';

/** RowBatch is what changed: per family, rows by id (null: gone). */
export type RowBatch = Partial<Record<RowKind, Record<string, unknown>>>;

/** Snapshot is what a browser gets first: every row of the small families, the recent events, and the tasks of the page in view (the rest follow). */
export interface Snapshot {
  tasks: TaskView[];
  nodes: NodeView[];
  jobs: JobView[];
  sources: SourceView[];
  malformed: MalformedView[];
  events: ClusterEvent[];
}

/** ModelListener receives row batches and new events. */
export interface ModelListener {
  rows(batch: RowBatch): void;
  events(events: ClusterEvent[]): void;
}

/** CommitInfo reads a commit's author, subject and time (from the repository when the dashboard has one). */
export type CommitInfo = (revision: string) => Promise<(NonNullable<SourceView['commit']> & { body?: string }) | undefined>;

/** DashboardModel keeps the rows of one store; see the file comment. */
export class DashboardModel {
  // Set by start(); read them only after `synced`.
  tasks!: Informer<TaskSpec>;
  bindings!: Informer<Binding>;
  status!: Informer<TaskStatus>;
  nodes!: NodeInformer;
  /** the published lease renewal period and grace: node rows are ready by it */
  liveness!: LivenessInformer;
  nodespec!: Informer<NodeSpec>;
  desired!: Informer<DesiredRecord>;
  sync!: Informer<SyncRecord>;
  autoscale!: Informer<AutoscaleRecord>;
  /** recent events, oldest first */
  readonly recentEvents: ClusterEvent[] = [];
  readonly synced: Promise<void>;

  private readonly rows = new Map<RowKind, Map<string, { row: unknown; json: string }>>();
  private readonly dirty = new Map<RowKind, Set<string>>();
  /** task ids bound to (or pinned on) each node, for the node rows */
  private readonly onNode = new Map<string, Set<string>>();
  private readonly joined = new Map<string, TaskRow>();
  private readonly malformed = new Map<string, MalformedView>();
  private readonly listeners = new Set<ModelListener>();
  private timer: NodeJS.Timeout | undefined;
  /** every informer synced and the rows built once: only then do changes flush */
  private ready = false;

  constructor(readonly store: ClientStore, private readonly o: { signal: AbortSignal; log: Logger; commitInfo?: CommitInfo }) {
    this.synced = this.start().then(() => this.rebuildAll());
    const tick = setInterval(() => this.ready && this.markAll('nodes', this.nodes.entries.keys()), NODE_TICK_MS);
    o.signal.addEventListener('abort', () => (clearInterval(tick), clearTimeout(this.timer)), { once: true });
    void this.followEvents();
  }

  /**
   * start follows every bucket at once and resolves when all have synced. (They were once followed
   * one after the other: a stalled snapshot could end early in store/tail.ts, fixed since, and
   * test/integration/store/informer.test.ts holds seven informers on one busy connection to it.)
   */
  private async start(): Promise<void> {
    const { signal, log } = this.o;
    const s = this.store;
    const mk = <T>(bucket: { name: string }, on: (c: NonNullable<InformerChange<T>>) => void) =>
      new Informer<T>(bucket as never, { signal, log, onChange: (c) => (c ? (this.clearMalformed(bucket.name, c.key), on(c)) : undefined) });
    this.tasks = mk<TaskSpec>(s.tasks, (c) => this.mark('tasks', c.key));
    this.bindings = mk<Binding>(s.bindings, (c) => this.mark('tasks', c.key));
    this.status = mk<TaskStatus>(s.status, (c) => this.mark('tasks', c.key.slice(c.key.indexOf('.') + 1)));
    // Records joined with their leases (liveness); renewals mark no row: the node tick redraws ages.
    this.nodes = new NodeInformer(s, { signal, log, onChange: (c) => (c ? (this.clearMalformed(s.nodes.name, c.key), this.mark('nodes', c.key)) : undefined) });
    this.liveness = new LivenessInformer(s.cluster, { signal, log });
    this.nodespec = mk<NodeSpec>(s.nodespec, (c) => this.mark('nodes', c.key));
    this.desired = mk<DesiredRecord>(s.desired, (c) => this.markDesired(c.key));
    this.sync = mk<SyncRecord>(s.sync, (c) => this.markSync(c.key));
    // The autoscaler's live count and decisions go into the job row of `<namespace>.<name>`.
    this.autoscale = mk<AutoscaleRecord>(s.autoscale, (c) => this.mark('jobs', `Job.${c.key}`));
    await Promise.all([this.tasks, this.bindings, this.status, this.nodes, this.liveness, this.nodespec, this.desired, this.sync, this.autoscale].map((i) => i.synced));
  }

  /** reportInvalid is the store's onInvalid: the record shows as malformed until its key is written well again. */
  reportInvalid = (r: InvalidRecord): void => {
    this.malformed.set(`${r.bucket}/${r.key}`, { bucket: r.bucket, key: r.key, revision: r.revision, reason: r.reason });
    this.mark('malformed', `${r.bucket}/${r.key}`);
  };

  /** subscribe adds a listener until the returned function is called. */
  subscribe(l: ModelListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** snapshot is every row now but the tasks, which are counted (call after `synced`). */
  snapshot(): Omit<Snapshot, 'tasks'> & { taskTotal: number } {
    const list = <T>(k: RowKind) => [...(this.rows.get(k)?.values() ?? [])].map((r) => r.row as T);
    return { taskTotal: this.joined.size, nodes: list('nodes'), jobs: list('jobs'), sources: list('sources'), malformed: list('malformed'), events: [...this.recentEvents] };
  }

  /**
   * snapshotJson is the first message of a stream as JSON: every row of the small families, the
   * tasks named by `taskIds` only (the page in view; the rest follow in chunks), and each row's JSON
   * kept since it was built (no second stringify).
   */
  snapshotJson(taskIds: readonly string[], extra: Record<string, unknown> = {}): string {
    const list = (k: RowKind) => `[${[...(this.rows.get(k)?.values() ?? [])].map((r) => r.json).join(',')}]`;
    const families = (['nodes', 'jobs', 'sources', 'malformed'] as const).map((k) => `${JSON.stringify(k)}:${list(k)}`);
    const tasks = `"tasks":[${this.taskJson(taskIds).join(',')}]`;
    const rest = Object.entries({ events: this.recentEvents, ...extra }).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v ?? null)}`);
    return `{${[tasks, ...families, ...rest].join(',')}}`;
  }

  /** taskJson is the JSON of the task rows of `ids` that exist now, in that order. */
  taskJson(ids: readonly string[]): string[] {
    const m = this.rows.get('tasks');
    const out: string[] = [];
    for (const id of ids) {
      const json = m?.get(id)?.json;
      if (json) out.push(json);
    }
    return out;
  }

  /** taskIds lists the id of every task row. */
  taskIds(): string[] {
    return [...(this.rows.get('tasks')?.keys() ?? [])];
  }

  /** taskCounts counts the tasks of each job key and on each node (the lists' lengths before their rows come). */
  taskCounts(): { jobs: Record<string, number>; nodes: Record<string, number> } {
    const jobs: Record<string, number> = {};
    const nodes: Record<string, number> = {};
    for (const t of this.joined.values()) {
      jobs[t.spec.jobKey] = (jobs[t.spec.jobKey] ?? 0) + 1;
      if (t.node) nodes[t.node] = (nodes[t.node] ?? 0) + 1;
    }
    return { jobs, nodes };
  }

  /** row returns one row by family and id. */
  row<T>(kind: RowKind, id: string): T | undefined {
    return this.rows.get(kind)?.get(id)?.row as T | undefined;
  }

  /** taskRow is the joined task (spec, binding, status) of an id. */
  taskRow(id: string): TaskRow | undefined {
    return this.joined.get(id);
  }

  /** tasksOf lists the joined tasks of a job key. */
  tasksOf(jobKey: string): TaskRow[] {
    return [...this.joined.values()].filter((t) => t.spec.jobKey === jobKey);
  }

  /** tasksOn lists the joined tasks on a node. */
  tasksOn(node: string): TaskRow[] {
    return [...(this.onNode.get(node) ?? [])].map((id) => this.joined.get(id)).filter((t): t is TaskRow => t !== undefined);
  }

  /** malformedOf is the refused record of a key, if its latest write was one. */
  malformedOf(bucket: string, key: string): MalformedView | undefined {
    return this.malformed.get(`${bucket}/${key}`);
  }

  private clearMalformed(bucket: string, key: string): void {
    if (this.malformed.delete(`${bucket}/${key}`)) this.mark('malformed', `${bucket}/${key}`);
  }

  private markDesired(key: string): void {
    const kind = key.slice(0, key.indexOf('.'));
    if ((WORKLOAD_KINDS as readonly string[]).includes(kind)) this.mark('jobs', key);
  }

  private markSync(key: string): void {
    if (key.startsWith('source.')) this.mark('sources', key.slice('source.'.length));
    else if (key.startsWith('object.')) this.markDesired(key.slice('object.'.length));
  }

  private mark(kind: RowKind, id: string): void {
    let s = this.dirty.get(kind);
    if (!s) this.dirty.set(kind, (s = new Set()));
    s.add(id);
    if (this.ready && !this.timer) this.timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  private markAll(kind: RowKind, ids: Iterable<string>): void {
    for (const id of ids) this.mark(kind, id);
  }

  private rebuildAll(): void {
    this.markAll('tasks', this.tasks.entries.keys());
    this.markAll('nodes', this.nodes.entries.keys());
    for (const k of this.desired.entries.keys()) this.markDesired(k);
    for (const k of this.sync.entries.keys()) this.markSync(k);
    this.markAll('malformed', this.malformed.keys());
    clearTimeout(this.timer);
    this.timer = undefined;
    this.ready = true;
    this.flush();
  }

  /** flush rebuilds the dirty rows (tasks first: node rows sum them) and sends those that changed. */
  private flush(): void {
    this.timer = undefined;
    const batch: RowBatch = {};
    const taskIds = this.dirty.get('tasks') ?? new Set<string>();
    this.dirty.delete('tasks');
    for (const id of taskIds) this.put(batch, 'tasks', id, this.buildTask(id));
    const nodeIds = this.dirty.get('nodes') ?? new Set<string>();
    this.dirty.delete('nodes');
    const now = Date.now();
    for (const id of nodeIds) {
      const rec = this.nodes.get(id);
      this.put(batch, 'nodes', id, rec ? nodeView(rec, this.nodespec.get(id), this.tasksOn(id), now, this.liveness.current().graceMs) : undefined);
    }
    for (const id of this.take('jobs')) this.put(batch, 'jobs', id, this.buildJob(id));
    for (const id of this.take('sources')) void this.buildSource(id);
    for (const id of this.take('malformed')) this.put(batch, 'malformed', id, this.malformed.get(id));
    if (Object.keys(batch).length) for (const l of this.listeners) l.rows(batch);
  }

  private take(kind: RowKind): string[] {
    const ids = [...(this.dirty.get(kind) ?? [])];
    this.dirty.delete(kind);
    return ids;
  }

  /** put stores a row and adds it to the batch when its JSON changed (undefined: the row is gone). */
  private put(batch: RowBatch, kind: RowKind, id: string, row: unknown): void {
    let m = this.rows.get(kind);
    if (!m) this.rows.set(kind, (m = new Map()));
    const json = row === undefined ? '' : JSON.stringify(row);
    if ((m.get(id)?.json ?? '') === json) return;
    if (row === undefined) m.delete(id);
    else m.set(id, { row, json });
    (batch[kind] ??= {})[id] = row ?? null;
  }

  /** buildTask re-joins one task and keeps the node index (and the node rows it changes) up to date. */
  private buildTask(id: string): TaskView | undefined {
    const spec = this.tasks.get(id);
    const before = this.joined.get(id)?.node;
    const row = spec ? joinTask(spec, this.bindings.get(id), (k) => this.status.get(k)) : undefined;
    if (row) this.joined.set(id, row);
    else this.joined.delete(id);
    if (before !== row?.node) {
      if (before) this.onNode.get(before)?.delete(id);
      if (row?.node) (this.onNode.get(row.node) ?? this.onNode.set(row.node, new Set()).get(row.node)!).add(id);
    }
    for (const n of new Set([before, row?.node])) if (n) this.mark('nodes', n);
    return row ? taskView(row) : undefined;
  }

  private buildJob(desiredKey: string): JobView | undefined {
    const rec = this.desired.get(desiredKey);
    if (!rec) return undefined;
    const o = rec.object;
    const scaled = o.kind === 'Job' ? this.autoscale.get(`${o.metadata.namespace ?? 'default'}.${o.metadata.name}`) : undefined;
    return jobView(rec, this.sync.get(`object.${desiredKey}`) as WorkloadStatus | undefined, scaled);
  }

  /** buildSource adds the applied commit's author and subject, which may need a read of the repository. */
  private async buildSource(name: string): Promise<void> {
    const status = this.sync.get(`source.${name}`) as SyncStatus | undefined;
    let commit: SourceView['commit'];
    if (status?.lastAppliedRevision && this.o.commitInfo) {
      commit = await this.o.commitInfo(status.lastAppliedRevision).catch(() => undefined);
    }
    const batch: RowBatch = {};
    this.put(batch, 'sources', name, status ? { name, status, ...(commit ? { commit } : {}) } : undefined);
    if (Object.keys(batch).length) for (const l of this.listeners) l.rows(batch);
  }

  /**
   * followEvents keeps the recent events and passes new ones on; a stream that fails (NATS away, a
   * timeout under load) is followed again after a backoff, after the last event it delivered.
   */
  private async followEvents(): Promise<void> {
    const { signal, log } = this.o;
    let after: number | undefined;
    for (const backoff = new Backoff(defaultInformerBackoff); !signal.aborted; ) {
      try {
        if (after === undefined) {
          const recent = await this.store.events.recent({ limit: EVENTS_KEPT });
          this.pushEvents(recent.map((e) => e.value));
          after = recent.at(-1)?.seq ?? 0;
        }
        for await (const e of this.store.events.follow({ afterSeq: after, signal })) {
          after = e.seq;
          backoff.reset();
          this.pushEvents([e.value]);
        }
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoff.next();
        log.warn({ err: errorMessage(err), retryInMs: delay }, 'dashboard: the events stream failed; following it again');
        await sleep(delay, signal);
      }
    }
  }

  private pushEvents(events: ClusterEvent[]): void {
    if (!events.length) return;
    this.recentEvents.push(...events);
    if (this.recentEvents.length > EVENTS_KEPT) this.recentEvents.splice(0, this.recentEvents.length - EVENTS_KEPT);
    for (const l of this.listeners) l.events(events);
  }
}
