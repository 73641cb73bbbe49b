import { bucketName, BUCKETS, eventsSubjectRoot, DEFAULT_PREFIX, type BucketRole } from './cluster.ts';

/**
 * NATS permissions per identity, enforced by nats-server whatever a client's code does:
 *
 * - control plane (reconciler, scheduler, admin CLI): publishes anywhere but into the autoscaler's
 *   bucket and events (autoscalerOnly); subscribes only to its own inbox and to task log streams.
 * - autoscaler (on the reconciler leader, its own connection): reads the desired Jobs, tasks, status,
 *   bindings and events; writes only the `autoscale` bucket (and creates and configures that stream) and events
 *   under its own writer token.
 * - viewer (read-only CLI): reads the cluster buckets (never a node's Secrets bucket) and the events,
 *   asks agents for logs; writes nothing.
 * - agent of `<node>`: reads the buckets it converges from and its own Secrets bucket, writes only
 *   its own node's keys (status, record, lease) and events, answers log requests for its node. It
 *   does not read the leases (`heartbeats`): it needs no other node's liveness.
 * - nobody else: a client without credentials is refused at connect (no `no_auth_user`).
 *
 * The `autoscale` bucket (a Job's live replica count) is written by the autoscaler alone: the
 * scheduler and the admin CLI share the control-plane identity, and one that could write a count
 * would scale any Job past what the autoscaler decided. The viewer reads it; agents neither read nor
 * write it (it is not in AGENT_READS: a node that could write it would scale any Job).
 *
 * Every identity subscribes only under its own inbox prefix (`inboxPrefixFor(publicKey)`, which
 * `connect` sets from the credential): nobody sees another's request replies or watch deliveries.
 * Consumers are created only through the ephemeral-create subject (the server names them) and no
 * restricted identity may delete or look up a consumer by name, so nobody can take over or delete
 * another's watch.
 */

/** NatsPermissions is nats-server's permission block (allow-lists only: anything else is denied). */
export interface NatsPermissions {
  /** deny wins over allow (nats-server checks both) */
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[] };
}

/** NatsUser is one entry of the server's `authorization.users`. */
export type NatsUser =
  | { nkey: string; permissions?: NatsPermissions }
  | { user: string; password: string; permissions?: NatsPermissions };

/** CONTROL_WRITER is the writer token of events written by the control plane (never a DNS label, so never a node name). */
export const CONTROL_WRITER = '_control';

/** AUTOSCALER_WRITER is the writer token of the autoscaler's events (only the autoscaler identity publishes under it). */
export const AUTOSCALER_WRITER = '_autoscaler';

/** AUTOSCALER_SOURCE is the `source` of the autoscaler's events: written under any other writer token, it is forged. */
export const AUTOSCALER_SOURCE = 'reconciler/autoscaler';

/**
 * inboxPrefixFor is the inbox prefix of the client holding the nkey `publicKey`: its request replies
 * and watch deliveries go to `<prefix>.>`, which only that client may subscribe to.
 */
export function inboxPrefixFor(publicKey: string): string {
  return `_INBOX_${publicKey}`;
}

/** nodeSecretsBucket is the bucket holding the Secrets re-sealed for one node. */
export function nodeSecretsBucket(node: string, prefix?: string): string {
  return `${prefix ?? DEFAULT_PREFIX}secrets_${node}`;
}

/** logRequestSubject is where the agent of `node` answers log requests. */
export function logRequestSubject(node: string): string {
  return `gitcell.logs.${node}`;
}

/** logStreamSubject carries one log stream (`id`, a single token) from the agent of `node`. */
export function logStreamSubject(node: string, id: string): string {
  return `gitcell.logs.${node}.out.${id}`;
}

/**
 * logReplySubject carries the agent of `node`'s answer to the log request of stream `id`. Agents
 * answer there, under their own node's subjects, never on the asker's inbox: answering on an inbox
 * needs `allow_responses`, with which nats-server 2.9 remembers the reply subject of every message
 * delivered to the agent's connection (every watch delivery carries one) for 2 minutes and scans
 * them all on each new delivery past 4,096: at 10,000 hollow nodes that scan
 * (`client.pruneReplyPerms`) was 67 % of nats-server's CPU and stalled the `tasks` stream.
 */
export function logReplySubject(node: string, id: string): string {
  return `${logStreamSubject(node, id)}.reply`;
}

/** logAliveSubject carries a follower's keepalives for log stream `id` to the agent of `node`. */
export function logAliveSubject(node: string, id: string): string {
  return `gitcell.logs.${node}.alive.${id}`;
}

/** The buckets an agent reads (and watches) to converge its node. */
const AGENT_READS: BucketRole[] = ['tasks', 'bindings', 'nodes', 'nodespec', 'status', 'services', 'subnets', 'cluster'];

/** agentProbes: the info of the streams an agent writes but does not read (waitForStore checks they exist). */
function agentProbes(prefix?: string): string[] {
  return [`$JS.API.STREAM.INFO.KV_${bucketName('heartbeats', prefix)}`];
}

/**
 * jsStreamRead lists the JetStream API subjects that read and watch one stream: info, leader and
 * direct gets, creating an ephemeral (server-named) consumer, and answering its flow control. Not
 * named consumers (`CONSUMER.CREATE.<stream>.<name>` would let one identity redirect another's
 * consumer to itself), not consumer info or delete.
 */
function jsStreamRead(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.FC.${stream}.>`,
  ];
}

/**
 * autoscalerOnly lists what only the autoscaler may publish: the autoscale bucket's keys, the API
 * calls that reconfigure, purge, delete or restore its stream (a reconfigured stream could source
 * forged counts from another stream through a subject transform on nats-server 2.10+, and a deleted
 * one would be re-created by whoever came first), and events under its writer token. Creating the
 * stream stays open to the control plane, which sets the cluster up: a create of an existing stream
 * with another configuration is refused by the server, and controllers must never wait on a bucket
 * nobody made.
 */
function autoscalerOnly(prefix?: string): string[] {
  const stream = `KV_${bucketName('autoscale', prefix)}`;
  return [
    `$KV.${bucketName('autoscale', prefix)}.>`,
    ...['UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE', 'RESTORE'].map((op) => `$JS.API.STREAM.${op}.${stream}`),
    `${eventsSubjectRoot(prefix)}.${AUTOSCALER_WRITER}.>`,
  ];
}

/** controlPermissions: publish anywhere but autoscalerOnly; subscribe to its own inbox and to log streams. */
export function controlPermissions(publicKey: string, prefix?: string): NatsPermissions {
  return {
    publish: { allow: ['>'], deny: autoscalerOnly(prefix) },
    subscribe: { allow: [`${inboxPrefixFor(publicKey)}.>`, 'gitcell.logs.*.out.>'] },
  };
}

/** The buckets the autoscaler reads: the Jobs in Git, their tasks, where they run and how they do. */
const AUTOSCALER_READS: BucketRole[] = ['desired', 'tasks', 'status', 'bindings', 'autoscale'];

/**
 * autoscalerPermissions is the allow-list of the autoscaler, whose nkey is `publicKey`: read what it
 * decides from (and the events, for the scheduler's FailedScheduling), write autoscalerOnly.
 */
export function autoscalerPermissions(publicKey: string, prefix?: string): NatsPermissions {
  const streams = [...AUTOSCALER_READS.map((role) => `KV_${bucketName(role, prefix)}`), `${prefix ?? DEFAULT_PREFIX}events`];
  return {
    publish: { allow: ['$JS.API.INFO', ...streams.flatMap(jsStreamRead), `$JS.API.STREAM.CREATE.KV_${bucketName('autoscale', prefix)}`, ...autoscalerOnly(prefix)] },
    subscribe: { allow: [`${inboxPrefixFor(publicKey)}.>`] },
  };
}

/** viewerPermissions: read every cluster bucket but the node Secrets buckets, read events, ask for logs. */
export function viewerPermissions(publicKey: string, prefix?: string): NatsPermissions {
  const streams = [...(Object.keys(BUCKETS) as BucketRole[]).map((role) => `KV_${bucketName(role, prefix)}`), `${prefix ?? DEFAULT_PREFIX}events`];
  return {
    publish: { allow: ['$JS.API.INFO', ...streams.flatMap(jsStreamRead), 'gitcell.logs.*', 'gitcell.logs.*.alive.*'] },
    subscribe: { allow: [`${inboxPrefixFor(publicKey)}.>`, 'gitcell.logs.*.out.>'] },
  };
}

/** nodeWrites are the subjects only the agent of `node` publishes to: its own keys, events and log streams. */
function nodeWrites(node: string, prefix?: string): string[] {
  return [
    // Its own keys only: the status of tasks on this node, this node's registration and its lease.
    `$KV.${bucketName('status', prefix)}.${node}.>`,
    `$KV.${bucketName('nodes', prefix)}.${node}`,
    `$KV.${bucketName('heartbeats', prefix)}.${node}`,
    // Events under its own writer token: readers know who wrote them.
    `${eventsSubjectRoot(prefix)}.${node}.>`,
    `gitcell.logs.${node}.out.>`,
  ];
}

/** agentPermissions is the allow-list of the agent of `node`, whose nkey is `publicKey`. */
export function agentPermissions(node: string, publicKey: string, prefix?: string): NatsPermissions {
  const streams = [...AGENT_READS.map((role) => `KV_${bucketName(role, prefix)}`), `KV_${nodeSecretsBucket(node, prefix)}`, `${prefix ?? DEFAULT_PREFIX}events`];
  return {
    publish: { allow: ['$JS.API.INFO', ...streams.flatMap(jsStreamRead), ...agentProbes(prefix), ...nodeWrites(node, prefix)] },
    subscribe: { allow: [`${inboxPrefixFor(publicKey)}.>`, logRequestSubject(node), `gitcell.logs.${node}.alive.*`] },
  };
}

/**
 * hollowPermissions is the allow-list of one `gitcell hollow` process, whose nkey is `publicKey`:
 * what the agents of exactly its `nodes` may do together (each node's own keys, events and log
 * subjects, named one by one: NATS wildcards match whole tokens, never a name prefix), minus the
 * per-node Secrets buckets (hollow nodes run no Secrets). Real agents keep one identity per node:
 * a hollow process can write the keys of its own simulated nodes and of no other node.
 */
export function hollowPermissions(nodes: readonly string[], publicKey: string, prefix?: string): NatsPermissions {
  const streams = [...AGENT_READS.map((role) => `KV_${bucketName(role, prefix)}`), `${prefix ?? DEFAULT_PREFIX}events`];
  return {
    publish: { allow: ['$JS.API.INFO', ...streams.flatMap(jsStreamRead), ...agentProbes(prefix), ...nodes.flatMap((n) => nodeWrites(n, prefix))] },
    subscribe: { allow: [`${inboxPrefixFor(publicKey)}.>`, ...nodes.flatMap((n) => [logRequestSubject(n), `gitcell.logs.${n}.alive.*`])] },
  };
}

/**
 * authorizationConfig renders nats-server configuration for these users. There is no anonymous
 * user: a client without credentials is refused at connect.
 */
export function authorizationConfig(users: NatsUser[]): string {
  return `authorization ${JSON.stringify({ users }, null, 2)}\n`;
}
