import type { Toleration } from '../api/index.ts';
import { hostPortKeys, type ClusterState } from './state.ts';
import type { FilterReason, SchedTask, SpreadSpec } from './types.ts';


/** NOT_PINNED / PIN_UNKNOWN are the values of `pinned` for free tasks and unknown node names. */
export const NOT_PINNED = -1;
export const PIN_UNKNOWN = -2;

/**
 * TaskClass is Borg's equivalence class: the tasks of one job with the same template (and the same
 * pinned node, for DaemonSets) need the same things, so their requirements are compiled once and
 * their feasibility and scores are cached once per class, not once per task.
 * Fields under "cache" belong to the placement run.
 */
export interface TaskClass {
  key: string;
  jobKey: string;
  priority: number;
  cpu: number;
  mem: number;
  selector: [string, string][];
  tolerations: Toleration[];
  hostPorts: string[];
  image: string;
  spread: SpreadSpec | undefined;
  /** Node index of a DaemonSet task, NOT_PINNED, or PIN_UNKNOWN. */
  pinned: number;
  pinnedName: string | undefined;
  // cache: candidate nodes with their cached scores and the node version the score was taken at.
  candNode: Int32Array;
  candScore: Float64Array;
  candVersion: Uint32Array;
  candCount: number;
  inCand: Set<number>;
  /** Position in the shuffled node order where the next scan continues. */
  cursor: number;
  /** Nodes scanned in a row without finding a new feasible one; >= n means exhausted. */
  misses: number;
  /** state.epoch the cached explanation (`failed`) belongs to. */
  epoch: number;
  /** How much of state.freed this class has re-checked. */
  freedSeen: number;
  /** Cached explanation when the class could not be placed at `failedEpoch`. */
  failed: { epoch: number; reasons: FilterReason[]; message: string } | undefined;
}

/** classKey names the equivalence class of a task. */
export function classKey(task: SchedTask): string {
  return `${task.jobKey}\u0000${task.templateHash}\u0000${task.nodeName ?? ''}\u0000${task.priority}`;
}

/** compileClass turns a task's requirements into the flat form the filters and scorers read. */
export function compileClass(task: SchedTask, state: ClusterState, capacity: number, start: number): TaskClass {
  const req = task.template.resources.requests;
  let pinned = NOT_PINNED;
  if (task.nodeName !== undefined) pinned = state.index.get(task.nodeName) ?? PIN_UNKNOWN;
  const spread = task.spread;
  return {
    key: classKey(task),
    jobKey: task.jobKey,
    priority: task.priority,
    cpu: req.cpuMillis,
    mem: req.memoryBytes,
    selector: Object.entries(task.template.nodeSelector ?? {}),
    tolerations: task.template.tolerations ?? [],
    hostPorts: hostPortKeys(task),
    image: task.template.image,
    spread:
      spread && (spread.maxPerNode !== undefined || spread.maxPerDomain !== undefined)
        ? {
            maxPerNode: spread.maxPerNode,
            domain: spread.maxPerDomain
              ? { ...spread.maxPerDomain, counts: state.domainCounts(task.jobKey, spread.maxPerDomain.label) }
              : undefined,
          }
        : undefined,
    pinned,
    pinnedName: task.nodeName,
    candNode: new Int32Array(capacity),
    candScore: new Float64Array(capacity),
    candVersion: new Uint32Array(capacity),
    candCount: 0,
    inCand: new Set(),
    cursor: start,
    misses: 0,
    epoch: state.epoch,
    freedSeen: state.freed.length,
    failed: undefined,
  };
}
