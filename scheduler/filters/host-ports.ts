import { defineFilter, type Filter, unschedulable } from './filter.ts';
import { FilterHostPortInUse } from '../reasons.ts';

const IN_USE = unschedulable(FilterHostPortInUse);

/** hostPortsFilter rejects a node where another task already claims one of the task's host ports. */
export const hostPortsFilter: Filter = defineFilter('host-ports', true, (cls, state, node) => {
  if (cls.hostPorts.length === 0) return null;
  const used = state.ports[node];
  if (!used) return null;
  for (const p of cls.hostPorts) if (used.has(p)) return IN_USE;
  return null;
});
