/**
 * planPass is the service's pure decision for one pass: which bindings to delete (nodes whose
 * heartbeat lapsed past the re-queue grace, nodes gone, tasks gone), then the core's placements,
 * preemptions and reasons on the cluster as it will be after those deletions. No I/O, no clock.
 */
import { nodeIsLive, type Binding, type NodeRecord, type NodeSpec, type TaskSpec } from '../../api/index.ts';
import { Scheduling } from '../schedule.ts';
import { buildSnapshot } from '../snapshot.ts';
import type { Placement, ScheduleResult, SchedulerOptions } from '../types.ts';

/** Unbind is a binding the pass deletes, with why. */
export interface Unbind {
  taskId: string;
  node: string;
  /** revision of the binding, for the compare-and-set delete */
  revision: number;
  reason: 'NodeLost' | 'NodeGone' | 'TaskGone';
  message: string;
}

/** PassInput is the service's view of the store at one instant. */
export interface PassInput {
  tasks: ReadonlyMap<string, TaskSpec>;
  bindings: ReadonlyMap<string, { readonly value: Binding; readonly revision: number }>;
  nodes: ReadonlyMap<string, NodeRecord>;
  nodeSpecs: ReadonlyMap<string, NodeSpec>;
  /**
   * claims: pending tasks an agent already runs, unclaimed, after a store rebuild (task id -> node,
   * from TaskSpec.runningOn confirmed by that node's status). They are bound back there as they are.
   */
  claims?: ReadonlyMap<string, string>;
}

/** PassTimings are the grace periods of liveness, in ms. */
export interface PassTimings {
  /** a node whose heartbeat is older than this takes no new tasks */
  heartbeatGraceMs: number;
  /** a node whose heartbeat is older than this loses its tasks (they go back to pending) */
  requeueGraceMs: number;
}

/** PassPlan is what one pass will write. */
export interface PassPlan {
  unbind: Unbind[];
  result: ScheduleResult;
}

/**
 * planPass decides one pass. DaemonSet tasks pinned to a lapsed node stay bound: they could only
 * come back to the same node, and the agent there resumes them when it returns.
 */
export function planPass(input: PassInput, now: number, timings: PassTimings, options: Partial<SchedulerOptions>): PassPlan {
  const d = startPass(input, now, timings, options);
  d.scheduling.step(Infinity);
  return d.plan();
}

/** PassDecision is planPass taken apart: the placements decided in slices (`scheduling.step`), then `plan()`. */
export interface PassDecision {
  scheduling: Scheduling;
  /** plan is the pass's plan once `scheduling.step` returned false */
  plan(): PassPlan;
}

/** startPass does planPass's unbinding and reclaiming and sets up its placements, for a caller that decides them slice by slice. Pure. */
export function startPass(input: PassInput, now: number, timings: PassTimings, options: Partial<SchedulerOptions>): PassDecision {
  const { unbind, kept } = lapsedBindings(input, now, timings);
  const reclaimed = reclaim(input, kept, now, timings);
  const { snapshot, pending } = buildSnapshot(
    { nodes: [...input.nodes.values()], nodeSpecs: input.nodeSpecs, tasks: [...input.tasks.values()], bindings: kept },
    now,
    timings.heartbeatGraceMs,
  );
  const scheduling = new Scheduling(snapshot, pending, options);
  return {
    scheduling,
    plan: () => {
      const result = scheduling.result();
      return { unbind, result: reclaimed.length ? { ...result, placements: [...reclaimed, ...result.placements] } : result };
    },
  };
}

/** lapsedBindings splits the bindings into those to delete (task gone, node gone, node lapsed past the re-queue grace) and those kept. */
function lapsedBindings(input: PassInput, now: number, timings: PassTimings): { unbind: Unbind[]; kept: Map<string, Binding> } {
  const unbind: Unbind[] = [];
  const kept = new Map<string, Binding>();
  // Judged once per node, not per binding: 100,000 bindings parsed their node's heartbeat time
  // each pass at 10,000 nodes (lapsedBindings, 57 CPU-s of a scale run).
  const lapsed = new Map<NodeRecord, boolean>();
  const isLapsed = (node: NodeRecord): boolean => {
    let l = lapsed.get(node);
    if (l === undefined) lapsed.set(node, (l = !nodeIsLive(node, now, timings.requeueGraceMs)));
    return l;
  };
  for (const [taskId, { value: b, revision }] of input.bindings) {
    const task = input.tasks.get(taskId);
    const node = input.nodes.get(b.node);
    if (!task) {
      unbind.push(taskGone(taskId, b.node, revision));
      continue;
    }
    if (!node && task.nodeName !== b.node) {
      unbind.push(nodeGone(taskId, b.node, revision));
      continue;
    }
    if (node && task.nodeName !== b.node && isLapsed(node)) {
      unbind.push(nodeLost(taskId, b.node, revision, Date.parse(node.heartbeatAt), now, timings.requeueGraceMs));
      continue;
    }
    kept.set(taskId, b);
  }
  return { unbind, kept };
}

/** taskGone is the unbinding of a task that no longer exists. */
export function taskGone(taskId: string, node: string, revision: number): Unbind {
  return { taskId, node, revision, reason: 'TaskGone', message: `task ${taskId} no longer exists; binding to ${node} removed` };
}

/** nodeGone is the unbinding of a task from a node that is not registered (or whose record is refused). */
export function nodeGone(taskId: string, node: string, revision: number): Unbind {
  return { taskId, node, revision, reason: 'NodeGone', message: `node ${node} is not registered; task ${taskId} goes back to pending` };
}

/** nodeLost is the unbinding of a task from a node whose last heartbeat (`beat`, epoch ms) is older than the re-queue grace. */
export function nodeLost(taskId: string, node: string, revision: number, beat: number, now: number, requeueGraceMs: number): Unbind {
  const ago = Math.round((now - beat) / 1000);
  return {
    taskId,
    node,
    revision,
    reason: 'NodeLost',
    message: `node ${node} missed heartbeats for ${Number.isFinite(ago) ? `${ago}s` : 'ever'} (grace ${requeueGraceMs / 1000}s); task ${taskId} goes back to pending`,
  };
}

/**
 * reclaim binds each claimed pending task to the live node that runs it, with no placement decision:
 * the task is there already, and moving it would restart it. Added to `kept`, so the rest of the
 * pass counts its resources as used.
 */
function reclaim(input: PassInput, kept: Map<string, Binding>, now: number, timings: PassTimings): Placement[] {
  const out: Placement[] = [];
  for (const [taskId, nodeName] of input.claims ?? []) {
    const task = input.tasks.get(taskId);
    const node = input.nodes.get(nodeName);
    if (!task || kept.has(taskId) || input.bindings.has(taskId) || !node || !nodeIsLive(node, now, timings.heartbeatGraceMs)) continue;
    if (task.nodeName !== undefined && task.nodeName !== nodeName) continue;
    kept.set(taskId, { taskId, node: nodeName, boundAt: new Date(now).toISOString(), schedulerTerm: 0 });
    out.push({ taskId, node: nodeName, score: 100 });
  }
  return out;
}
