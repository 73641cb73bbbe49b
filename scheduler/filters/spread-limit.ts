import { type Filter, unresolvable, unschedulable, defineFilter } from './filter.ts';
import type { FilterStatus } from '../types.ts';
import { filterMissingDomainLabel, filterSpreadPerDomain, FilterSpreadPerNode } from '../reasons.ts';

const PER_NODE = unschedulable(FilterSpreadPerNode);
const perDomain = new Map<string, FilterStatus>();
const noLabel = new Map<string, FilterStatus>();

function cached(map: Map<string, FilterStatus>, label: string, make: () => FilterStatus): FilterStatus {
  let s = map.get(label);
  if (!s) map.set(label, (s = make()));
  return s;
}

/**
 * spreadLimitFilter caps the tasks of one job per node (`maxPerNode`) and per failure domain
 * (`maxPerDomain`: at most `max` tasks per value of a node label such as `zone`). A node without
 * the domain label is rejected: the job asked to be spread over that label.
 */
export const spreadLimitFilter: Filter = defineFilter('spread-limit', true, (cls, state, node) => {
  const spread = cls.spread;
  if (!spread) return null;
  if (spread.maxPerNode !== undefined) {
    const onNode = state.jobs.get(cls.jobKey)?.perNode.get(node) ?? 0;
    if (onNode + 1 > spread.maxPerNode) return PER_NODE;
  }
  const d = spread.domain;
  if (d) {
    const value = state.nodes[node]!.labels[d.label];
    if (value === undefined) return cached(noLabel, d.label, () => unresolvable(filterMissingDomainLabel(d.label)));
    if ((d.counts.get(value) ?? 0) + 1 > d.max) return cached(perDomain, d.label, () => unschedulable(filterSpreadPerDomain(d.label)));
  }
  return null;
});
