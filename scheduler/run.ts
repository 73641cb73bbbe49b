/**
 * PlacementRun places tasks one at a time against a working copy of the cluster. It is where
 * Borg's speedups live:
 *   - equivalence classes: tasks of one job with one template share a TaskClass, compiled once;
 *   - score caching: each class keeps candidate nodes with the score and the node version it was
 *     computed at; only nodes that changed since are filtered and scored again;
 *   - relaxed randomisation: nodes are visited in a seeded shuffled order until `sampleSize`
 *     feasible ones are found, then the best is taken; each task explores `explore` more nodes so
 *     the candidates keep moving through the cell.
 * A class that finds no feasible node after scanning every node is "exhausted": placements only
 * ever consume capacity, so only nodes freed by preemption (state.freed) are worth a second look.
 *
 *   task -> class (cached) -> refresh changed candidates -> explore the shuffled node ring
 *        -> best candidate? place : preemption? place + evict : diagnose (cached per class)
 */
import { canPreempt } from './bands.ts';
import { buildChain, firstRejection, scoreNode, type Chain } from './chain.ts';
import { diagnose } from './explain.ts';
import { findPreemption } from './preemption.ts';
import { createPrng, shuffleInPlace, type Prng } from './prng.ts';
import { ClusterState, toPlaced, type PlacedTask } from './state.ts';
import { classKey, compileClass, NOT_PINNED, PIN_UNKNOWN, type TaskClass } from './task-class.ts';
import type { ClusterSnapshot, Placement, Preemption, RunStats, SchedTask, SchedulerOptions, Unplaced } from './types.ts';
import { invalidTaskReason } from './validate.ts';
import { defaultSchedulerOptions } from './options.ts';

/** Outcome of placing one task. */
export type TaskOutcome = { placed: Placement } | { unplaced: Unplaced };

/** PlacementRun places tasks one at a time against its working copy, with the speedups listed above. */
export class PlacementRun {
  readonly state: ClusterState;
  readonly chain: Chain;
  readonly options: SchedulerOptions;
  readonly placements: Placement[] = [];
  readonly preemptions: Preemption[] = [];
  readonly unplaced: Unplaced[] = [];
  readonly stats: RunStats = { tasks: 0, classes: 0, nodesFiltered: 0, nodesScored: 0, cacheHits: 0, preemptionSearches: 0 };
  private readonly classes = new Map<string, TaskClass>();
  private readonly order: Int32Array;
  private readonly rand: Prng;
  /** Pack modes start every class here: the first node in the shuffled order that is not full. */
  private frontier = 0;
  private minCpu = 0;
  private minMem = 0;

  /**
   * `cluster` is a snapshot, or a working state to place into directly (the service's, kept from
   * the informers' changes; the run starts its epoch and freed list afresh and changes the state:
   * record and roll it back around the run to keep it). `pending` (optional) tunes the run to the
   * work: demand shape and the smallest request.
   */
  constructor(cluster: ClusterSnapshot | ClusterState, options: Partial<SchedulerOptions> = {}, pending: readonly SchedTask[] = []) {
    this.options = defaultSchedulerOptions(options);
    this.state = cluster instanceof ClusterState ? cluster : ClusterState.fromSnapshot(cluster);
    this.state.epoch = 0;
    this.state.freed.length = 0;
    this.chain = buildChain(this.options);
    this.rand = createPrng(`${this.options.seed}/nodes`);
    this.order = new Int32Array(this.state.n);
    for (let i = 0; i < this.state.n; i++) this.order[i] = i;
    shuffleInPlace(this.order, this.rand);
    this.tuneTo(pending);
  }

  private tuneTo(pending: readonly SchedTask[]): void {
    let cpu = 0;
    let mem = 0;
    let minCpu = Infinity;
    let minMem = Infinity;
    for (const t of pending) {
      const r = t.template?.resources?.requests;
      if (!r || !(r.cpuMillis >= 0) || !(r.memoryBytes >= 0)) continue;
      cpu += r.cpuMillis;
      mem += r.memoryBytes;
      if (r.cpuMillis < minCpu) minCpu = r.cpuMillis;
      if (r.memoryBytes < minMem) minMem = r.memoryBytes;
    }
    if (cpu > 0 && mem > 0) this.state.demandShape = mem / cpu;
    this.minCpu = Number.isFinite(minCpu) ? minCpu : 0;
    this.minMem = Number.isFinite(minMem) ? minMem : 0;
  }

  /** place decides one task: a placement (maybe with victims) or the reasons it waits. */
  place(task: SchedTask): TaskOutcome {
    this.stats.tasks++;
    const invalid = invalidTaskReason(task);
    if (invalid) return this.reject(task, { reasons: [{ filter: 'validate', reason: invalid, nodes: this.state.n }], message: `invalid task: ${invalid}` });
    const cls = this.classOf(task);
    if (cls.epoch !== this.state.epoch) {
      cls.epoch = this.state.epoch;
      cls.failed = undefined;
    }
    if (!cls.failed) {
      const node = this.pick(cls);
      if (node >= 0) return this.commit(task, node, this.scoreOf(cls, node));
      let note: string | undefined;
      if (this.options.preemption && this.worthPreempting(cls)) {
        this.stats.preemptionSearches++;
        const choice = findPreemption(cls, this.state, this.chain, {
          order: this.order,
          start: Math.floor(this.rand() * Math.max(1, this.state.n)),
          minCandidates: this.options.preemptionMinCandidates,
          percent: this.options.preemptionCandidatePercent,
        });
        if (choice) return this.commitWithVictims(task, cls, choice.node, choice.victims);
        note = 'preemption: no node where evicting lower-priority tasks makes room';
      }
      cls.failed = { epoch: this.state.epoch, ...diagnose(cls, this.state, this.chain.filters, note) };
    }
    return this.reject(task, cls.failed);
  }

  private classOf(task: SchedTask): TaskClass {
    const key = classKey(task);
    let cls = this.classes.get(key);
    if (!cls) {
      const n = this.state.n;
      let start = 0;
      if (n > 0) {
        if (this.options.packing >= 0.5) start = this.advanceFrontier();
        else start = Math.floor(this.rand() * n);
      }
      cls = compileClass(task, this.state, this.options.sampleSize + this.options.explore + 1, start);
      this.classes.set(key, cls);
      this.stats.classes++;
    }
    return cls;
  }

  /** advanceFrontier skips nodes at the front of the order that cannot take even the smallest task. */
  private advanceFrontier(): number {
    const s = this.state;
    while (this.frontier < s.n) {
      const i = this.order[this.frontier]!;
      const full =
        s.schedulable[i] !== 1 ||
        s.allocCpu[i]! - s.usedCpu[i]! < this.minCpu ||
        s.allocMem[i]! - s.usedMem[i]! < this.minMem ||
        s.usedTasks[i]! >= s.allocTasks[i]!;
      if (!full) break;
      this.frontier++;
    }
    return this.frontier < s.n ? this.frontier : 0;
  }

  /** pick returns the best feasible node for the class, or -1. */
  private pick(cls: TaskClass): number {
    const s = this.state;
    if (cls.pinned !== NOT_PINNED) {
      if (cls.pinned === PIN_UNKNOWN) return -1;
      this.stats.nodesFiltered++;
      return firstRejection(this.chain.filters, cls, s, cls.pinned) ? -1 : cls.pinned;
    }
    this.refresh(cls);
    this.recheckFreed(cls);
    const k = this.options.sampleSize;
    const want = cls.candCount < k ? k - cls.candCount : this.options.explore;
    this.scan(cls, want, cls.candCount === 0 ? Infinity : this.options.scanBudget);
    while (cls.candCount > k) this.dropWorst(cls);
    let best = -1;
    let bestScore = -Infinity;
    for (let c = 0; c < cls.candCount; c++) {
      const score = cls.candScore[c]!;
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    return best < 0 ? -1 : cls.candNode[best]!;
  }

  /** refresh re-filters and re-scores the candidates whose node changed since they were scored. */
  private refresh(cls: TaskClass): void {
    const s = this.state;
    const dyn = this.chain.dynamicFilters;
    let kept = 0;
    for (let c = 0; c < cls.candCount; c++) {
      const node = cls.candNode[c]!;
      let score = cls.candScore[c]!;
      const version = s.version[node]!;
      if (cls.candVersion[c] !== version) {
        this.stats.nodesFiltered++;
        if (firstRejection(dyn, cls, s, node)) {
          cls.inCand.delete(node);
          continue;
        }
        this.stats.nodesScored++;
        score = scoreNode(this.chain, cls, s, node);
      } else this.stats.cacheHits++;
      cls.candNode[kept] = node;
      cls.candScore[kept] = score;
      cls.candVersion[kept] = version;
      kept++;
    }
    cls.candCount = kept;
  }

  /**
   * recheckFreed offers the class the nodes where capacity was freed since it last looked. Every
   * other node only ever loses capacity within a run, so what the scan learnt about it still holds.
   */
  private recheckFreed(cls: TaskClass): void {
    const s = this.state;
    const freed = s.freed;
    for (; cls.freedSeen < freed.length; cls.freedSeen++) {
      const node = freed[cls.freedSeen]!;
      if (cls.inCand.has(node)) continue;
      this.stats.nodesFiltered++;
      if (firstRejection(this.chain.filters, cls, s, node)) continue;
      this.stats.nodesScored++;
      if (cls.candCount >= cls.candNode.length) this.dropWorst(cls);
      const c = cls.candCount++;
      cls.candNode[c] = node;
      cls.candScore[c] = scoreNode(this.chain, cls, s, node);
      cls.candVersion[c] = s.version[node]!;
      cls.inCand.add(node);
    }
  }

  /** scan walks the shuffled node ring from the class cursor, adding up to `want` new feasible nodes. */
  private scan(cls: TaskClass, want: number, budget: number): void {
    const s = this.state;
    const n = s.n;
    const filters = this.chain.filters;
    let found = 0;
    let scanned = 0;
    while (found < want && scanned < budget && cls.misses < n) {
      const node = this.order[cls.cursor]!;
      cls.cursor = cls.cursor + 1 === n ? 0 : cls.cursor + 1;
      scanned++;
      this.stats.nodesFiltered++;
      if (cls.inCand.has(node) || firstRejection(filters, cls, s, node)) {
        cls.misses++;
        continue;
      }
      cls.misses = 0;
      found++;
      this.stats.nodesScored++;
      const c = cls.candCount++;
      cls.candNode[c] = node;
      cls.candScore[c] = scoreNode(this.chain, cls, s, node);
      cls.candVersion[c] = s.version[node]!;
      cls.inCand.add(node);
    }
  }

  /**
   * dropWorst evicts the lowest-scored candidate. The node is still feasible, so the class may no
   * longer call itself exhausted on the strength of a streak that counted it: the streak restarts.
   */
  private dropWorst(cls: TaskClass): void {
    cls.misses = 0;
    let worst = 0;
    for (let c = 1; c < cls.candCount; c++) if (cls.candScore[c]! < cls.candScore[worst]!) worst = c;
    cls.inCand.delete(cls.candNode[worst]!);
    const last = --cls.candCount;
    cls.candNode[worst] = cls.candNode[last]!;
    cls.candScore[worst] = cls.candScore[last]!;
    cls.candVersion[worst] = cls.candVersion[last]!;
  }

  private scoreOf(cls: TaskClass, node: number): number {
    for (let c = 0; c < cls.candCount; c++) if (cls.candNode[c] === node) return cls.candScore[c]!;
    return scoreNode(this.chain, cls, this.state, node);
  }

  /** worthPreempting is a cheap bound: some task the class may preempt must exist at all. */
  private worthPreempting(cls: TaskClass): boolean {
    const counts = this.state.countByPriority;
    for (let p = 0; p < cls.priority; p++) if (counts[p]! > 0 && canPreempt(cls.priority, p)) return true;
    return false;
  }

  private commit(task: SchedTask, node: number, score: number): TaskOutcome {
    this.state.add(toPlaced(task, node));
    const placed: Placement = { taskId: task.id, node: this.state.nodes[node]!.name, score };
    this.placements.push(placed);
    return { placed };
  }

  private commitWithVictims(task: SchedTask, cls: TaskClass, node: number, victims: PlacedTask[]): TaskOutcome {
    const name = this.state.nodes[node]!.name;
    for (const v of victims) {
      this.state.remove(v);
      this.preemptions.push({ taskId: v.id, node: name, priority: v.priority, preemptor: task.id, preemptorPriority: task.priority });
    }
    const outcome = this.commit(task, node, scoreNode(this.chain, cls, this.state, node));
    if ('placed' in outcome) outcome.placed.victims = victims.map((v) => v.id);
    return outcome;
  }

  private reject(task: SchedTask, why: { reasons: Unplaced['reasons']; message: string }): TaskOutcome {
    const unplaced: Unplaced = {
      taskId: String(task?.id),
      jobKey: String(task?.jobKey),
      priority: task?.priority,
      message: why.message,
      reasons: why.reasons,
      nodesTotal: this.state.n,
    };
    this.unplaced.push(unplaced);
    return { unplaced };
  }
}
