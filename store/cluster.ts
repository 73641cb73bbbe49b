/**
 * The cluster's bucket layout and openClusterStore, which opens every bucket typed with the records
 * of api/cluster.ts. Each key has exactly one writer (see README.md); the store does not enforce it
 * yet, but the `status` keys start with the node so NATS permissions can confine each agent to
 * `$KV.<prefix>status.<node>.>` later.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { AutoscaleRecord, Binding, ClusterEvent, LivenessRecord, NodeLease, NodeRecord, NodeSubnetRecord, NodeSpec, ServiceRecord, TaskSpec, TaskStatus } from '../api/index.ts';
import { Backoff, createLogger, errorMessage, isGitcellError, sleep, type Logger } from '../lib/index.ts';
import { StoreErrorCodes } from './errors.ts';
import { Bucket, type BucketConfig } from './bucket.ts';
import { EventStream } from './events.ts';
import type { Lease } from './lease.ts';
import { jsonCodec, keyOf, type InvalidRecord, type RecordCodec } from './record.ts';
import { spreadTag } from './replicas.ts';
import { isSharingRole, withSharing } from './shared-parts.ts';
import { AUTOSCALER_SOURCE, AUTOSCALER_WRITER, CONTROL_WRITER } from './permissions.ts';

/** DEFAULT_PREFIX starts every bucket and stream name; tests use their own to stay isolated. */
export const DEFAULT_PREFIX = 'gitcell_';

/** BucketLayout documents one bucket: its key, its single writer, and the history it keeps. */
export interface BucketLayout {
  key: string;
  writer: string;
  history: number;
  /** 'memory': the bucket's stream keeps its messages in memory only (lost when its servers restart); default file */
  storage?: 'memory';
}

/**
 * BUCKETS is the bucket layout. History is the number of values kept per key: enough that a watch
 * resuming after a short outage sees each revision of the slowly changing buckets; the fast-churning
 * heartbeat buckets keep one (readers only care about the latest).
 */
export const BUCKETS = {
  desired: { key: '<kind>.<namespace>.<name>', writer: 'reconciler', history: 4 },
  tasks: { key: '<taskId>', writer: 'reconciler', history: 4 },
  bindings: { key: '<taskId>', writer: 'scheduler (leader, stamps its term)', history: 4 },
  status: { key: '<node>.<taskId>', writer: 'the agent of <node>', history: 1 },
  nodes: { key: '<node>', writer: 'the agent of <node>', history: 1 },
  // In memory: a renewal written to a file-stored stream cost nats-server ~40 % more (issue 17), and a
  // lease is worth one grace; readers count a lease lost with a restart from their own clock (node-informer.ts).
  heartbeats: { key: '<node>', writer: 'the agent of <node>: its lease, renewed every heartbeat (the entry time is the renewal)', history: 1, storage: 'memory' },
  nodespec: { key: '<node>', writer: 'admin CLI (cordon, drain, labels)', history: 4 },
  leases: { key: '<name> | fence.<name>', writer: 'candidates of the lease (CAS only)', history: 4 },
  sync: { key: '<source>', writer: 'reconciler', history: 4 },
  services: { key: '<namespace>.<name>', writer: "reconciler's endpoints controller", history: 1 },
  autoscale: { key: '<namespace>.<name>', writer: "the autoscaler (reconciler leader, its own identity): a Job's live replica count", history: 4 },
  subnets: { key: '<node>', writer: "reconciler's subnet allocator (leader): each node's task subnet", history: 4 },
  cluster: { key: 'liveness', writer: 'scheduler (leader): the lease renewal period and grace, sized to the cluster', history: 1 },
} as const satisfies Record<string, BucketLayout>;

/** BucketRole is one of the cluster's buckets. */
export type BucketRole = keyof typeof BUCKETS;

/** ClusterStoreOptions configure openClusterStore. */
export interface ClusterStoreOptions {
  /** name prefix of buckets and streams (default gitcell_) */
  prefix?: string;
  /**
   * replica count of every bucket and stream: 1 embedded, 3 or 5 in a cluster. Components that
   * create the store pass it (every one the same: see suggestReplicas); clients omit it, which
   * creates missing buckets with 1 and never rescales existing ones.
   */
  replicas?: number;
  /**
   * server tags (`server_tags`, one per server) to spread R1 buckets and the events stream over,
   * round-robin in BUCKETS order, when this call creates them (store/replicas.ts spreadTag)
   */
  spreadOver?: string[];
  /** events retention (defaults 10,000 events, 24 h) */
  events?: { maxMsgs?: number; maxAgeMs?: number };
  timeoutMs?: number;
  log?: Logger;
  /** told of every record refused anywhere in the store */
  onInvalid?: (record: InvalidRecord) => void;
  /**
   * bind to the existing buckets and stream without creating or changing anything: for read-only
   * identities (the viewer), whose permissions allow no stream creation or update
   */
  bindOnly?: boolean;
}

/** RoleRecords is the record type of each bucket; Desired and Sync are the reconciler's types. */
export interface RoleRecords<Desired = unknown, Sync = unknown> {
  desired: Desired;
  tasks: TaskSpec;
  bindings: Binding;
  status: TaskStatus;
  nodes: NodeRecord;
  /** each node's lease: empty, renewed every heartbeat (api NodeLease); liveness readers join it with `nodes` (node-informer.ts) */
  heartbeats: NodeLease;
  nodespec: NodeSpec;
  leases: Lease;
  sync: Sync;
  /** Services as nodes program them: VIP, ports, ready endpoints */
  services: ServiceRecord;
  /** autoscaled Jobs' live replica counts and decisions (api AutoscaleRecord); agents neither read nor write it */
  autoscale: AutoscaleRecord;
  /** each node's task subnet as the control plane allocated it (api NodeSubnetRecord); agents route from it */
  subnets: NodeSubnetRecord;
  /** cluster-wide settings the control plane sizes: key `liveness` (api LivenessRecord), read by agents and every liveness reader */
  cluster: LivenessRecord;
}

/** RoleBuckets are the buckets of the roles `R`, each typed with its record in `M`. */
export type RoleBuckets<R extends BucketRole, M extends Record<BucketRole, unknown> = RoleRecords> = { readonly [K in R]: Bucket<M[K]> };

/** ClusterStore is every bucket of the cluster, typed; Desired and Sync are the reconciler's types. */
export interface ClusterStore<Desired = unknown, Sync = unknown> extends RoleBuckets<BucketRole, RoleRecords<Desired, Sync>> {
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly events: EventStream<ClusterEvent>;
}

/** openRoles opens the buckets of `roles` at once, each with `open`, and returns them by role. */
export async function openRoles<R extends BucketRole, M extends Record<BucketRole, unknown> = RoleRecords>(
  roles: readonly R[],
  open: (role: R) => Promise<Bucket<unknown>>,
): Promise<RoleBuckets<R, M>> {
  const buckets = await Promise.all(roles.map(open));
  return Object.fromEntries(roles.map((role, i) => [role, buckets[i]])) as RoleBuckets<R, M>;
}

/** bucketConfig is how a role's bucket is created: its name, history and description, with the caller's replicas and timeout. */
export function bucketConfig(role: BucketRole, prefix: string, opts: Pick<ClusterStoreOptions, 'replicas' | 'timeoutMs' | 'spreadOver'> = {}): BucketConfig {
  const tags = spreadTag(Object.keys(BUCKETS).indexOf(role), opts.spreadOver, opts.replicas);
  return {
    ...(tags ? { placementTags: tags } : {}),
    name: bucketName(role, prefix),
    ...(opts.replicas ? { replicas: opts.replicas } : {}),
    history: BUCKETS[role].history,
    ...(layoutOf(role).storage ? { storage: layoutOf(role).storage } : {}),
    description: `gitcell ${role}: key ${BUCKETS[role].key}, written by ${BUCKETS[role].writer}`,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  };
}

function layoutOf(role: BucketRole): BucketLayout {
  return BUCKETS[role];
}

/** bucketName is the full name of a role's bucket under a prefix. */
export function bucketName(role: BucketRole, prefix = DEFAULT_PREFIX): string {
  return `${prefix}${role}`;
}

/** eventsSubjectRoot is the events stream's subject root: the prefix without its "_" plus ".events". */
export function eventsSubjectRoot(prefix = DEFAULT_PREFIX): string {
  return `${prefix.replace(/_+$/, '') || 'gitcell'}.events`;
}

/** desiredKey is the `desired` key of an object: `<kind>.<namespace>.<name>`. */
export function desiredKey(kind: string, namespace: string, name: string): string {
  return keyOf(kind, namespace, name);
}

/** eventTokens are the subject tokens of an event: `<kind>.<namespace or _>.<name>`, unsafe characters as "_". */
export function eventTokens(ev: Pick<ClusterEvent, 'object'>): string[] {
  const clean = (s: string | undefined): string => (s && s.length ? s.replace(/[^-/_=a-zA-Z0-9]/g, '_') : '_');
  return [clean(ev.object.kind), clean(ev.object.namespace), clean(ev.object.name)];
}

/** objectCodec accepts only JSON objects as data, so a stray string or array never reaches domain code. */
export function objectCodec<T>(schema = 1): RecordCodec<T> {
  return jsonCodec<T>(schema, (data) => {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('must be a JSON object');
    return data as T;
  });
}

/** roleCodec is a bucket's codec: objectCodec, whose task records share their repeated parts (shared-parts.ts). */
export function roleCodec<T>(role: BucketRole): RecordCodec<T> {
  return isSharingRole(role) ? withSharing(objectCodec<T>(), role) : objectCodec<T>();
}

/**
 * openClusterStore creates (idempotently, with the replica count) and opens every bucket and the
 * events stream. It does not own `nc`: close the connection yourself.
 */
export async function openClusterStore<Desired = unknown, Sync = unknown>(
  nc: NatsConnection,
  opts: ClusterStoreOptions = {},
): Promise<ClusterStore<Desired, Sync>> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const log = opts.log ?? createLogger('store');
  const bopts = { log, ...(opts.onInvalid ? { onInvalid: opts.onInvalid } : {}) };
  const open = (role: BucketRole): Promise<Bucket<unknown>> => {
    const cfg = bucketConfig(role, prefix, opts);
    if (opts.bindOnly) return Bucket.bind<unknown>(nc, cfg, roleCodec<unknown>(role), bopts);
    const opened = Bucket.open<unknown>(nc, cfg, roleCodec<unknown>(role), bopts);
    // The autoscale stream is the autoscaler's to configure (permissions.ts): a control plane refused
    // that (a rescale, or the rollup setting right after it created the stream) binds it as it is,
    // and openAutoscalerStore sets it right.
    if (role !== 'autoscale') return opened;
    return opened.catch((err: unknown) => {
      if (!isGitcellError(err, StoreErrorCodes.PermissionDenied)) throw err;
      return Bucket.bind<unknown>(nc, cfg, objectCodec<unknown>(), bopts);
    });
  };
  const eventsTags = spreadTag(Object.keys(BUCKETS).length, opts.spreadOver, opts.replicas);
  const [buckets, events] = await Promise.all([
    openRoles<BucketRole, RoleRecords<Desired, Sync>>(Object.keys(BUCKETS) as BucketRole[], open),
    (opts.bindOnly ? EventStream.bind<ClusterEvent> : EventStream.open<ClusterEvent>)(
      nc,
      {
        name: `${prefix}events`,
        subjectRoot: eventsSubjectRoot(prefix),
        writer: CONTROL_WRITER,
        verify: verifyClusterEvent,
        ...(opts.replicas ? { replicas: opts.replicas } : {}),
        ...(eventsTags ? { placementTags: eventsTags } : {}),
        ...(opts.events?.maxMsgs ? { maxMsgs: opts.events.maxMsgs } : {}),
        ...(opts.events?.maxAgeMs ? { maxAgeMs: opts.events.maxAgeMs } : {}),
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      },
      objectCodec<ClusterEvent>(),
      bopts,
    ),
  ]);
  return { nc, prefix, ...buckets, events };
}

/**
 * verifyClusterEvent checks an event's body against its writer (from the subject, which NATS
 * permissions confine): an agent writes only as itself, so an event of node X claiming to come from
 * anything but `agent/X` is forged and refused; the autoscaler's source belongs to the autoscaler's
 * writer token alone. The control plane may write as any other component.
 */
export function verifyClusterEvent(writer: string, ev: ClusterEvent): string | undefined {
  // The autoscaler's events come only from its own identity, and it writes nothing else.
  if ((writer === AUTOSCALER_WRITER) !== (ev.source === AUTOSCALER_SOURCE)) return `event written by ${writer} claims source ${JSON.stringify(ev.source)}: refused as forged`;
  if (writer === CONTROL_WRITER || writer === AUTOSCALER_WRITER) return undefined;
  if (ev.source !== `agent/${writer}`) return `event written by node ${writer} claims source ${JSON.stringify(ev.source)}: refused as forged`;
  return undefined;
}

/** appendEvent records a cluster event in the events stream under its object's tokens; it throws on failure. */
export function appendEvent(events: EventStream<ClusterEvent>, ev: ClusterEvent): Promise<number> {
  return events.append(eventTokens(ev), ev);
}

/** RecordEventOptions: whom to tell on failure and when to stop trying. */
export interface RecordEventOptions {
  log?: Pick<Logger, 'warn'>;
  /** false stops the retries (a leader that lost its lease writes nothing more) */
  valid?: () => boolean;
}

/**
 * recordEvent is the one best-effort event append: events are how users learn why something
 * happened, but never a reason to fail the work they describe. It never throws; a transient
 * failure (E_STORE_UNAVAILABLE: a busy or failing-over server) is tried up to 3 times, 50 then
 * 100 ms apart, while `valid()`; anything else, or the last failure, is logged at warn. Returns
 * whether the event was stored.
 */
export async function recordEvent(events: EventStream<ClusterEvent>, ev: ClusterEvent, opts: RecordEventOptions = {}): Promise<boolean> {
  const backoff = new Backoff({ initialMs: 50, maxMs: 100 });
  for (let attempt = 1; ; attempt++) {
    try {
      await appendEvent(events, ev);
      return true;
    } catch (err) {
      const again = attempt < 3 && isGitcellError(err, StoreErrorCodes.Unavailable) && (opts.valid?.() ?? true);
      if (again) {
        await sleep(backoff.next());
        continue;
      }
      opts.log?.warn({ err: errorMessage(err), reason: ev.reason, object: ev.object }, `could not record event ${ev.reason}`);
      return false;
    }
  }
}
