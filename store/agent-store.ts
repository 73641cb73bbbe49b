import type { NatsConnection } from '@nats-io/transport-node';
import type { Binding, ClusterEvent, NodeRecord, NodeSecretRecord, NodeSpec, ServiceRecord, TaskSpec, TaskStatus } from '../api/cluster.ts';
import type { LivenessRecord, NodeLease } from '../api/node-liveness.ts';
import type { NodeSubnetRecord } from '../api/network.ts';
import { Bucket, type BucketOptions, type RoBucket } from './bucket.ts';
import { bucketName, BUCKETS, DEFAULT_PREFIX, eventsSubjectRoot, objectCodec, openRoles, roleCodec, verifyClusterEvent, type BucketRole } from './cluster.ts';
import { EventStream } from './events.ts';
import { nodeSecretsBucket } from './permissions.ts';

/** AgentStore is the part of the store an agent may touch under its NATS permissions. */
export interface AgentStore {
  nc: NatsConnection;
  prefix: string;
  /** tasks, bindings and node specs are the control plane's: an agent only reads them */
  tasks: RoBucket<TaskSpec>;
  bindings: RoBucket<Binding>;
  status: Bucket<TaskStatus>;
  nodes: Bucket<NodeRecord>;
  /** this node's lease, renewed every heartbeat (write only: the agent reads no other node's) */
  heartbeats: Bucket<NodeLease>;
  nodespec: RoBucket<NodeSpec>;
  /** Services (VIP, ports, ready endpoints) the node load-balances and answers DNS for; read only */
  services: RoBucket<ServiceRecord>;
  /** every node's task subnet as the control plane allocated it: this node's own, and the routes to the others; read only */
  subnets: RoBucket<NodeSubnetRecord>;
  /** the published lease renewal period (key `liveness`, store/liveness.ts); read only */
  cluster: RoBucket<LivenessRecord>;
  /** Secrets re-sealed for this node only (bucket `<prefix>secrets_<node>`); the agent only reads them. */
  secrets: RoBucket<NodeSecretRecord>;
  events: EventStream<ClusterEvent>;
}

/**
 * openAgentStore binds (never creates) the buckets an agent uses: with agent permissions it may not
 * create or reconfigure streams. The control plane creates them (openClusterStore, and the secrets
 * distributor for per-node buckets).
 */
export async function openAgentStore(nc: NatsConnection, node: string, opts: { prefix?: string; timeoutMs?: number } & BucketOptions = {}): Promise<AgentStore> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const bopts: BucketOptions = { ...(opts.log ? { log: opts.log } : {}), ...(opts.onInvalid ? { onInvalid: opts.onInvalid } : {}) };
  const timeout = opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {};
  const bind = (role: BucketRole) => Bucket.bind<unknown>(nc, { name: bucketName(role, prefix), history: BUCKETS[role].history, ...timeout }, roleCodec<unknown>(role), bopts);
  const [buckets, secrets, events] = await Promise.all([
    openRoles(['tasks', 'bindings', 'status', 'nodes', 'heartbeats', 'nodespec', 'services', 'subnets', 'cluster'] as const, bind),
    Bucket.bind<NodeSecretRecord>(nc, { name: nodeSecretsBucket(node, prefix), history: 1, ...timeout }, objectCodec<NodeSecretRecord>(), bopts),
    EventStream.bind<ClusterEvent>(nc, { name: `${prefix}events`, subjectRoot: eventsSubjectRoot(prefix), writer: node, verify: verifyClusterEvent, ...timeout }, objectCodec<ClusterEvent>(), bopts),
  ]);
  return { nc, prefix, ...buckets, secrets, events };
}
