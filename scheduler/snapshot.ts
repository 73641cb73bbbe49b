/**
 * Building a ClusterSnapshot from store records, as a pure function: NodeRecord + NodeSpec make a
 * SnapshotNode (spec labels and taints on top, cordon or drain = cordoned, heartbeat within the
 * grace period = ready); TaskSpecs with a Binding are running, the others pending.
 */
import { nodeIsLive, withNodeSpec, type Binding, type NodeRecord, type NodeSpec, type TaskSpec } from '../api/index.ts';
import type { ClusterSnapshot, RunningTask, SnapshotNode } from './types.ts';

/** StoreView is what the service read from the store. */
export interface StoreView {
  nodes: NodeRecord[];
  nodeSpecs: ReadonlyMap<string, NodeSpec>;
  tasks: TaskSpec[];
  bindings: ReadonlyMap<string, Binding>;
}

/**
 * snapshotNode merges a node's record and its admin spec: reserved labels only from the spec, the
 * spec's taints always, allocatable capped by the spec.
 */
export function snapshotNode(record: NodeRecord, spec: NodeSpec | undefined, now: number, graceMs: number): SnapshotNode {
  const node = withNodeSpec(record, spec);
  return {
    name: record.name,
    allocatable: node.allocatable,
    labels: node.labels ?? {},
    taints: node.taints ?? [],
    ready: nodeIsLive(record, now, graceMs),
    cordoned: Boolean(spec?.cordoned || spec?.draining),
    images: record.images ?? [],
  };
}

/** buildSnapshot returns the snapshot and the pending tasks (no binding) of a store view. */
export function buildSnapshot(view: StoreView, now: number, graceMs: number): { snapshot: ClusterSnapshot; pending: TaskSpec[] } {
  const nodes = view.nodes.map((r) => snapshotNode(r, view.nodeSpecs.get(r.name), now, graceMs));
  const running: RunningTask[] = [];
  const pending: TaskSpec[] = [];
  for (const task of view.tasks) {
    const b = view.bindings.get(task.id);
    if (b) running.push({ task, node: b.node });
    else pending.push(task);
  }
  return { snapshot: { nodes, running }, pending };
}
