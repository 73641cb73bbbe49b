/**
 * The node's registration and heartbeat, as Kubernetes' kubelet with node Leases: every renewal
 * period (the one the control plane publishes for the cluster's size, store/liveness.ts; a fixed
 * `heartbeatMs` in tests) the agent renews its lease (an empty entry in `heartbeats`, its server time the
 * renewal) and writes its node record (capacity, labels, addresses, versions, images, sealing key,
 * store incarnation, conditions) only when something in it changed. Readers judge liveness by the
 * newer of the two (store/node-informer.ts). Also the agent's own health for /healthz.
 *
 *   every period ─► nodeRecord(now) ─ same as the last written but its time? ─ no ─► put nodes/<node>
 *                  └─► put heartbeats/<node> {}  (every 4th; the others sent without an acknowledgement)
 *
 * RenewalTimer keeps the period: when the published one changes, the next renewal comes at a random
 * point of the new period, so 10,000 nodes that learn it at once spread their renewals over it.
 */
import { errorMessage } from '../lib/index.ts';
import { sameButHeartbeat, type Liveness, type NodeCondition, type NodeRecord } from '../api/index.ts';
import type { AgentContext, ResolvedAgentOptions } from './context.ts';

/** AGENT_VERSION is reported in the node record. */
export const AGENT_VERSION = '0.1.0';

/** NodeFacts are the parts of the node record that change while the agent runs. */
export interface NodeFacts {
  images: string[];
  sealingKey?: string;
  startedAt: string;
  now: number;
  metricsUrl?: string;
  /** node conditions from the node's modules (ServicesReady) */
  conditions?: NodeCondition[];
}

/** nodeRecord is this node's record, pure; allocatable is the whole capacity plus the task limit. */
export function nodeRecord(o: ResolvedAgentOptions, f: NodeFacts): NodeRecord {
  const cap = { ...o.capacity, tasks: o.maxTasks };
  return {
    name: o.node,
    labels: { 'gitcell.io/hostname': o.node, ...o.labels },
    taints: [],
    capacity: cap,
    allocatable: cap,
    addresses: o.addresses ?? [],
    ...(o.subnet ? { subnet: o.subnet } : {}),
    ...(f.metricsUrl ? { metricsUrl: f.metricsUrl } : {}),
    runtime: { runc: o.versions?.runc ?? 'unknown', kernel: o.versions?.kernel ?? 'unknown', agentVersion: AGENT_VERSION },
    // Sorted: a directory listing's order must not look like a change (heartbeat writes on change).
    images: [...f.images].sort(),
    ...(f.sealingKey ? { sealingKey: f.sealingKey } : {}),
    ...(o.storeIncarnation ? { storeIncarnation: o.storeIncarnation } : {}),
    ...(f.conditions?.length ? { conditions: f.conditions } : {}),
    startedAt: f.startedAt,
    heartbeatAt: new Date(f.now).toISOString(),
  };
}

/**
 * heartbeat writes the node record if it changed since the last successful write, and renews the
 * lease (acknowledged once every RENEWAL_CHECK_EVERY renewals, sent without acknowledgement between); a failure is counted and logged, the next beat tries again (a record that failed is
 * written again then, as it still differs).
 */
export async function heartbeat(ctx: AgentContext): Promise<void> {
  if (ctx.state.stopped) return;
  const { state } = ctx;
  const images = await ctx.d.runtime.images().catch(() => []);
  const sealingKey = ctx.d.secrets?.keyring.publicKeyPem();
  const conditions = ctx.d.services?.conditions();
  const rec = nodeRecord(ctx.o, { images, ...(sealingKey ? { sealingKey } : {}), ...(state.metricsUrl ? { metricsUrl: state.metricsUrl } : {}), ...(conditions ? { conditions } : {}), startedAt: state.startedAt, now: Date.now() });
  try {
    if (!state.registered || !sameButHeartbeat(state.registered, rec)) {
      await ctx.d.store.nodes.put(ctx.o.node, rec);
      state.registered = rec;
    }
    if (renewalIsChecked(state.renewalsUnchecked)) {
      await ctx.d.store.heartbeats.put(ctx.o.node, {});
      state.renewalsUnchecked = 0;
      ctx.metrics.heartbeats.inc({ result: 'ok' });
    } else {
      ctx.d.store.heartbeats.send(ctx.o.node, {});
      state.renewalsUnchecked = (state.renewalsUnchecked ?? 0) + 1;
      ctx.metrics.heartbeats.inc({ result: 'sent' });
    }
  } catch (err) {
    // The next renewal waits for its acknowledgement again, until one is stored.
    state.renewalsUnchecked = undefined;
    ctx.metrics.heartbeats.inc({ result: 'error' });
    ctx.log.warn({ err: errorMessage(err) }, 'agent: heartbeat failed');
  }
}

/**
 * RENEWAL_CHECK_EVERY: one lease renewal in this many waits for the server's acknowledgement; the
 * others are sent without one (Bucket.send). An acknowledgement is one of the four messages a
 * renewal costs nats-server (the write, its acknowledgement, a delivery to each liveness reader),
 * and waiting for it changes nothing about the lease: a renewal lost to a disconnect or a failover
 * is lost either way and the next one repairs it. What the acknowledgement gives is knowledge: an
 * agent whose renewals are not stored (a missing stream, a refused subject) learns it within this
 * many periods (warning, `gitcell_agent_heartbeats_total{result="error"}`) and then checks every
 * renewal until one is stored again.
 */
export const RENEWAL_CHECK_EVERY = 4;

/** renewalIsChecked tells whether the next renewal waits for its acknowledgement, pure: the first, the one after a failure, and every RENEWAL_CHECK_EVERY-th. */
export function renewalIsChecked(unchecked: number | undefined): boolean {
  return unchecked === undefined || unchecked + 1 >= RENEWAL_CHECK_EVERY;
}

/** PeriodSource is where a RenewalTimer takes its period: a fixed one, or the published liveness. */
export type PeriodSource = { fixedMs: number } | { current(): Liveness; listen(fn: (l: Liveness) => void): () => void };

/**
 * RenewalTimer calls `renew` every period of `source`; see the file comment. The first call comes at
 * a random point of the first period (the agent renewed as it started).
 */
export class RenewalTimer {
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private stopped = false;
  /** the period the timer follows now */
  periodMs: number;

  constructor(private readonly renew: () => void, private readonly source: PeriodSource, private readonly random: () => number = Math.random) {
    this.periodMs = 'fixedMs' in source ? source.fixedMs : source.current().periodMs;
  }

  start(): void {
    this.schedule(this.random() * this.periodMs);
    if ('fixedMs' in this.source) return;
    this.unlisten = this.source.listen((l) => {
      if (l.periodMs === this.periodMs) return;
      this.periodMs = l.periodMs;
      this.schedule(this.random() * this.periodMs);
    });
  }

  stop(): void {
    this.stopped = true;
    this.unlisten?.();
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.schedule(this.periodMs);
      this.renew();
    }, Math.max(0, Math.round(delayMs)));
  }
}

/** healthProblem answers /healthz, pure: NATS gone, or no convergence pass for 5 resyncs (at least 30 s). */
export function healthProblem(f: { natsClosed: boolean; lastPassAt: number; now: number; resyncMs: number }): string | undefined {
  if (f.natsClosed) return 'NATS connection closed';
  if (f.now - f.lastPassAt > Math.max(30_000, f.resyncMs * 5)) return 'convergence loop stalled';
  return undefined;
}
