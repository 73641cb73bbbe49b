/**
 * The cluster buckets the agent reads and writes, with their names from api/cluster.ts. The agent
 * writes only `status` (its own `<node>.*` keys) and `nodes` (its own key); it reads `tasks`,
 * `bindings` and `nodespec`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Bucket, jsonCodec, type BucketOptions } from '../store/index.ts';
import type { Binding, NodeRecord, NodeSpec, TaskSpec, TaskStatus } from '../api/index.ts';

/** BUCKETS names the cluster buckets (see api/cluster.ts for who writes each). */
export const BUCKETS = { tasks: 'tasks', bindings: 'bindings', status: 'status', nodes: 'nodes', nodespec: 'nodespec' } as const;

/** AgentBuckets are the typed handles an agent works with. */
export interface AgentBuckets {
  tasks: Bucket<TaskSpec>;
  bindings: Bucket<Binding>;
  status: Bucket<TaskStatus>;
  nodes: Bucket<NodeRecord>;
  nodespec: Bucket<NodeSpec>;
}

function requireFields(what: string, fields: string[]) {
  return (data: unknown): never | unknown => {
    if (data === null || typeof data !== 'object') throw new Error(`${what} is not an object`);
    for (const f of fields) if (!(f in data)) throw new Error(`${what} has no field "${f}"`);
    return data;
  };
}

/** openAgentBuckets opens (creating when missing) the five cluster buckets. */
export async function openAgentBuckets(nc: NatsConnection, opts: { replicas?: number } & BucketOptions = {}): Promise<AgentBuckets> {
  const cfg = (name: string) => ({ name, replicas: opts.replicas ?? 1 });
  const bo: BucketOptions = { ...(opts.log ? { log: opts.log } : {}), ...(opts.onInvalid ? { onInvalid: opts.onInvalid } : {}) };
  const [tasks, bindings, status, nodes, nodespec] = await Promise.all([
    Bucket.open<TaskSpec>(nc, cfg(BUCKETS.tasks), jsonCodec(1, requireFields('task', ['id', 'templateHash', 'template']) as (d: unknown) => TaskSpec), bo),
    Bucket.open<Binding>(nc, cfg(BUCKETS.bindings), jsonCodec(1, requireFields('binding', ['taskId', 'node']) as (d: unknown) => Binding), bo),
    Bucket.open<TaskStatus>(nc, cfg(BUCKETS.status), jsonCodec(1, requireFields('status', ['taskId', 'node', 'state']) as (d: unknown) => TaskStatus), bo),
    Bucket.open<NodeRecord>(nc, cfg(BUCKETS.nodes), jsonCodec(1, requireFields('node', ['name', 'heartbeatAt']) as (d: unknown) => NodeRecord), bo),
    Bucket.open<NodeSpec>(nc, cfg(BUCKETS.nodespec), jsonCodec<NodeSpec>(1), bo),
  ]);
  return { tasks, bindings, status, nodes, nodespec };
}
