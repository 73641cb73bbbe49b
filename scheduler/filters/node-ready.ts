/** nodeReady keeps tasks off nodes whose heartbeat lapsed and off cordoned (or draining) nodes. */
import { type Filter, unresolvable } from './filter.ts';

const NOT_READY = unresolvable('node not ready');
const CORDONED = unresolvable('node cordoned');

/** nodeReadyFilter: see the file comment. */
export const nodeReadyFilter: Filter = {
  name: 'node-ready',
  dynamic: false,
  filter(_cls, state, node) {
    if (state.schedulable[node] === 1) return null;
    return state.nodes[node]!.ready ? CORDONED : NOT_READY;
  },
};
