/**
 * Explanations for tasks that wait: every node is run through the filters and the first rejection
 * of each is counted, giving "0/5000 nodes fit: 3100 insufficient memory, 1900 node selector mismatch".
 */
import type { Filter } from './filters/filter.ts';
import type { ClusterState } from './state.ts';
import { NOT_PINNED, PIN_UNKNOWN, type TaskClass } from './task-class.ts';
import type { FilterReason } from './types.ts';

/** Diagnosis is the per-filter reasons and the one-line message built from them. */
export interface Diagnosis {
  reasons: FilterReason[];
  message: string;
}

/** diagnose explains why no node fits `cls` right now. Costs one filter pass over every node. */
export function diagnose(cls: TaskClass, state: ClusterState, filters: Filter[], preemptionNote?: string): Diagnosis {
  const counts = new Map<string, FilterReason>();
  let fits = 0;
  for (let i = 0; i < state.n; i++) {
    let rejected = false;
    for (const f of filters) {
      const status = f.filter(cls, state, i);
      if (!status) continue;
      const key = `${f.name}\u0000${status.reason}`;
      const r = counts.get(key);
      if (r) r.nodes++;
      else counts.set(key, { filter: f.name, reason: status.reason, nodes: 1 });
      rejected = true;
      break;
    }
    if (!rejected) fits++;
  }
  const reasons = [...counts.values()].sort((a, b) => b.nodes - a.nodes || (a.reason < b.reason ? -1 : 1));
  return { reasons, message: formatMessage(cls, state, fits, reasons, preemptionNote) };
}

/** formatReasons renders "3100 insufficient memory, 1900 node selector mismatch". */
export function formatReasons(reasons: FilterReason[]): string {
  return reasons.map((r) => `${r.nodes} ${r.reason}`).join(', ');
}

function formatMessage(cls: TaskClass, state: ClusterState, fits: number, reasons: FilterReason[], note?: string): string {
  const tail = note ? `; ${note}` : '';
  if (cls.pinned === PIN_UNKNOWN) return `DaemonSet task's node ${cls.pinnedName} is not in the cluster${tail}`;
  if (cls.pinned !== NOT_PINNED) {
    const own = reasons.find((r) => r.filter !== 'node-name');
    const name = state.nodes[cls.pinned]!.name;
    return own ? `DaemonSet task's node ${name} does not fit: ${own.reason}${tail}` : `DaemonSet task's node ${name} fits${tail}`;
  }
  if (state.n === 0) return `0/0 nodes fit: the cluster has no nodes${tail}`;
  return `${fits}/${state.n} nodes fit: ${formatReasons(reasons)}${tail}`;
}
