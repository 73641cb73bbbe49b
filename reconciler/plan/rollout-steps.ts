import type { IntOrPercent } from '../../api/index.ts';
import { resolveIntOrPercent } from '../controllers/index.ts';

/** RolloutWave is one step of a predicted rolling update: what starts, what stops, what is left. */
export interface RolloutWave {
  start: number;
  stop: number;
  newTasks: number;
  oldTasks: number;
}

/**
 * rollingWaves predicts a service Job's rolling update as the controller runs it (Kubernetes
 * Deployment rules): at most replicas+maxSurge tasks exist, at least replicas-maxUnavailable stay
 * ready, and each wave waits for the new tasks of the previous one to become ready. Assumes every
 * new task becomes ready; a task that does not stalls the rollout at that wave. Pure.
 */
export function rollingWaves(replicas: number, maxSurge: IntOrPercent | undefined, maxUnavailable: IntOrPercent | undefined): { surge: number; unavailable: number; waves: RolloutWave[] } {
  const surge = resolveIntOrPercent(maxSurge, replicas, '25%', true);
  let unavailable = resolveIntOrPercent(maxUnavailable, replicas, '25%', false);
  // Both zero would deadlock; the controller then allows one unavailable task, as Kubernetes does.
  if (surge === 0 && unavailable === 0) unavailable = 1;
  const waves: RolloutWave[] = [];
  let oldTasks = replicas;
  let newTasks = 0;
  while ((newTasks < replicas || oldTasks > 0) && waves.length <= replicas + 2) {
    const stop = Math.max(0, Math.min(oldTasks, oldTasks + newTasks - (replicas - unavailable)));
    oldTasks -= stop;
    const start = Math.max(0, Math.min(replicas - newTasks, replicas + surge - (oldTasks + newTasks)));
    newTasks += start;
    waves.push({ start, stop, newTasks, oldTasks });
  }
  return { surge, unavailable, waves };
}
