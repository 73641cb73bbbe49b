/**
 * schedule is the pure core's entry point: snapshot + pending tasks -> placements, preemptions and
 * reasons. No I/O, no clock: the same inputs and seed always give the same result.
 */
import { orderQueue } from './queue.ts';
import { PlacementRun } from './run.ts';
import type { ClusterState } from './state.ts';
import type { ClusterSnapshot, SchedTask, ScheduleResult, SchedulerOptions } from './types.ts';

/**
 * schedule places `pending` on the cluster of `snapshot` in queue order (priority, then
 * round-robin across jobs). Preempted tasks are listed in `preemptions` and are not re-placed in
 * this pass: they are pending again for the next one.
 *
 * @example
 *   const { placements, unplaced } = schedule({ nodes, running: [] }, tasks, { seed: 'eval-42' });
 *   for (const u of unplaced) console.log(u.taskId, u.message); // "0/3 nodes fit: 3 insufficient memory"
 */
export function schedule(snapshot: ClusterSnapshot, pending: readonly SchedTask[], options: Partial<SchedulerOptions> = {}): ScheduleResult {
  const s = new Scheduling(snapshot, pending, options);
  s.step(Infinity);
  return s.result();
}

/**
 * Scheduling is `schedule` in slices, for a caller that must not hold its thread for a whole pass:
 * the service deciding 100,000 tasks on 10,000 nodes for seconds held back its lease renewals and
 * its watches meanwhile. Pure like `schedule`: `step(n)` places the next `n` tasks in queue order,
 * and the result is the same however the work is sliced.
 */
export class Scheduling {
  private readonly run: PlacementRun;
  private readonly queue: readonly SchedTask[];
  private next = 0;

  /** `cluster`: a snapshot, or a working state the run changes in place (PlacementRun). */
  constructor(cluster: ClusterSnapshot | ClusterState, pending: readonly SchedTask[], options: Partial<SchedulerOptions> = {}) {
    this.run = new PlacementRun(cluster, options, pending);
    this.queue = orderQueue(pending, this.run.options.seed);
  }

  /** step places up to `n` more tasks; true while some are left. */
  step(n: number): boolean {
    const end = Math.min(this.queue.length, this.next + n);
    while (this.next < end) this.run.place(this.queue[this.next++]!);
    return this.next < this.queue.length;
  }

  /** result is what was decided so far (everything, once step returned false). */
  result(): ScheduleResult {
    const run = this.run;
    return { placements: run.placements, preemptions: run.preemptions, unplaced: run.unplaced, stats: run.stats };
  }
}

/**
 * previewPlacement answers "where would these new tasks land?" for the reconciler's `plan` and
 * `gitcell schedule --dry-run`: the same core as the service, on a snapshot, touching nothing.
 */
export function previewPlacement(snapshot: ClusterSnapshot, newTasks: readonly SchedTask[], options: Partial<SchedulerOptions> = {}): ScheduleResult {
  return schedule(snapshot, newTasks, options);
}
