/**
 * The reasons a filter gives for rejecting a node, exported so tests, the CLI and dashboards match
 * these names instead of raw text (Nomad's `FilterConstraint*` constants in scheduler/feasible).
 * The text is what users read in "0/5 nodes fit: 3 insufficient memory, ..." messages and events;
 * changing one is a user-visible change.
 */

/** FilterNodeNotReady: the node's heartbeat lapsed (node-ready). Unresolvable. */
export const FilterNodeNotReady = 'node not ready';
/** FilterNodeCordoned: the node is cordoned or draining (node-ready). Unresolvable. */
export const FilterNodeCordoned = 'node cordoned';
/** FilterNotDaemonSetNode: a DaemonSet task runs only on its own node (node-name). Unresolvable. */
export const FilterNotDaemonSetNode = "not the DaemonSet task's node";
/** FilterNodeSelectorMismatch: a nodeSelector pair is missing from the node's labels (node-selector). */
export const FilterNodeSelectorMismatch = 'node selector mismatch';
/** FilterUntoleratedTaint: a NoSchedule/NoExecute taint no toleration covers (taints). */
export const FilterUntoleratedTaint = 'untolerated taint';
/** FilterInsufficientCpu: the CPU request does not fit (resources). Preemption may help. */
export const FilterInsufficientCpu = 'insufficient cpu';
/** FilterInsufficientMemory: the memory request does not fit (resources). Preemption may help. */
export const FilterInsufficientMemory = 'insufficient memory';
/** FilterInsufficientCpuAndMemory: neither request fits (resources). Preemption may help. */
export const FilterInsufficientCpuAndMemory = 'insufficient cpu and memory';
/** FilterTooManyTasks: the node's task slots are full (resources). Preemption may help. */
export const FilterTooManyTasks = 'too many tasks';
/** FilterHostPortInUse: another task holds one of the task's host ports (host-ports). */
export const FilterHostPortInUse = 'host port in use';
/** FilterSpreadPerNode: the job has maxPerNode tasks on the node already (spread-limit). */
export const FilterSpreadPerNode = 'job spread limit per node';

/** filterSpreadPerDomain: the job has `max` tasks in the node's `label` domain already (spread-limit). */
export function filterSpreadPerDomain(label: string): string {
  return `job spread limit per ${label}`;
}

/** filterMissingDomainLabel: the job spreads over `label` and the node has none (spread-limit). Unresolvable. */
export function filterMissingDomainLabel(label: string): string {
  return `node lacks label ${label}`;
}
