import { type Filter, unresolvable } from './filter.ts';
import { FilterNodeSelectorMismatch } from '../reasons.ts';

const MISMATCH = unresolvable(FilterNodeSelectorMismatch);

/** selectorMatches is the rule: every selector pair present with the same value. */
export function selectorMatches(selector: [string, string][], labels: Record<string, string>): boolean {
  for (const [k, v] of selector) if (labels[k] !== v) return false;
  return true;
}

/** nodeSelectorFilter requires every `key: value` of the task's nodeSelector among the node's labels. */
export const nodeSelectorFilter: Filter = {
  name: 'node-selector',
  dynamic: false,
  filter(cls, state, node) {
    if (cls.selector.length === 0) return null;
    return selectorMatches(cls.selector, state.nodes[node]!.labels) ? null : MISMATCH;
  },
};
