import { defineFilter, type Filter, unresolvable } from './filter.ts';
import { FilterNodeCordoned, FilterNodeNotReady } from '../reasons.ts';

const NOT_READY = unresolvable(FilterNodeNotReady);
const CORDONED = unresolvable(FilterNodeCordoned);

/** nodeReadyFilter keeps tasks off nodes whose heartbeat lapsed and off cordoned (or draining) nodes. */
export const nodeReadyFilter: Filter = defineFilter('node-ready', false, (_cls, state, node) => {
  if (state.schedulable[node] === 1) return null;
  return state.nodes[node]!.ready ? CORDONED : NOT_READY;
});
