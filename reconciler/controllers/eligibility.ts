import type { NodeRecord, Taint, Toleration } from '../../api/index.ts';
import { NODE_GRACE_MS, nodeIsLive } from '../../api/index.ts';


/** tolerates tells whether a toleration matches a taint, with Kubernetes' rules. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect !== undefined && t.effect !== taint.effect) return false;
  if ((t.operator ?? 'Equal') === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/** NodeEligibility is whether a DaemonSet's task belongs on a node, and why not. */
export type NodeEligibility = { eligible: true } | { eligible: false; reason: string };

/** PlacementRules are the parts of a template that choose its nodes. */
export type PlacementRules = { nodeSelector: Record<string, string>; tolerations: Toleration[] };

/**
 * nodeEligibility decides whether a template runs on a node: the node is live (heartbeat within
 * `graceMs`), its labels match the nodeSelector, and every NoSchedule/NoExecute taint is tolerated
 * (PreferNoSchedule only steers the scheduler). Pure.
 */
export function nodeEligibility(node: NodeRecord, tpl: PlacementRules, now: number, graceMs: number = NODE_GRACE_MS): NodeEligibility {
  if (!nodeIsLive(node, now, graceMs)) return { eligible: false, reason: `node ${node.name} has no heartbeat since ${node.heartbeatAt}` };
  const reason = placementMismatch(node, tpl);
  return reason === undefined ? { eligible: true } : { eligible: false, reason };
}

/**
 * placementMismatch is nodeEligibility without the clock: why the node's labels or taints keep the
 * template off it, undefined when they do not. A node's liveness changes with time, this only
 * with its record or the template, so a caller that keeps verdicts (EligibleNodeIndex) judges
 * the two apart. Pure.
 */
export function placementMismatch(node: NodeRecord, tpl: PlacementRules): string | undefined {
  for (const [k, v] of Object.entries(tpl.nodeSelector)) {
    if (node.labels[k] !== v) return `node ${node.name} label ${k}=${node.labels[k] ?? '(unset)'}, selector wants ${v}`;
  }
  for (const taint of node.taints) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!tpl.tolerations.some((t) => tolerates(t, taint))) {
      return `node ${node.name} taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect} not tolerated`;
    }
  }
  return undefined;
}

/**
 * eligibleNodeNames lists, sorted, the names of the nodes a template runs on (nodeEligibility at
 * `now`): the full computation a DaemonSet's controller decides from. Pure.
 */
export function eligibleNodeNames(nodes: readonly NodeRecord[], tpl: PlacementRules, now: number, graceMs: number = NODE_GRACE_MS): string[] {
  const out: string[] = [];
  for (const n of nodes) if (nodeEligibility(n, tpl, now, graceMs).eligible) out.push(n.name);
  return out.sort();
}
