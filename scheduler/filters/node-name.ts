import { NOT_PINNED } from '../task-class.ts';
import { defineFilter, type Filter, unresolvable } from './filter.ts';
import { FilterNotDaemonSetNode } from '../reasons.ts';

const OTHER = unresolvable(FilterNotDaemonSetNode);

/**
 * nodeNameFilter keeps a DaemonSet task (TaskSpec.nodeName) on its own node and off every other.
 * An unknown node name rejects every node.
 */
export const nodeNameFilter: Filter = defineFilter('node-name', false, (cls, _state, node) => {
  if (cls.pinned === NOT_PINNED || cls.pinned === node) return null;
  return OTHER;
});
