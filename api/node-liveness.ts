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
 * NODE_LEASE_RENEW_MS is the shortest lease renewal period, and the period while the control plane
 * has published none: 10 s, the kubelet's node Lease renewal and Nomad's minimum heartbeat TTL.
 */
export const NODE_LEASE_RENEW_MS = 10_000;

/**
 * NODE_GRACE_MS is how old a node's last renewal may be before readers count it not ready (no new
 * tasks, DaemonSets and endpoints drop it) while nothing is published, and the shortest grace of the
 * default policy (livenessGraceMs): 40 s,
 * Kubernetes' node-monitor-grace-period, four renewals, so one or two lost to load or a NATS leader
 * change do not flap the node. The scheduler moves a lapsed node's tasks after the same grace (like
 * a Nomad node marked down, not Kubernetes' five-minute eviction).
 */
export const NODE_GRACE_MS = 40_000;

/**
 * DEFAULT_RENEWALS_PER_S is the cluster's budget of lease renewals per second: Nomad's
 * max_heartbeats_per_second (50). Each renewal costs nats-server ~300 µs (one write, a delivery to
 * each liveness reader, an ack for one renewal in 4; 2-core machine, issue 17), so 50/s is ~1.6 % of a core whatever
 * the cluster's size; at a fixed 10 s, 10,000 nodes renewed 1,000 times a second (23..43 % of the
 * server's CPU in the scale benchmark) and 1,000 nodes took 15.8 % of it.
 */
export const DEFAULT_RENEWALS_PER_S = 50;

/** LivenessPolicy is how the control plane sizes the renewal period (defaults: defaultLivenessPolicy). */
export interface LivenessPolicy {
  /** the shortest period (NODE_LEASE_RENEW_MS) */
  minPeriodMs: number;
  /** renewals per second the whole cluster may make (DEFAULT_RENEWALS_PER_S) */
  renewalsPerS: number;
}

/** defaultLivenessPolicy is the production policy with `o` merged over it. */
export function defaultLivenessPolicy(o: Partial<LivenessPolicy> = {}): LivenessPolicy {
  return { minPeriodMs: NODE_LEASE_RENEW_MS, renewalsPerS: DEFAULT_RENEWALS_PER_S, ...o };
}

/**
 * LivenessRecord is the renewal period and grace the control plane (the scheduler's leader)
 * publishes in the `cluster` bucket (key `liveness`): agents renew every `periodMs`, every reader of
 * liveness counts a node not ready once its last renewal is older than `graceMs`.
 */
export interface LivenessRecord {
  periodMs: number;
  graceMs: number;
  /** the node count the period was sized for */
  nodes: number;
  /** when the period last changed (epoch ms): a grace kept long after a shorter period is dropped then */
  changedAt: number;
}

/** Liveness is what agents and readers use: the period and the grace in ms. */
export type Liveness = Pick<LivenessRecord, 'periodMs' | 'graceMs'>;

/** FALLBACK_LIVENESS is the liveness while nothing is published (a new cluster, an old control plane). */
export const FALLBACK_LIVENESS: Liveness = { periodMs: NODE_LEASE_RENEW_MS, graceMs: NODE_GRACE_MS };

/** PERIOD_STEP_MS rounds periods up to whole 5 s, so each joining node does not republish them. */
const PERIOD_STEP_MS = 5_000;

/**
 * heartbeatPeriodMs is the renewal period for `nodes` nodes, pure: Nomad's
 * `max(min, nodes / rate)`, the second rounded up to 5 s. Worked: 1,000 nodes at 50/s -> 20 s; 10,000 -> 200 s;
 * 3 nodes -> 10 s.
 */
export function heartbeatPeriodMs(nodes: number, policy: LivenessPolicy): number {
  const rate = policy.renewalsPerS > 0 ? policy.renewalsPerS : DEFAULT_RENEWALS_PER_S;
  const raw = (Math.max(0, nodes) / rate) * 1000;
  return raw <= policy.minPeriodMs ? policy.minPeriodMs : Math.ceil(raw / PERIOD_STEP_MS) * PERIOD_STEP_MS;
}

/**
 * livenessGraceMs is the grace for a period, pure: two periods plus the shortest one, and never less
 * than four shortest periods (NODE_GRACE_MS at the 10 s floor: Kubernetes' node-monitor grace over
 * its 10 s renewal). A node may lose one renewal and be a shortest period late with the next, as
 * before at the floor (30 s of slack); an agent moving to a longer period renews within the old one
 * plus the new one. Like Nomad's TTL + heartbeat_grace, it does not grow four-fold with the period:
 * at 10,000 nodes (200 s) a dead node is noticed after 410 s, not 800 s. Worked: 10 s -> 40 s,
 * 20 s -> 50 s, 200 s -> 410 s; floor 5 s: 5 s -> 20 s.
 */
export function livenessGraceMs(periodMs: number, policy: Pick<LivenessPolicy, 'minPeriodMs'>): number {
  return Math.max(4 * policy.minPeriodMs, 2 * periodMs + policy.minPeriodMs);
}

/**
 * livenessOf is the liveness a reader uses, pure: the published record's when it is sane, else
 * FALLBACK_LIVENESS (nothing published, or a record some writer got wrong).
 */
export function livenessOf(rec: Partial<LivenessRecord> | undefined): Liveness {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!rec || !ok(rec.periodMs) || !ok(rec.graceMs) || rec.graceMs < rec.periodMs) return FALLBACK_LIVENESS;
  return { periodMs: rec.periodMs, graceMs: rec.graceMs };
}

/**
 * nextLiveness is the record the control plane should publish now, or undefined when the published
 * one stands, pure. The period grows as soon as the nodes outgrow it (the renewal budget is a
 * ceiling) and shrinks only once it is a quarter too long (hysteresis: nodes coming and going at a
 * step do not flap it). A grace never shrinks at once: agents still on the longer period renew up
 * to that period late, so the longer grace stays until one old grace has passed since the change.
 */
export function nextLiveness(current: LivenessRecord | undefined, nodes: number, now: number, policy: LivenessPolicy): LivenessRecord | undefined {
  const period = heartbeatPeriodMs(nodes, policy);
  const grace = livenessGraceMs(period, policy);
  const cur = current && livenessOf(current) !== FALLBACK_LIVENESS ? current : undefined;
  if (!cur) return { periodMs: period, graceMs: grace, nodes, changedAt: now };
  const grow = period > cur.periodMs;
  const shrink = period < cur.periodMs && period <= cur.periodMs * 0.75;
  if (grow) return { periodMs: period, graceMs: Math.max(grace, cur.graceMs), nodes, changedAt: now };
  if (shrink) return { periodMs: period, graceMs: Math.max(grace, cur.graceMs), nodes, changedAt: now };
  // The period stands; a grace kept from a longer period is dropped once that grace has passed.
  const settled = livenessGraceMs(cur.periodMs, policy);
  if (cur.graceMs > settled && now - cur.changedAt > cur.graceMs) return { ...cur, graceMs: settled, nodes };
  return undefined;
}

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
