/**
 * Node liveness, pure: the node lease (Kubernetes' node Leases), the join of a record with its
 * lease, and the checks every reader of liveness shares.
 */
import type { NodeRecord } from './cluster.ts';

/**
 * NodeLease is a node's entry in the `heartbeats` bucket (key `<node>`), written by its own agent
 * every heartbeat, as Kubernetes' node Leases: empty, since the time the server stored the entry is
 * the renewal. It keeps heartbeats off the node record, which is written only when it changes.
 */
export type NodeLease = Record<string, never>;

/**
 * withLease is the node as liveness readers see it: `heartbeatAt` becomes the newer of the record's
 * own and its lease's renewal (epoch ms, undefined without a lease), the node's last sign of life.
 * Pure; returns the record itself when the lease adds nothing.
 */
export function withLease(node: NodeRecord, renewedAt: number | undefined): NodeRecord {
  if (renewedAt === undefined || !Number.isFinite(renewedAt)) return node;
  const own = Date.parse(node.heartbeatAt);
  if (Number.isFinite(own) && own >= renewedAt) return node;
  return { ...node, heartbeatAt: new Date(renewedAt).toISOString() };
}

/**
 * NODE_LEASE_RENEW_MS is how often an agent renews its lease by default: 10 s, the kubelet's node
 * Lease renewal. Each renewal is one JetStream write, so the period is what leases cost NATS
 * (10,000 nodes renew 1,000 times a second; at 3 s they renewed 3,300 times and took a third of a core).
 */
export const NODE_LEASE_RENEW_MS = 10_000;

/**
 * NODE_GRACE_MS is how old a node's last renewal may be before readers count it not ready (no new
 * tasks, DaemonSets and endpoints drop it): 40 s, Kubernetes' node-monitor-grace-period, four
 * renewals, so one or two lost to load or a NATS leader change do not flap the node. The
 * scheduler moves a lapsed node's tasks after its re-queue grace (also 40 s by default: like a
 * Nomad node marked down, not Kubernetes' five-minute eviction).
 */
export const NODE_GRACE_MS = 40_000;

/** nodeIsLive tells whether a node's last heartbeat is within `graceMs` of `now`. */
export function nodeIsLive(node: Pick<NodeRecord, 'heartbeatAt'>, now: number, graceMs: number): boolean {
  const beat = Date.parse(node.heartbeatAt);
  return Number.isFinite(beat) && now - beat <= graceMs;
}

/**
 * sameButHeartbeat tells whether two records of a node differ only in their heartbeat time: a
 * heartbeat alone changes nothing a controller decides (liveness is judged on ticks). A plain
 * structural walk: 10,000 nodes beat 3,300 times a second, and both stringifying the records
 * (the scheduler: 19 s of 160 s busy at 1,000 nodes) and util.isDeepStrictEqual (the reconciler:
 * 33 s of 414 s) cost more than the rest of handling a heartbeat.
 */
export function sameButHeartbeat(a: NodeRecord, b: NodeRecord): boolean {
  const ka = Object.keys(a) as (keyof NodeRecord)[];
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (k !== 'heartbeatAt' && !sameJson(a[k], b[k])) return false;
  return true;
}

/** sameJson compares two JSON values structurally (records decoded from the store: no cycles, no classes). */
function sameJson(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) if (!sameJson((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k])) return false;
  return true;
}
