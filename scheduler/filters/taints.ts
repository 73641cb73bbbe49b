import type { Taint, Toleration } from '../../api/index.ts';
import { defineFilter, type Filter, unresolvable } from './filter.ts';
import { FilterUntoleratedTaint } from '../reasons.ts';

const UNTOLERATED = unresolvable(FilterUntoleratedTaint);

/** tolerates is Kubernetes' rule for one toleration against one taint. */
export function tolerates(tol: Toleration, taint: Taint): boolean {
  if (tol.effect !== undefined && tol.effect !== taint.effect) return false;
  const op = tol.operator ?? 'Equal';
  if (tol.key === undefined || tol.key === '') return op === 'Exists';
  if (tol.key !== taint.key) return false;
  return op === 'Exists' || (tol.value ?? '') === (taint.value ?? '');
}

/** untoleratedTaint returns the first blocking taint no toleration covers, or undefined. */
export function untoleratedTaint(taints: Taint[], tolerations: Toleration[]): Taint | undefined {
  for (const taint of taints) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!tolerations.some((t) => tolerates(t, taint))) return taint;
  }
  return undefined;
}

/**
 * taintFilter keeps a task off a node with a NoSchedule or NoExecute taint it does not tolerate,
 * with Kubernetes' matching rules. PreferNoSchedule never rejects.
 */
export const taintFilter: Filter = defineFilter('taints', false, (cls, state, node) => {
  const taints = state.nodes[node]!.taints;
  if (taints.length === 0) return null;
  return untoleratedTaint(taints, cls.tolerations) ? UNTOLERATED : null;
});
