/**
 * Hollow nodes: many simulated nodes in one process, each the real agent (registration, heartbeat,
 * convergence, journal, status, recovery) over the in-memory runtime (agent/memory-runtime.ts), like
 * Kubernetes' kubemark. What would not scale per node is shared by the process:
 *
 *   - one NATS connection and identity (store/permissions.ts hollowPermissions: its own nodes' keys);
 *   - one store feed (agent/shared-feed.ts): three watches for the process instead of three per
 *     node, one copy of the task specs, changes routed to the node they concern;
 *   - no per-node process metrics (GC observers and event-loop monitors per registry);
 *   - one copy of the published lease renewal period (store/liveness.ts), which every node follows;
 *   - heartbeat and resync timers staggered over their period, so 5,000 nodes do not beat at once.
 *
 * Each node has its own state dir (journal), runtime, network, capacity and labels.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Resources } from '../../api/index.ts';
import { mapLimit, type Logger } from '../../lib/index.ts';
import { LivenessInformer, openAgentStore, type AgentStore } from '../../store/index.ts';
import { Agent, MemoryNetwork, MemoryRuntime, SharedFeed, type AgentOptions } from '../../agent/index.ts';

/** HollowOptions describe the nodes of one hollow process. */
export interface HollowOptions {
  /** how many nodes */
  nodes: number;
  /** node names are `<prefix><index>` with 5 digits, from 1 */
  prefix: string;
  /** bucket prefix of the cluster */
  storePrefix: string;
  /** every node's state dir is below this one (removed on a clean stop) */
  stateDir: string;
  /** how long a task takes to "start" */
  startDelayMs: number;
  /** capacity of a standard node; every fourth node is "large" (twice that) */
  capacity: Resources;
  /** labels every node carries (besides its shape, zone and hostname) */
  labels: Record<string, string>;
  /** agent timings (defaults: the agent's; without heartbeatMs the nodes follow the published period) */
  timings: Pick<AgentOptions, 'heartbeatMs' | 'resyncMs' | 'probeTickMs' | 'usageMs'>;
  /** store incarnation the nodes report */
  storeIncarnation?: string;
}

/** hollowNodeName is the i-th node's name (from 1). Pure. */
export function hollowNodeName(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(5, '0')}`;
}

/** hollowNodeNames lists the names of `count` hollow nodes. Pure. */
export function hollowNodeNames(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => hollowNodeName(prefix, i + 1));
}

/**
 * hollowShape is node i's capacity and labels, pure: every fourth node is large (twice the
 * capacity), zones rotate over three.
 */
export function hollowShape(i: number, o: Pick<HollowOptions, 'capacity' | 'labels'>): { capacity: Resources; labels: Record<string, string> } {
  const large = i % 4 === 0;
  const f = large ? 2 : 1;
  return {
    capacity: { cpuMillis: o.capacity.cpuMillis * f, memoryBytes: o.capacity.memoryBytes * f },
    labels: { ...o.labels, 'gitcell.io/hollow': 'true', shape: large ? 'large' : 'standard', zone: `zone-${((i - 1) % 3) + 1}` },
  };
}

/** HollowProcess runs the nodes; `stop` ends them (their tasks "keep running": the runtime is memory). */
export class HollowProcess {
  readonly agents: Agent[] = [];
  readonly runtimes: MemoryRuntime[] = [];
  private feed?: SharedFeed;
  private liveness?: LivenessInformer;
  private readonly stopLiveness = new AbortController();

  constructor(private readonly nc: NatsConnection, private readonly o: HollowOptions, private readonly log: Logger) {}

  /** start opens the store, starts the shared feed and every node (64 at a time), and resolves once all run. */
  async start(): Promise<void> {
    const { o, nc, log } = this;
    const names = hollowNodeNames(o.prefix, o.nodes);
    const first = await openAgentStore(nc, names[0]!, { prefix: o.storePrefix, log });
    this.feed = new SharedFeed(first, log);
    this.liveness = new LivenessInformer(first.cluster, { signal: this.stopLiveness.signal, log });
    await Promise.all([this.feed.synced, this.liveness.synced]);
    await mapLimit(names, 64, async (node, idx) => {
      const own = idx === 0 ? first : await openAgentStore(nc, node, { prefix: o.storePrefix, log });
      const agent = this.make(node, idx + 1, first, own);
      await agent.start();
      this.agents.push(agent);
    });
  }

  private make(node: string, i: number, shared: AgentStore, own: AgentStore): Agent {
    const { o } = this;
    const shape = hollowShape(i, o);
    const runtime = new MemoryRuntime({ startDelayMs: o.startDelayMs });
    this.runtimes.push(runtime);
    // Staggered: a fraction of each period so the nodes' beats and passes spread over it.
    const stagger = (ms: number, by = i) => Math.round(ms * (1 + (by % 97) / 970));
    return new Agent({
      node, stateDir: join(o.stateDir, node), capacity: shape.capacity, labels: shape.labels,
      versions: { runc: 'hollow', kernel: 'hollow' }, processMetrics: false,
      ...(o.timings.heartbeatMs ? { heartbeatMs: stagger(o.timings.heartbeatMs) } : {}), resyncMs: stagger(o.timings.resyncMs ?? 10_000),
      probeTickMs: o.timings.probeTickMs ?? 1000, usageMs: o.timings.usageMs ?? 60_000,
      ...(o.storeIncarnation ? { storeIncarnation: o.storeIncarnation } : {}),
    }, {
      nc: this.nc, runtime, network: new MemoryNetwork(), log: this.log, feed: this.feed!, liveness: this.liveness!,
      // Shared buckets; the event stream is the node's own (its writer token is the node's name).
      store: { tasks: shared.tasks, bindings: shared.bindings, status: shared.status, nodes: shared.nodes, heartbeats: shared.heartbeats, nodespec: shared.nodespec, events: own.events },
    });
  }

  /** stop ends every node and the feed; `clean` also removes the state dirs. */
  async stop(clean: boolean): Promise<void> {
    await mapLimit(this.agents, 256, (a) => a.stop());
    for (const r of this.runtimes) r.close();
    await this.feed?.close();
    this.stopLiveness.abort();
    await this.liveness?.done;
    if (clean) await rm(this.o.stateDir, { recursive: true, force: true });
  }

  /** running counts the tasks the nodes run right now. */
  running(): number {
    return this.agents.reduce((n, a) => n + a.tasks().filter((t) => t.phase === 'running').length, 0);
  }
}
