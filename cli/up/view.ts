/**
 * The live view of `gitcell up`: nodes, jobs and tasks from the store, kept current by store Informer
 * informers (watch snapshot + changes, no polling of NATS). On a TTY the screen is redrawn about
 * once a second; otherwise a summary line is logged every 15 s when something changed.
 */
import { NODE_GRACE_MS, nodeIsLive, type Binding, type NodeRecord, type TaskSpec, type TaskStatus } from '../../api/index.ts';
import { silentLogger } from '../../lib/log.ts';
import { Informer, LivenessInformer, NodeInformer, type ClusterStore } from '../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import { table } from '../client.ts';

/** ViewModel is everything the view shows, read from the informers. */
export interface ViewModel {
  nodes: NodeRecord[];
  /** the published node grace (store/liveness.ts; NODE_GRACE_MS while none is) */
  graceMs?: number;
  tasks: { spec: TaskSpec; node?: string; status?: TaskStatus }[];
  appliedRevision?: string;
  now: number;
}

/** summary is one line: nodes, tasks per state, ready count, applied revision. Pure. */
export function summary(m: ViewModel): string {
  const states = new Map<string, number>();
  for (const t of m.tasks) states.set(t.status?.state ?? (t.node ? 'bound' : 'pending'), (states.get(t.status?.state ?? (t.node ? 'bound' : 'pending')) ?? 0) + 1);
  const ready = m.tasks.filter((t) => t.status?.ready).length;
  const byState = [...states].sort().map(([s, n]) => `${s} ${n}`).join(', ');
  return `nodes ${m.nodes.filter((n) => isLive(n, m)).length}/${m.nodes.length} live; tasks ${m.tasks.length} (${byState || 'none'}), ${ready} ready; applied ${m.appliedRevision?.slice(0, 12) ?? '-'}`;
}

function isLive(n: NodeRecord, m: Pick<ViewModel, 'now' | 'graceMs'>): boolean {
  return nodeIsLive(n, m.now, m.graceMs ?? NODE_GRACE_MS);
}

/** render draws the full screen: nodes, jobs (tasks grouped by owner), tasks. Pure. */
export function render(m: ViewModel, header: string): string {
  const nodeRows = m.nodes
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => [n.name, isLive(n, m) ? 'Ready' : 'NotReady', n.subnet ?? '-', m.tasks.filter((t) => t.node === n.name).length]);
  const jobs = new Map<string, { total: number; ready: number; running: number; done: number }>();
  for (const t of m.tasks) {
    const j = jobs.get(t.spec.jobKey) ?? { total: 0, ready: 0, running: 0, done: 0 };
    j.total++;
    if (t.status?.ready) j.ready++;
    if (t.status?.state === 'running') j.running++;
    if (t.status?.state === 'succeeded') j.done++;
    jobs.set(t.spec.jobKey, j);
  }
  const jobRows = [...jobs].sort(([a], [b]) => a.localeCompare(b)).map(([k, j]) => [k, j.total, j.running, j.ready, j.done]);
  const taskRows = m.tasks
    .sort((a, b) => (a.spec.jobKey + a.spec.index).localeCompare(b.spec.jobKey + b.spec.index))
    .map((t) => [t.spec.id, t.node ?? '-', t.status?.state ?? (t.node ? 'bound' : 'pending'), t.status?.ready ? 'yes' : 'no', t.status?.restarts ?? 0, t.status?.ip ?? '-']);
  return [
    header,
    '',
    table(['NODE', 'STATUS', 'SUBNET', 'TASKS'], nodeRows),
    table(['OWNER', 'TASKS', 'RUNNING', 'READY', 'SUCCEEDED'], jobRows),
    table(['TASK', 'NODE', 'STATE', 'READY', 'RESTARTS', 'IP'], taskRows),
    summary(m),
    'Ctrl-C stops everything',
  ].join('\n');
}

/** LiveView follows the store and draws until stop(). */
export class LiveView {
  private readonly abort = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private last = '';
  private readonly nodes: NodeInformer;
  private readonly liveness: LivenessInformer;
  private readonly tasks: Informer<TaskSpec>;
  private readonly bindings: Informer<Binding>;
  private readonly statuses: Informer<TaskStatus>;
  private readonly sync: Informer<SyncRecord>;

  constructor(store: ClusterStore<DesiredRecord, SyncRecord>, private readonly o: { tty: boolean; header: () => string; write: (s: string) => void; sourceKey?: string }) {
    const mo = { signal: this.abort.signal, log: silentLogger() };
    this.nodes = new NodeInformer(store, mo);
    this.liveness = new LivenessInformer(store.cluster, mo);
    this.tasks = new Informer(store.tasks, mo);
    this.bindings = new Informer(store.bindings, mo);
    this.statuses = new Informer(store.status, mo);
    this.sync = new Informer(store.sync, { ...mo, prefix: 'source' });
    this.timer = setInterval(() => this.draw(), o.tty ? 1000 : 15_000);
  }

  /** model reads the informers into a ViewModel. */
  model(): ViewModel {
    const tasks = [...this.tasks.entries].map(([id, e]) => {
      const node = this.bindings.get(id)?.node;
      const status = node ? this.statuses.get(`${node}.${id}`) : undefined;
      return { spec: e.value, ...(node ? { node } : {}), ...(status ? { status } : {}) };
    });
    const sync = this.sync.values()[0] as { lastAppliedRevision?: string } | undefined;
    return { nodes: this.nodes.values(), graceMs: this.liveness.current().graceMs, tasks, ...(sync?.lastAppliedRevision ? { appliedRevision: sync.lastAppliedRevision } : {}), now: Date.now() };
  }

  private draw(): void {
    if (!this.nodes.hasSynced || !this.tasks.hasSynced) return;
    const m = this.model();
    if (this.o.tty) {
      this.o.write(`\x1b[H\x1b[2J${render(m, this.o.header())}\n`);
      return;
    }
    const line = summary(m);
    if (line !== this.last) this.o.write(`gitcell up: ${line}\n`);
    this.last = line;
  }

  /** stop ends the watches and the redraws. */
  stop(): void {
    clearInterval(this.timer);
    this.abort.abort();
  }
}
