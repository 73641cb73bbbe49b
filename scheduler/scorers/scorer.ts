import type { ClusterState } from '../state.ts';
import type { TaskClass } from '../task-class.ts';

/**
 * Scorer is one ranking stage (a Nomad rank iterator, a kube-scheduler Score plugin): it rates a
 * feasible node for a task from 0 (worst) to 100 (best). The chain combines scorers by weight.
 * The maths of each scorer is a named pure function next to it, tested on its own.
 * `score` must return a number in 0..100.
 */
export interface Scorer {
  readonly name: string;
  score(cls: TaskClass, state: ClusterState, node: number): number;
}

/** fraction is `part / whole` clamped to 0..1; a resource with no capacity counts as full. */
export function fraction(part: number, whole: number): number {
  if (whole <= 0) return 1;
  const f = part / whole;
  return f < 0 ? 0 : f > 1 ? 1 : f;
}
