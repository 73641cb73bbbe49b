/**
 * naiveSchedule is the baseline the benchmark compares against: the same filters and scorers, but
 * every task filters and scores every node (no classes, no caching, no sampling, no preemption).
 */
import { buildChain, firstRejection, scoreNode } from './chain.ts';
import { defaultSchedulerOptions } from './options.ts';
import { orderQueue } from './queue.ts';
import { ClusterState, toPlaced } from './state.ts';
import { compileClass } from './task-class.ts';
import type { ClusterSnapshot, Placement, SchedTask, SchedulerOptions } from './types.ts';

/** NaiveRun places tasks one by one by scoring every feasible node; for the benchmark. */
export class NaiveRun {
  readonly state: ClusterState;
  readonly placements: Placement[] = [];
  unplacedCount = 0;
  private readonly chain;

  constructor(snapshot: ClusterSnapshot, options: Partial<SchedulerOptions> = {}) {
    this.state = ClusterState.fromSnapshot(snapshot);
    this.chain = buildChain(defaultSchedulerOptions(options));
  }

  /** place scores every feasible node and takes the best; returns the node index or -1. */
  place(task: SchedTask): number {
    const s = this.state;
    const cls = compileClass(task, s, 1, 0);
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < s.n; i++) {
      if (firstRejection(this.chain.filters, cls, s, i)) continue;
      const score = scoreNode(this.chain, cls, s, i);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (best < 0) {
      this.unplacedCount++;
      return -1;
    }
    s.add(toPlaced(task, best));
    this.placements.push({ taskId: task.id, node: s.nodes[best]!.name, score: bestScore });
    return best;
  }
}

/** naiveSchedule runs NaiveRun over the queue in the same order as schedule(). */
export function naiveSchedule(snapshot: ClusterSnapshot, pending: readonly SchedTask[], options: Partial<SchedulerOptions> = {}): NaiveRun {
  const run = new NaiveRun(snapshot, options);
  for (const t of orderQueue(pending, defaultSchedulerOptions(options).seed)) run.place(t);
  return run;
}
