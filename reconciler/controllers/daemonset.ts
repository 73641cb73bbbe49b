import { NODE_GRACE_MS, type NodeRecord } from '../../api/index.ts';
import { nodeEligibility } from './eligibility.ts';
import { isReady, isTerminal, resolveIntOrPercent, shortHash, taskId } from './tasks.ts';
import type { ControllerResult, TaskView, WorkloadStatus } from './types.ts';
import { controllerResult, makeTask, rolloutConditions, type ControllerOptions, trackWorkloadRollout, type WorkloadSpec, workloadStatus } from './workload.ts';

/** DaemonSetInput is the state a DaemonSet's controller decides from. */
export interface DaemonSetInput {
  ds: WorkloadSpec;
  nodes: readonly NodeRecord[];
  tasks: readonly TaskView[];
  prev?: WorkloadStatus;
  /** nodeGraceMs: a node whose heartbeat is older counts as gone (default 30 s). */
  nodeGraceMs?: number;
}

/**
 * computeDaemonSet keeps one task of the current template pinned to every eligible node
 * (nodeSelector, tolerations, live heartbeat), following nodes as they join and leave. A template
 * change replaces tasks node by node (delete old, create new on the same node: a node cannot hold
 * both), never leaving more than maxUnavailable eligible nodes without a ready task; nodes whose
 * old task is already unready go first, since replacing them costs no availability. Pure.
 */
export function computeDaemonSet(input: DaemonSetInput, opts: ControllerOptions): ControllerResult {
  const { ds } = input;
  const eligible = input.nodes
    .filter((n) => nodeEligibility(n, ds.template, opts.now, input.nodeGraceMs ?? NODE_GRACE_MS).eligible)
    .map((n) => n.name)
    .sort();
  const eligibleSet = new Set(eligible);
  const maxUnavailable = Math.max(1, resolveIntOrPercent(ds.strategy?.maxUnavailable, eligible.length, 1, false));

  const byNode = new Map<string, TaskView[]>();
  const del: string[] = [];
  for (const t of input.tasks) {
    const node = t.spec.nodeName;
    if (node === undefined || !eligibleSet.has(node)) {
      del.push(t.spec.id); // the node left, or no longer matches
      continue;
    }
    byNode.set(node, [...(byNode.get(node) ?? []), t]);
  }
  const onEligible = [...byNode.values()].flat();
  const currentTasks = onEligible.filter((t) => t.spec.templateHash === ds.templateHash);
  const oldLive = onEligible.filter((t) => t.spec.templateHash !== ds.templateHash && !isTerminal(t));

  const decision = trackWorkloadRollout('DaemonSet', ds, input.prev, { desired: eligible.length, newTasks: currentTasks, oldCount: oldLive.length }, opts);
  const rollout = decision.state;
  const hash = shortHash(ds.templateHash, rollout.generation);
  const create: ReturnType<typeof makeTask>[] = [];
  const held = rollout.phase === 'Failed';

  // Nodes without a ready task of any template are already unavailable.
  let unavailable = eligible.filter((n) => !(byNode.get(n) ?? []).some(isReady)).length;
  const needsUpdate: { node: string; old: TaskView[]; oldReady: boolean }[] = [];
  eligible.forEach((node, index) => {
    const tasks = byNode.get(node) ?? [];
    const current = tasks.filter((t) => t.spec.templateHash === ds.templateHash);
    const liveCurrent = current.filter((t) => !isTerminal(t));
    const old = tasks.filter((t) => t.spec.templateHash !== ds.templateHash);
    if (held) return;
    for (const t of tasks.filter(isTerminal)) del.push(t.spec.id);
    if (liveCurrent.length > 0) {
      for (const t of old) del.push(t.spec.id); // the node already runs the new template
      for (const t of liveCurrent.slice(1)) del.push(t.spec.id);
      return;
    }
    const oldLiveHere = old.filter((t) => !isTerminal(t));
    if (oldLiveHere.length === 0) {
      // A new node, or one whose task ended: place at once, it costs no availability.
      const suffix = current.length > 0 ? opts.now.toString(36) : undefined;
      create.push(makeTask(ds, taskId(ds.namespace, ds.name, node, hash, suffix), index, opts.now, node));
      return;
    }
    needsUpdate.push({ node, old: oldLiveHere, oldReady: oldLiveHere.some(isReady) });
  });
  // Unready old tasks first (free), then ready ones while the unavailability budget allows.
  needsUpdate.sort((a, b) => Number(a.oldReady) - Number(b.oldReady) || (a.node < b.node ? -1 : 1));
  for (const u of needsUpdate) {
    if (u.oldReady) {
      if (unavailable >= maxUnavailable) break;
      unavailable++;
    }
    for (const t of u.old) del.push(t.spec.id);
    const index = eligible.indexOf(u.node);
    create.push(makeTask(ds, taskId(ds.namespace, ds.name, u.node, hash), index, opts.now, u.node));
  }

  const ready = eligible.filter((n) => (byNode.get(n) ?? []).some(isReady)).length;
  const status = workloadStatus('DaemonSet', ds, {
    desired: eligible.length,
    current: onEligible.filter((t) => !isTerminal(t)).length,
    ready,
    updated: currentTasks.filter((t) => !isTerminal(t)).length,
    rollout,
    conditions: rolloutConditions(input.prev, rollout, ready, eligible.length, opts.now),
  }, opts.now);
  return controllerResult(create, del, status, decision.events, decision.failed);
}
