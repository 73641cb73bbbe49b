import { NODE_GRACE_MS, type NodeRecord } from '../../api/index.ts';
import { eligibleNodeNames } from './eligibility.ts';
import { isReady, isTerminal, resolveIntOrPercent, shortHash, taskId } from './tasks.ts';
import type { ControllerResult, TaskView, WorkloadStatus } from './types.ts';
import { controllerResult, makeTask, rolloutConditions, type ControllerOptions, trackWorkloadRollout, type WorkloadSpec, workloadStatus } from './workload.ts';

/** EligibleNodes are the nodes a DaemonSet runs on: their names sorted, and a membership test. */
export interface EligibleNodes {
  names: readonly string[];
  has(name: string): boolean;
}

/** DaemonSetInput is the state a DaemonSet's controller decides from. */
export interface DaemonSetInput {
  ds: WorkloadSpec;
  /** the nodes to judge (nodeEligibility at opts.now); not read when `eligible` is given */
  nodes?: readonly NodeRecord[];
  /**
   * eligible: the judgement of `nodes` when the caller keeps it between passes (EligibleNodeIndex);
   * its names must equal eligibleNodeNames(nodes, ds.template, opts.now, nodeGraceMs).
   */
  eligible?: EligibleNodes;
  tasks: readonly TaskView[];
  prev?: WorkloadStatus;
  /** nodeGraceMs: a node whose heartbeat is older counts as gone (default NODE_GRACE_MS). */
  nodeGraceMs?: number;
}

/** NodeTasks is one eligible node as the controller found it: its tasks, and whether one is ready. */
interface NodeTasks {
  node: string;
  index: number;
  tasks: TaskView[];
  oldReady: boolean;
}

/**
 * computeDaemonSet keeps one task of the current template pinned to every eligible node
 * (nodeSelector, tolerations, live heartbeat), following nodes as they join and leave. A template
 * change replaces tasks node by node (delete old, create new on the same node: a node cannot hold
 * both), never leaving more than maxUnavailable eligible nodes without a ready task; nodes whose
 * old task is already unready go first, since replacing them costs no availability. Pure. One walk
 * over the tasks and one over the eligible nodes, without a list per node and rule (at 10,000
 * nodes, the filters per node were 36 of the reconciler's 181 busy CPU-s in a scale run).
 */
export function computeDaemonSet(input: DaemonSetInput, opts: ControllerOptions): ControllerResult {
  const { ds } = input;
  const eligible = input.eligible ?? namesOf(eligibleNodeNames(input.nodes ?? [], ds.template, opts.now, input.nodeGraceMs ?? NODE_GRACE_MS));
  const names = eligible.names;
  const maxUnavailable = Math.max(1, resolveIntOrPercent(ds.strategy?.maxUnavailable, names.length, 1, false));

  const { byNode, del, currentTasks, live, updated, oldLive } = groupByNode(input.tasks, eligible, ds.templateHash);

  const decision = trackWorkloadRollout('DaemonSet', ds, input.prev, { desired: names.length, newTasks: currentTasks, oldCount: oldLive }, opts);
  const rollout = decision.state;
  const hash = shortHash(ds.templateHash, rollout.generation);
  const create: ReturnType<typeof makeTask>[] = [];
  const held = rollout.phase === 'Failed';

  // Nodes without a ready task of any template are already unavailable.
  let unavailable = 0;
  const needsUpdate: NodeTasks[] = [];
  for (let index = 0; index < names.length; index++) {
    const node = names[index]!;
    const tasks = byNode.get(node);
    if (tasks === undefined) {
      unavailable++;
      // A new node: place at once, it costs no availability.
      if (!held) create.push(makeTask(ds, taskId(ds.namespace, ds.name, node, hash), index, opts.now, node));
      continue;
    }
    const here = judgeNode(tasks, ds.templateHash);
    if (!here.anyReady) unavailable++;
    if (held) continue;
    for (const t of tasks) if (isTerminal(t)) del.push(t.spec.id);
    if (here.liveCurrent > 0) {
      // The node already runs the new template: its old tasks and extra new ones go.
      for (const t of tasks) if (t.spec.templateHash !== ds.templateHash) del.push(t.spec.id);
      let first = true;
      for (const t of tasks) {
        if (t.spec.templateHash !== ds.templateHash || isTerminal(t)) continue;
        if (first) first = false;
        else del.push(t.spec.id);
      }
      continue;
    }
    if (here.oldLive === 0) {
      // The node's task ended: place at once, it costs no availability.
      const suffix = here.anyCurrent ? opts.now.toString(36) : undefined;
      create.push(makeTask(ds, taskId(ds.namespace, ds.name, node, hash, suffix), index, opts.now, node));
      continue;
    }
    needsUpdate.push({ node, index, tasks, oldReady: here.oldReady });
  }
  const ready = names.length - unavailable;
  // Unready old tasks first (free), then ready ones while the unavailability budget allows.
  needsUpdate.sort((a, b) => Number(a.oldReady) - Number(b.oldReady) || (a.node < b.node ? -1 : 1));
  for (const u of needsUpdate) {
    if (u.oldReady) {
      if (unavailable >= maxUnavailable) break;
      unavailable++;
    }
    for (const t of u.tasks) if (t.spec.templateHash !== ds.templateHash && !isTerminal(t)) del.push(t.spec.id);
    create.push(makeTask(ds, taskId(ds.namespace, ds.name, u.node, hash), u.index, opts.now, u.node));
  }

  const status = workloadStatus('DaemonSet', ds, {
    desired: names.length,
    current: live,
    ready,
    updated,
    rollout,
    conditions: rolloutConditions(input.prev, rollout, ready, names.length, opts.now),
  }, opts.now);
  return controllerResult(create, del, status, decision.events, decision.failed);
}

/**
 * groupByNode files the tasks on eligible nodes by node (in the order the nodes first appear) and
 * lists the others for deletion; it counts what the rollout sees: live tasks, live ones of the
 * current template (and lists all of those), live ones of older templates.
 */
function groupByNode(all: readonly TaskView[], eligible: EligibleNodes, templateHash: string) {
  const byNode = new Map<string, TaskView[]>();
  const del: string[] = [];
  for (const t of all) {
    const node = t.spec.nodeName;
    if (node === undefined || !eligible.has(node)) {
      del.push(t.spec.id); // the node left, or no longer matches
      continue;
    }
    const list = byNode.get(node);
    if (list) list.push(t);
    else byNode.set(node, [t]);
  }
  const currentTasks: TaskView[] = [];
  let live = 0;
  let updated = 0;
  let oldLive = 0;
  for (const tasks of byNode.values()) {
    for (const t of tasks) {
      const ended = isTerminal(t);
      if (!ended) live++;
      if (t.spec.templateHash === templateHash) {
        currentTasks.push(t);
        if (!ended) updated++;
      } else if (!ended) oldLive++;
    }
  }
  return { byNode, del, currentTasks, live, updated, oldLive };
}

/** judgeNode sums up one node's tasks: any ready, live tasks of the current template, live old ones (and whether one is ready). */
function judgeNode(tasks: readonly TaskView[], templateHash: string): { anyReady: boolean; anyCurrent: boolean; liveCurrent: number; oldLive: number; oldReady: boolean } {
  let anyReady = false;
  let anyCurrent = false;
  let liveCurrent = 0;
  let oldLive = 0;
  let oldReady = false;
  for (const t of tasks) {
    const ready = isReady(t);
    if (ready) anyReady = true;
    const ended = isTerminal(t);
    if (t.spec.templateHash === templateHash) {
      anyCurrent = true;
      if (!ended) liveCurrent++;
    } else if (!ended) {
      oldLive++;
      if (ready) oldReady = true;
    }
  }
  return { anyReady, anyCurrent, liveCurrent, oldLive, oldReady };
}

/** namesOf wraps a sorted list of names as EligibleNodes. */
function namesOf(names: readonly string[]): EligibleNodes {
  const set = new Set(names);
  return { names, has: (name) => set.has(name) };
}
