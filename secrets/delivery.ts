import type { Binding, NodeSecretRecord, NodeSecretRef, TaskSpec } from '../api/cluster.ts';

export type { NodeSecretRecord, NodeSecretRef };

/**
 * Delivery: each agent may read only the Secrets of tasks bound to its node. The reconciler side
 * re-seals every needed Secret for each node's own public key into that node's bucket
 * (`<prefix>secrets_<node>`, key `<namespace>.<name>`); NATS permissions confine each agent to its
 * own bucket. This file is the pure part: which node needs which Secret.
 */

/** nodeSecretKey is the key of a Secret in a node's secrets bucket. */
export function nodeSecretKey(namespace: string, name: string): string {
  return `${namespace}.${name}`;
}

/** usesSecrets tells whether a task mounts a Secret or reads one into its environment. */
export function usesSecrets(spec: TaskSpec): boolean {
  return spec.template.secretMounts.length > 0 || (spec.template.secretEnv?.length ?? 0) > 0;
}

/**
 * secretsNeededByNode maps each node to the Secrets its bound tasks mount or read env values from,
 * at the Secrets' current versions. Secrets that no longer exist are left out (the task fails to
 * start with a clear message on the agent, rather than getting stale values).
 */
export function secretsNeededByNode(
  tasks: Iterable<TaskSpec>,
  bindings: ReadonlyMap<string, Pick<Binding, 'node'>>,
  currentVersions: ReadonlyMap<string, string>,
): Map<string, Map<string, NodeSecretRef>> {
  const needed = new Map<string, Map<string, NodeSecretRef>>();
  // No Secret in the cluster, none needed: a pass at 100,000 tasks walked them all for nothing.
  if (currentVersions.size === 0) return needed;
  for (const task of tasks) {
    const t = task.template;
    if (t.secretMounts.length === 0 && !t.secretEnv?.length && !t.imagePullSecrets?.length) continue;
    const node = bindings.get(task.id)?.node;
    if (node === undefined) continue;
    const names = new Set([
      ...task.template.secretMounts.map((m) => m.secretName), ...(task.template.secretEnv ?? []).map((e) => e.secretName),
      ...(task.template.imagePullSecrets ?? []).map((s) => s.secretName),
    ]);
    for (const name of names) {
      const key = nodeSecretKey(task.namespace, name);
      const version = currentVersions.get(key);
      if (version === undefined) continue;
      let forNode = needed.get(node);
      if (!forNode) needed.set(node, (forNode = new Map()));
      forNode.set(key, { namespace: task.namespace, name, version });
    }
  }
  return needed;
}

/** DeliveryPlan is what to write to and remove from the nodes' secrets buckets. */
export interface DeliveryPlan {
  put: { node: string; ref: NodeSecretRef }[];
  remove: { node: string; key: string }[];
}

/**
 * planDelivery compares what nodes need with what their buckets hold (key -> version, plus the key
 * id the copy was sealed to) and returns the writes: a copy is re-sealed when its version changed or
 * the node's key changed, and removed when no task on the node uses it any more.
 */
export function planDelivery(
  needed: ReadonlyMap<string, ReadonlyMap<string, NodeSecretRef>>,
  present: ReadonlyMap<string, ReadonlyMap<string, { version: string; nodeKeyId: string }>>,
  nodeKeyIds: ReadonlyMap<string, string>,
): DeliveryPlan {
  const plan: DeliveryPlan = { put: [], remove: [] };
  for (const [node, refs] of needed) {
    const have = present.get(node);
    const nodeKeyId = nodeKeyIds.get(node);
    if (nodeKeyId === undefined) continue; // node has not published its key yet: nothing can be sealed for it
    for (const [key, ref] of refs) {
      const copy = have?.get(key);
      if (!copy || copy.version !== ref.version || copy.nodeKeyId !== nodeKeyId) plan.put.push({ node, ref });
    }
  }
  for (const [node, keys] of present) {
    for (const key of keys.keys()) if (!needed.get(node)?.has(key)) plan.remove.push({ node, key });
  }
  return plan;
}
