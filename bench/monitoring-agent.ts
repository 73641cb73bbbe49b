// The scraped side of `npm run bench -- monitoring`: one agent's /metrics (AgentMetrics with its
// process metrics, and the per-task series of `--tasks` running tasks, 110 by default: an agent's
// maxPods), in a process of its own so the bench can read its CPU time from /proc. Prints its URL.
import { AgentMetrics, registerTaskSeries, startHttp, type LocalTask } from '../agent/index.ts';
import type { Live } from '../agent/context.ts';
import type { TaskSpec } from '../api/index.ts';

const n = Number(process.argv[process.argv.indexOf('--tasks') + 1] || 110);
const metrics = new AgentMetrics('node-1');
const records = new Map<string, LocalTask>();
const live = new Map<string, Live>();
for (let i = 0; i < n; i++) {
  const id = `shop.web-${i % 10}.${i}-abcdef`;
  const spec = {
    id, namespace: 'shop', owner: { kind: 'Job', name: `web-${i % 10}` }, jobKey: `Job/shop/web-${i % 10}`, index: i, priority: 500, type: 'service', templateHash: 'abcdef0123', generation: 1, createdAt: '',
    template: { image: 'web:1', env: [], resources: { requests: { cpuMillis: 100, memoryBytes: 64 << 20 }, limits: { memoryBytes: 128 << 20 } }, ports: [], probes: {}, secretMounts: [], nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 5 },
  } satisfies TaskSpec;
  records.set(id, { taskId: id, templateHash: 'abcdef0123', spec, phase: 'running', attempt: 1, restarts: i % 3 });
  live.set(id, {
    containerId: id, exited: new Promise(() => {}), probing: new Set(), health: { started: true },
    sample: { at: Date.now(), s: { cpuNanos: 1e9 * i, memoryBytes: 1e7, oomKills: 0 } }, usage: { cpuMillis: 20 + i, memoryBytes: 1e7 + i },
  });
}
registerTaskSeries(metrics.registry, { records, live });
const { url } = await startHttp(metrics, () => undefined, '127.0.0.1', 0);
process.stdout.write(`${url}\n`);
process.on('SIGTERM', () => process.exit(0));
