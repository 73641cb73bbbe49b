/**
 * The node's registration and heartbeat, as Kubernetes' kubelet with node Leases: every
 * `heartbeatMs` the agent renews its lease (an empty entry in `heartbeats`, its server time the
 * renewal) and writes its node record (capacity, labels, addresses, versions, images, sealing key,
 * store incarnation, conditions) only when something in it changed. Readers judge liveness by the
 * newer of the two (store/node-informer.ts). Also the agent's own health for /healthz.
 *
 *   every heartbeatMs ─► nodeRecord(now) ─ same as the last written but its time? ─ no ─► put nodes/<node>
 *                     └─► put heartbeats/<node> {}
 */
import { errorMessage } from '../lib/index.ts';
import { sameButHeartbeat, type NodeCondition, type NodeRecord } from '../api/index.ts';
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
 * lease; a failure is counted and logged, the next beat tries again (a record that failed is
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
    await ctx.d.store.heartbeats.put(ctx.o.node, {});
    ctx.metrics.heartbeats.inc({ result: 'ok' });
  } catch (err) {
    ctx.metrics.heartbeats.inc({ result: 'error' });
    ctx.log.warn({ err: errorMessage(err) }, 'agent: heartbeat failed');
  }
}

/** healthProblem answers /healthz, pure: NATS gone, or no convergence pass for 5 resyncs (at least 30 s). */
export function healthProblem(f: { natsClosed: boolean; lastPassAt: number; now: number; resyncMs: number }): string | undefined {
  if (f.natsClosed) return 'NATS connection closed';
  if (f.now - f.lastPassAt > Math.max(30_000, f.resyncMs * 5)) return 'convergence loop stalled';
  return undefined;
}
