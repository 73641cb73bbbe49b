import { selectorMatches } from '../../api/index.ts';
import { defineFilter, type Filter, unresolvable } from './filter.ts';
import { FilterNodeSelectorMismatch } from '../reasons.ts';

const MISMATCH = unresolvable(FilterNodeSelectorMismatch);

/** nodeSelectorFilter requires every `key: value` of the task's nodeSelector among the node's labels. */
export const nodeSelectorFilter: Filter = defineFilter('node-selector', false, (cls, state, node) => {
  if (cls.selector.length === 0) return null;
  return selectorMatches(cls.selector, state.nodes[node]!.labels) ? null : MISMATCH;
});
