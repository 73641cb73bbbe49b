/**
 * The agent's Prometheus metrics (prom-client, one registry per agent so several agents in one
 * process, as in tests, do not collide) and its HTTP endpoint: /healthz and /metrics.
 */
import type { Server } from 'node:http';
import { serveMonitoring, type HealthCheck } from '../lib/metrics-http.ts';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** AgentMetrics are the series the agent updates (the per-task series are task-metrics.ts', read at each scrape). */
export class AgentMetrics {
  readonly registry = new Registry();
  /**
   * taskCounts says how many tasks are in each reported state (the agent sets it): read at each
   * scrape, not set at each status write, which counted every task of the node per write (and hollow
   * nodes, never scraped, paid for it at every task start)
   */
  taskCounts: () => ReadonlyMap<string, number> = () => new Map();
  readonly tasks: Gauge = new Gauge({
    name: 'gitcell_agent_tasks', help: 'Tasks on this node by reported state', labelNames: ['state'], registers: [this.registry],
    collect: () => {
      this.tasks.reset();
      for (const [state, n] of this.taskCounts()) this.tasks.set({ state }, n);
    },
  });
  readonly restarts = new Counter({ name: 'gitcell_agent_task_restarts_total', help: 'Container restarts after an exit', registers: [this.registry] });
  readonly starts = new Counter({ name: 'gitcell_agent_container_starts_total', help: 'Containers started', labelNames: ['result'], registers: [this.registry] });
  readonly stops = new Counter({ name: 'gitcell_agent_container_stops_total', help: 'Containers stopped by the agent', labelNames: ['reason', 'forced'], registers: [this.registry] });
  readonly probes = new Counter({ name: 'gitcell_agent_probes_total', help: 'Probe runs', labelNames: ['kind', 'result'], registers: [this.registry] });
  readonly passes = new Histogram({ name: 'gitcell_agent_converge_seconds', help: 'Duration of one convergence pass', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly heartbeats = new Counter({ name: 'gitcell_agent_heartbeats_total', help: 'Node heartbeats (lease renewals): ok = stored and acknowledged, sent = sent without acknowledgement, error = failed', labelNames: ['result'], registers: [this.registry] });

  /** processMetrics: also the process's CPU, heap, GC and event loop (each registry observes them anew) */
  constructor(node: string, processMetrics = true) {
    this.registry.setDefaultLabels({ node });
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'gitcell_agent_' });
  }
}

/** HealthCheck answers /healthz: undefined when healthy, else the reason. */
export type { HealthCheck } from '../lib/metrics-http.ts';

/** startHttp serves the agent's /healthz and /metrics on host:port (port 0 picks a free one; lib/metrics-http.ts). */
export async function startHttp(metrics: AgentMetrics, health: HealthCheck, host: string, port: number): Promise<{ server: Server; url: string }> {
  const { server, url } = await serveMonitoring({ registry: metrics.registry, health, host, port });
  return { server, url };
}
