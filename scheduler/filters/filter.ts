import type { ClusterState } from '../state.ts';
import type { TaskClass } from '../task-class.ts';
import type { FilterStatus } from '../types.ts';

/**
 * Filter is one feasibility check (a Nomad feasibility iterator, a kube-scheduler Filter plugin).
 * It returns null when the node fits, otherwise a status naming the reason, so every rejection can
 * be counted and explained. Only bugs throw.
 */
export interface Filter {
  readonly name: string;
  /** Dynamic filters depend on what is placed on the node and are re-run when it changes. */
  readonly dynamic: boolean;
  filter(cls: TaskClass, state: ClusterState, node: number): FilterStatus | null;
}

/** FilterFn decides one node for one task class: null passes, a status says why not. */
export type FilterFn = Filter['filter'];

/** defineFilter names a filter and says whether it is dynamic (see Filter). */
export function defineFilter(name: string, dynamic: boolean, filter: FilterFn): Filter {
  return { name, dynamic, filter };
}

/** unschedulable makes a status preemption might cure. */
export function unschedulable(reason: string): FilterStatus {
  return Object.freeze({ kind: 'unschedulable', reason });
}

/** unresolvable makes a status no preemption can cure. */
export function unresolvable(reason: string): FilterStatus {
  return Object.freeze({ kind: 'unresolvable', reason });
}
