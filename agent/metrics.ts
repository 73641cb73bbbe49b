/**
 * The agent's Prometheus metrics (prom-client, one registry per agent so several agents in one
 * process, as in tests, do not collide) and its HTTP endpoint: /healthz and /metrics.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** AgentMetrics are the series the agent updates. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly tasks = new Gauge({ name: 'gitcell_agent_tasks', help: 'Tasks on this node by reported state', labelNames: ['state'], registers: [this.registry] });
  readonly restarts = new Counter({ name: 'gitcell_agent_task_restarts_total', help: 'Container restarts after an exit', registers: [this.registry] });
  readonly starts = new Counter({ name: 'gitcell_agent_container_starts_total', help: 'Containers started', labelNames: ['result'], registers: [this.registry] });
  readonly stops = new Counter({ name: 'gitcell_agent_container_stops_total', help: 'Containers stopped by the agent', labelNames: ['reason', 'forced'], registers: [this.registry] });
  readonly probes = new Counter({ name: 'gitcell_agent_probes_total', help: 'Probe runs', labelNames: ['kind', 'result'], registers: [this.registry] });
  readonly passes = new Histogram({ name: 'gitcell_agent_converge_seconds', help: 'Duration of one convergence pass', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly heartbeats = new Counter({ name: 'gitcell_agent_heartbeats_total', help: 'Node heartbeats written', labelNames: ['result'], registers: [this.registry] });
  readonly cpu = new Gauge({ name: 'gitcell_agent_task_cpu_millicores', help: 'CPU used by a task', labelNames: ['task'], registers: [this.registry] });
  readonly memory = new Gauge({ name: 'gitcell_agent_task_memory_bytes', help: 'Memory working set of a task', labelNames: ['task'], registers: [this.registry] });

  /** processMetrics: also the process's CPU, heap, GC and event loop (each registry observes them anew) */
  constructor(node: string, processMetrics = true) {
    this.registry.setDefaultLabels({ node });
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'gitcell_agent_' });
  }
}

/** HealthCheck answers /healthz: undefined when healthy, else the reason. */
export type HealthCheck = () => string | undefined;

/** startHttp serves /healthz and /metrics on host:port (port 0 picks a free one). */
export async function startHttp(metrics: AgentMetrics, health: HealthCheck, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/healthz') {
      const problem = health();
      res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' }).end(problem ?? 'ok');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404).end('not found: try /healthz or /metrics');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return { server, url: `http://${addr.address}:${addr.port}` };
}
