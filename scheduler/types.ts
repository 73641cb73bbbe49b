/**
 * Types of the pure scheduling core: what it reads (a snapshot and pending tasks) and what it
 * returns (placements, preemptions, reasons). Only types live here.
 */
import type { Resources, Taint, TaskSlots, TaskSpec, TaskTemplate } from '../api/index.ts';

/**
 * SchedTask is the part of a TaskSpec the scheduler reads. A full TaskSpec is one; tests and the
 * benchmark build smaller objects.
 */
export type SchedTask = Pick<TaskSpec, 'id' | 'jobKey' | 'priority' | 'templateHash'> &
  Partial<Pick<TaskSpec, 'nodeName' | 'spread' | 'index'>> & {
    template: Pick<TaskTemplate, 'image' | 'nodeSelector' | 'tolerations'> & {
      resources: { requests: Resources };
      ports?: TaskTemplate['ports'];
    };
  };

/** SnapshotNode is one node as the scheduler sees it: NodeRecord merged with its NodeSpec. */
export interface SnapshotNode {
  name: string;
  /** What tasks may use (capacity minus system reserve); `tasks` (or the old `pods`) caps the number of tasks. */
  allocatable: Resources & TaskSlots;
  labels: Record<string, string>;
  taints: Taint[];
  /** Live heartbeat within the grace period. */
  ready: boolean;
  /** Cordoned or draining: keeps its tasks, takes no new ones. */
  cordoned: boolean;
  /** Images present on the node (image locality). */
  images?: string[];
}

/** RunningTask is a task already bound to a node: it holds resources and may be a preemption victim. */
export interface RunningTask {
  task: SchedTask;
  node: string;
}

/** ClusterSnapshot is everything the core needs to know about the cluster at one instant. */
export interface ClusterSnapshot {
  nodes: SnapshotNode[];
  running: RunningTask[];
}

/**
 * FilterStatus tells why a filter rejected a node. `unschedulable` may be cured by preemption
 * (resources, ports); `unresolvable` cannot (selector, taints, readiness): kube-scheduler's split.
 */
export interface FilterStatus {
  readonly kind: 'unschedulable' | 'unresolvable';
  readonly reason: string;
}

/** FilterReason counts the nodes one filter rejected for one reason. */
export interface FilterReason {
  filter: string;
  reason: string;
  nodes: number;
}

/** Placement binds a task to a node. `victims` lists the tasks preempted to make room. */
export interface Placement {
  taskId: string;
  node: string;
  /** Final weighted score 0..100 of the chosen node. */
  score: number;
  victims?: string[];
}

/** Preemption evicts a running task to make room for a higher-priority one; the victim goes back to pending. */
export interface Preemption {
  taskId: string;
  node: string;
  priority: number;
  preemptor: string;
  preemptorPriority: number;
}

/** Unplaced is a task that could not be placed, with the reasons per filter and node counts. */
export interface Unplaced {
  taskId: string;
  jobKey: string;
  priority: number;
  /** e.g. "0/5000 nodes fit: 3100 insufficient memory, 1900 node selector mismatch". */
  message: string;
  reasons: FilterReason[];
  nodesTotal: number;
}

/** RunStats counts the work a run did, to see the speedups at work. */
export interface RunStats {
  tasks: number;
  classes: number;
  nodesFiltered: number;
  nodesScored: number;
  cacheHits: number;
  preemptionSearches: number;
}

/** ScheduleResult is the whole decision of one scheduling pass. */
export interface ScheduleResult {
  placements: Placement[];
  preemptions: Preemption[];
  unplaced: Unplaced[];
  stats: RunStats;
}

/** ScorerWeights weighs each scorer; 0 turns one off. */
export interface ScorerWeights {
  leastAllocated: number;
  mostAllocated: number;
  strandedResources: number;
  balancedResources: number;
  jobSpread: number;
  imageLocality: number;
}

/** SchedulerOptions tunes one run; build them with defaultSchedulerOptions(). */
export interface SchedulerOptions {
  /** Seed of every random choice (queue order among jobs, node sampling): same seed, same result. */
  seed: number | string;
  /**
   * The spread/pack blend, 0..1: 0 is pure least-allocated (spread), 1 pure most-allocated (pack).
   * It sets the weights of those two scorers (`fitWeight * (1 - packing)` and `fitWeight * packing`).
   */
  packing: number;
  /** Total weight shared by least- and most-allocated according to `packing`. */
  fitWeight: number;
  /** Weights of the other scorers. */
  weights: Omit<ScorerWeights, 'leastAllocated' | 'mostAllocated'>;
  /** Relaxed randomisation: feasible nodes kept as candidates per equivalence class. */
  sampleSize: number;
  /** New feasible nodes explored per placed task once the candidate set is full. */
  explore: number;
  /** Nodes scanned per task looking for new candidates when the class still has some. */
  scanBudget: number;
  /** Allow preemption of strictly lower-priority tasks. */
  preemption: boolean;
  /** Preemption compares at least this many candidate nodes (kube-scheduler's default: 100)... */
  preemptionMinCandidates: number;
  /** ...or this percentage of the nodes, if more (kube-scheduler's default: 10; ours: 1). */
  preemptionCandidatePercent: number;
}

/** SpreadSpec is a job's spread limit compiled for one run, with the live counts of its failure domain. */
export interface SpreadSpec {
  maxPerNode: number | undefined;
  domain: { label: string; max: number; counts: Map<string, number> } | undefined;
}
