/**
 * The placement chain: which filters run in which order and how scorers are weighed. This is the
 * one place that wires the stages (Nomad's stack, kube-scheduler's profile).
 */
import { hostPortsFilter } from './filters/host-ports.ts';
import { nodeNameFilter } from './filters/node-name.ts';
import { nodeReadyFilter } from './filters/node-ready.ts';
import { nodeSelectorFilter } from './filters/node-selector.ts';
import { resourcesFilter } from './filters/resources.ts';
import { spreadLimitFilter } from './filters/spread-limit.ts';
import { taintFilter } from './filters/taints.ts';
import type { Filter } from './filters/filter.ts';
import { balancedResourcesScorer } from './scorers/balanced-resources.ts';
import { imageLocalityScorer } from './scorers/image-locality.ts';
import { jobSpreadScorer } from './scorers/job-spread.ts';
import { leastAllocatedScorer } from './scorers/least-allocated.ts';
import { mostAllocatedScorer } from './scorers/most-allocated.ts';
import type { Scorer } from './scorers/scorer.ts';
import { strandedResourcesScorer } from './scorers/stranded-resources.ts';
import type { ClusterState } from './state.ts';
import type { TaskClass } from './task-class.ts';
import type { FilterStatus, SchedulerOptions } from './types.ts';

/** WeightedScorer is a scorer with its weight in the final score. */
export interface WeightedScorer {
  scorer: Scorer;
  weight: number;
}

/** Chain is the wired pipeline: filters in order, then weighted scorers (weights sum to `totalWeight`). */
export interface Chain {
  filters: Filter[];
  /** The filters that depend on placements, re-run when a cached candidate node changed. */
  dynamicFilters: Filter[];
  scorers: WeightedScorer[];
  totalWeight: number;
}

/** buildChain wires the stages; the order of filters is the order of cost, cheapest first. */
export function buildChain(options: SchedulerOptions): Chain {
  const filters: Filter[] = [
    // A DaemonSet task fits one node only: one integer compare rules out all the others at once.
    nodeNameFilter,
    // One byte per node; rejects everything on dead or cordoned nodes before any string work.
    nodeReadyFilter,
    // A few label lookups, and most tasks have no selector at all.
    nodeSelectorFilter,
    // Most nodes carry no taints: one length check.
    taintFilter,
    // Arithmetic on typed arrays: the filter that rejects most nodes in a busy cell.
    resourcesFilter,
    // Set lookups, only for the few tasks that claim host ports.
    hostPortsFilter,
    // Map lookups per job: the costliest, and only for jobs that ask for a limit.
    spreadLimitFilter,
  ];
  const w = options.weights;
  const all: WeightedScorer[] = [
    // The spread/pack blend: one setting shares `fitWeight` between the two opposite scorers.
    { scorer: leastAllocatedScorer, weight: options.fitWeight * (1 - options.packing) },
    { scorer: mostAllocatedScorer, weight: options.fitWeight * options.packing },
    // Borg's hybrid: keep what is left on a node usable by the typical pending task.
    { scorer: strandedResourcesScorer, weight: w.strandedResources },
    // kube's balance: CPU and memory fill evenly (close to the above for a uniform shape).
    { scorer: balancedResourcesScorer, weight: w.balancedResources },
    // Fewer tasks of one job per node: a node failure takes out fewer of them.
    { scorer: jobSpreadScorer, weight: w.jobSpread },
    // A present image means no pull: a faster start.
    { scorer: imageLocalityScorer, weight: w.imageLocality },
  ];
  const scorers = all.filter((s) => s.weight > 0);
  return {
    filters,
    dynamicFilters: filters.filter((f) => f.dynamic),
    scorers,
    totalWeight: scorers.reduce((sum, s) => sum + s.weight, 0),
  };
}

/** firstRejection runs `filters` in order and returns the first rejection, or null when the node fits. */
export function firstRejection(filters: Filter[], cls: TaskClass, state: ClusterState, node: number): FilterStatus | null {
  for (let f = 0; f < filters.length; f++) {
    const status = filters[f]!.filter(cls, state, node);
    if (status) return status;
  }
  return null;
}

/** scoreNode is the weighted mean 0..100 of the chain's scorers (0 when every weight is 0). */
export function scoreNode(chain: Chain, cls: TaskClass, state: ClusterState, node: number): number {
  if (chain.totalWeight === 0) return 0;
  let sum = 0;
  for (let k = 0; k < chain.scorers.length; k++) {
    const ws = chain.scorers[k]!;
    sum += ws.weight * ws.scorer.score(cls, state, node);
  }
  return sum / chain.totalWeight;
}
