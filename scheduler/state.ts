import { maxTasks } from '../api/cluster.ts';
import type { ClusterSnapshot, SchedTask, SnapshotNode } from './types.ts';

/** PlacedTask is a task holding resources on a node (running before the run, or placed in it). */
export interface PlacedTask {
  id: string;
  jobKey: string;
  priority: number;
  cpu: number;
  mem: number;
  hostPorts: string[];
  node: number;
  /** True for tasks bound before the run: only those can be preempted (a pass never undoes itself). */
  bound: boolean;
}

/** JobCounts tracks where a job's tasks are, for spread limits and job spreading. */
export interface JobCounts {
  perNode: Map<number, number>;
  /** label -> label value -> count; a label is tracked once a spread limit asks for it. */
  perDomain: Map<string, Map<string, number>>;
}

/** hostPortKeys lists the `protocol/port` keys a task claims on its node. */
export function hostPortKeys(task: SchedTask): string[] {
  const ports = task.template.ports;
  if (!ports || ports.length === 0) return EMPTY;
  const keys: string[] = [];
  for (const p of ports) if (p.hostPort) keys.push(`${p.protocol ?? 'TCP'}/${p.hostPort}`);
  return keys.length ? keys : EMPTY;
}
const EMPTY: string[] = [];

/**
 * ClusterState is the scheduler's mutable working copy of a snapshot: per-node numbers in typed
 * arrays (the hot loop reads them millions of times), plus what placements change: tasks per node,
 * host ports, and per-job counts for spreading. Every change to a node bumps its `version`, which
 * is what invalidates cached scores.
 * Build it with ClusterState.fromSnapshot, or keep one across runs (the service's ClusterCache:
 * `ofNodes`, `setNode`, `setReady`, and `record`/`rollback` around each run).
 */
export class ClusterState {
  readonly n: number;
  readonly nodes: SnapshotNode[];
  readonly index = new Map<string, number>();
  readonly allocCpu: Float64Array;
  readonly allocMem: Float64Array;
  readonly allocTasks: Float64Array;
  readonly usedCpu: Float64Array;
  readonly usedMem: Float64Array;
  readonly usedTasks: Float64Array;
  /** 1 when the node is ready and not cordoned. */
  readonly schedulable: Uint8Array;
  readonly version: Uint32Array;
  readonly images: (Set<string> | undefined)[];
  readonly ports: (Set<string> | undefined)[];
  readonly tasksOn: PlacedTask[][];
  readonly jobs = new Map<string, JobCounts>();
  readonly byTaskId = new Map<string, PlacedTask>();
  /** Bound tasks per priority value 0..1000: tells in O(1000) whether any preemption victim exists. */
  readonly countByPriority = new Int32Array(1001);
  /** Bumped whenever resources are freed (preemption): explanations learnt before it are stale. */
  epoch = 0;
  /** Nodes where capacity was freed, in order: classes re-check just these instead of rescanning. */
  readonly freed: number[] = [];
  /**
   * Typical shape of the pending work in memory bytes per CPU millicore, for the stranded-resources
   * scorer; set by the run from its pending tasks (default: 4 MiB per millicore, 4 GiB per core).
   */
  demandShape = 4 * 1024 * 1024;
  /** How many tasks claim each host port per node: two tasks may hold one port (stale bindings), and removing one must not free it. */
  private readonly portCounts: (Map<string, number> | undefined)[];
  /** The changes since `record()`, undone by `rollback()`; undefined when not recording. */
  private journal: { added: boolean; task: PlacedTask }[] | undefined;

  private constructor(nodes: SnapshotNode[]) {
    // Sorted by name so the same cluster listed in another order schedules identically.
    this.nodes = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const n = (this.n = this.nodes.length);
    this.allocCpu = new Float64Array(n);
    this.allocMem = new Float64Array(n);
    this.allocTasks = new Float64Array(n);
    this.usedCpu = new Float64Array(n);
    this.usedMem = new Float64Array(n);
    this.usedTasks = new Float64Array(n);
    this.schedulable = new Uint8Array(n);
    this.version = new Uint32Array(n);
    this.images = new Array(n);
    this.ports = new Array(n);
    this.portCounts = new Array(n);
    this.tasksOn = new Array(n);
    for (let i = 0; i < n; i++) {
      this.index.set(this.nodes[i]!.name, i);
      this.describe(i, this.nodes[i]!);
      this.tasksOn[i] = [];
    }
  }

  /** describe sets node i's own numbers (not what its tasks use) from its snapshot. */
  private describe(i: number, node: SnapshotNode): void {
    this.allocCpu[i] = Math.max(0, node.allocatable?.cpuMillis || 0);
    this.allocMem[i] = Math.max(0, node.allocatable?.memoryBytes || 0);
    this.allocTasks[i] = maxTasks(node.allocatable) ?? Number.POSITIVE_INFINITY;
    this.schedulable[i] = node.ready && !node.cordoned ? 1 : 0;
    this.images[i] = node.images && node.images.length ? new Set(node.images) : undefined;
  }

  /** ofNodes is an empty state (no task on any node) of these nodes, for a caller that adds its tasks itself. */
  static ofNodes(nodes: SnapshotNode[]): ClusterState {
    return new ClusterState(nodes);
  }

  /**
   * setNode replaces node `i`'s description (same name: the index stays sorted), keeping its tasks.
   * Between runs only: the per-domain counts are forgotten when its labels change, and classes
   * compiled in a run hold those maps.
   */
  setNode(i: number, node: SnapshotNode): void {
    const old = this.nodes[i]!;
    if (old.name !== node.name) throw new Error(`setNode: node ${i} is ${old.name}, not ${node.name}`);
    this.nodes[i] = node;
    this.describe(i, node);
    this.version[i] = this.version[i]! + 1;
    if (!sameLabels(old.labels, node.labels)) for (const job of this.jobs.values()) job.perDomain.clear();
  }

  /** setReady sets node i's readiness (a heartbeat judged at a new instant), between runs. */
  setReady(i: number, ready: boolean): void {
    const node = this.nodes[i]!;
    if (node.ready === ready) return;
    node.ready = ready;
    this.schedulable[i] = ready && !node.cordoned ? 1 : 0;
    this.version[i] = this.version[i]! + 1;
  }

  /**
   * record starts noting every add and remove, for `rollback`: a state kept across passes takes a
   * pass's trial changes (placements, victims, re-queued tasks) and sheds them once decided.
   */
  record(): void {
    this.journal = [];
  }

  /** rollback undoes the adds and removes since `record()`, newest first, and stops recording. */
  rollback(): void {
    const journal = this.journal;
    this.journal = undefined;
    if (!journal) return;
    for (let k = journal.length - 1; k >= 0; k--) {
      const { added, task } = journal[k]!;
      if (added) this.remove(task);
      else this.add(task);
    }
  }

  /** fromSnapshot builds the working state; running tasks on unknown nodes are ignored. */
  static fromSnapshot(snapshot: ClusterSnapshot): ClusterState {
    const state = new ClusterState(snapshot.nodes);
    for (const r of snapshot.running) {
      const node = state.index.get(r.node);
      if (node === undefined) continue;
      state.add(toPlaced(r.task, node, true));
    }
    return state;
  }

  /** jobCounts returns (creating) the counts of a job. */
  jobCounts(jobKey: string): JobCounts {
    let c = this.jobs.get(jobKey);
    if (!c) {
      c = { perNode: new Map(), perDomain: new Map() };
      this.jobs.set(jobKey, c);
    }
    return c;
  }

  /** domainCounts returns a job's counts per value of `label`, computing them on first use. */
  domainCounts(jobKey: string, label: string): Map<string, number> {
    const job = this.jobCounts(jobKey);
    let m = job.perDomain.get(label);
    if (!m) {
      m = new Map();
      for (const [node, count] of job.perNode) {
        const v = this.nodes[node]!.labels[label];
        if (v !== undefined) m.set(v, (m.get(v) ?? 0) + count);
      }
      job.perDomain.set(label, m);
    }
    return m;
  }

  /** add puts a task on its node: resources, ports, job counts, version. */
  add(t: PlacedTask): void {
    const i = t.node;
    this.usedCpu[i] = this.usedCpu[i]! + t.cpu;
    this.usedMem[i] = this.usedMem[i]! + t.mem;
    this.usedTasks[i] = this.usedTasks[i]! + 1;
    this.version[i] = this.version[i]! + 1;
    this.tasksOn[i]!.push(t);
    this.byTaskId.set(t.id, t);
    if (t.bound) this.countByPriority[t.priority] = this.countByPriority[t.priority]! + 1;
    if (t.hostPorts.length) {
      let set = this.ports[i];
      if (!set) this.ports[i] = set = new Set();
      let counts = this.portCounts[i];
      if (!counts) this.portCounts[i] = counts = new Map();
      for (const p of t.hostPorts) {
        set.add(p);
        counts.set(p, (counts.get(p) ?? 0) + 1);
      }
    }
    this.bumpJob(t, i, 1);
    this.journal?.push({ added: true, task: t });
  }

  /** remove takes a task off its node (preemption) and marks freed capacity with a new epoch. */
  remove(t: PlacedTask): void {
    const i = t.node;
    const list = this.tasksOn[i]!;
    const at = list.indexOf(t);
    if (at < 0) return;
    list.splice(at, 1);
    this.byTaskId.delete(t.id);
    if (t.bound) this.countByPriority[t.priority] = this.countByPriority[t.priority]! - 1;
    this.usedCpu[i] = this.usedCpu[i]! - t.cpu;
    this.usedMem[i] = this.usedMem[i]! - t.mem;
    this.usedTasks[i] = this.usedTasks[i]! - 1;
    this.version[i] = this.version[i]! + 1;
    const set = this.ports[i];
    const counts = this.portCounts[i];
    if (set && counts) {
      for (const p of t.hostPorts) {
        const left = (counts.get(p) ?? 1) - 1;
        if (left > 0) counts.set(p, left);
        else {
          counts.delete(p);
          set.delete(p);
        }
      }
    }
    this.bumpJob(t, i, -1);
    this.epoch++;
    this.freed.push(i);
    this.journal?.push({ added: false, task: t });
  }

  private bumpJob(t: PlacedTask, node: number, delta: number): void {
    const job = this.jobCounts(t.jobKey);
    const next = (job.perNode.get(node) ?? 0) + delta;
    if (next > 0) job.perNode.set(node, next);
    else job.perNode.delete(node);
    for (const [label, m] of job.perDomain) {
      const v = this.nodes[node]!.labels[label];
      if (v !== undefined) m.set(v, (m.get(v) ?? 0) + delta);
    }
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/** toPlaced converts a task bound to node index `node` into the state's record. */
export function toPlaced(task: SchedTask, node: number, bound = false): PlacedTask {
  const req = task.template.resources.requests;
  return {
    id: task.id,
    jobKey: task.jobKey,
    priority: task.priority,
    cpu: req.cpuMillis,
    mem: req.memoryBytes,
    hostPorts: hostPortKeys(task),
    node,
    bound,
  };
}
