/**
 * schedule is the pure core's entry point: snapshot + pending tasks -> placements, preemptions and
 * reasons. No I/O, no clock: the same inputs and seed always give the same result.
 */
import { orderQueue } from './queue.ts';
import { PlacementRun } from './run.ts';
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
  const run = new PlacementRun(snapshot, options, pending);
  for (const task of orderQueue(pending, run.options.seed)) run.place(task);
  return { placements: run.placements, preemptions: run.preemptions, unplaced: run.unplaced, stats: run.stats };
}

/**
 * previewPlacement answers "where would these new tasks land?" for the reconciler's `plan` and
 * `gitcell schedule --dry-run`: the same core as the service, on a snapshot, touching nothing.
 */
export function previewPlacement(snapshot: ClusterSnapshot, newTasks: readonly SchedTask[], options: Partial<SchedulerOptions> = {}): ScheduleResult {
  return schedule(snapshot, newTasks, options);
}
