// Prometheus (Debian's package, the real binary) discovers the cluster through the reconciler's
// /sd endpoint: the reconciler itself, an agent that published its metrics address, and a running
// task port named "metrics", each labelled with job, namespace, task, node and template; a task
// without such a port, or not running, is not a target.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Registry } from 'prom-client';
import { AgentMetrics, registerTaskSeries, type LocalTask } from '../../../agent/index.ts';
import type { NodeRecord, TaskSpec, TaskStatus } from '../../../api/index.ts';
import { serveMonitoring, silentLogger } from '../../../lib/index.ts';
import { ReconcilerMetrics, SD_PATH, hostPortOf, startReconcilerMonitoring } from '../../../reconciler/index.ts';
import { nodeRecord } from '../reconciler/sim.ts';
import { openTestStore } from '../../helpers/store.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startPrometheus } from '../../helpers/monitoring.ts';

/** exporter serves a registry with one counter on a free 127.0.0.1 port (a task's own /metrics, or the agent's registry). */
async function exporter(t: TestContext, name: string, registry = new Registry()) {
  new Counter({ name, help: 'test series', registers: [registry] }).inc(3);
  const e = await serveMonitoring({ registry, health: () => undefined, host: '127.0.0.1', port: 0 });
  t.after(() => e.close());
  return e;
}

function task(id: string, ports: TaskSpec['template']['ports']): TaskSpec {
  return {
    id, namespace: 'shop', owner: { kind: 'Job', name: 'web' }, jobKey: 'Job/shop/web', index: 0, priority: 100, type: 'service', templateHash: 'abc123', generation: 1, createdAt: new Date().toISOString(),
    template: { image: 'web:1', env: [], resources: { requests: { cpuMillis: 100, memoryBytes: 1 << 20 }, limits: {} }, ports, probes: {}, secretMounts: [], nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 5 },
  };
}
const running = (taskId: string, state: TaskStatus['state'] = 'running'): TaskStatus =>
  ({ taskId, node: 'n1', templateHash: 'abc123', state, ready: true, restarts: 0, ip: '127.0.0.1', updatedAt: new Date().toISOString() });

interface PromTarget { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }

test('Prometheus scrapes what the reconciler discovers: itself, agents and task metrics ports, labelled', async (t) => {
  const { store } = await openTestStore(t, { tag: 'm' });
  // The agent's real registry with its per-task series for one running task (task-metrics.ts).
  const agentMetrics = new AgentMetrics('n1', false);
  const record: LocalTask = { taskId: 'shop.web.0', templateHash: 'abc123', spec: task('shop.web.0', []), phase: 'running', attempt: 1, restarts: 1 };
  registerTaskSeries(agentMetrics.registry, { records: new Map([['shop.web.0', record]]), live: new Map() });
  const agent = await exporter(t, 'test_agent_series_total', agentMetrics.registry);
  // The task tries to pose as another job's task series: it keeps its own target's job.
  const appRegistry = new Registry();
  new Gauge({ name: 'gitcell_task_ready', help: 'spoof', labelNames: ['job', 'component'], registers: [appRegistry] }).set({ job: 'payments', component: 'agent' }, 1);
  const app = await exporter(t, 'shop_requests_total', appRegistry);
  const appPort = Number(new URL(app.url).port);
  await store.nodes.put('n1', { ...nodeRecord('n1'), metricsUrl: agent.url } satisfies NodeRecord);
  await store.nodes.put('n2', nodeRecord('n2')); // no metrics address published: not a target
  await store.tasks.put('shop.web.0', task('shop.web.0', [{ name: 'metrics', containerPort: appPort, protocol: 'TCP' }, { name: 'http', containerPort: 1, protocol: 'TCP' }]));
  await store.tasks.put('shop.web.1', task('shop.web.1', [{ name: 'http', containerPort: 2, protocol: 'TCP' }]));
  await store.tasks.put('shop.web.2', task('shop.web.2', [{ name: 'metrics', containerPort: 3, protocol: 'TCP' }]));
  await store.status.put('n1.shop.web.0', running('shop.web.0'));
  await store.status.put('n1.shop.web.1', running('shop.web.1'));
  await store.status.put('n1.shop.web.2', running('shop.web.2', 'pending'));

  const ac = new AbortController();
  t.after(() => ac.abort());
  const mon = await startReconcilerMonitoring({
    host: '127.0.0.1', port: 0, metrics: new ReconcilerMetrics(), health: () => undefined, store, signal: ac.signal, log: silentLogger(),
  });
  t.after(() => mon.close());

  const prom = await startPrometheus({ sdUrl: `${mon.url}${SD_PATH}`, scrapeIntervalSeconds: 1, sdRefreshSeconds: 1 });
  t.after(() => prom.stop());
  const listen = new URL(prom.url).host;
  const promLog = prom.log;

  const targets = async (): Promise<PromTarget[]> => {
    const res = await fetch(`http://${listen}/api/v1/targets?state=active`).catch(() => undefined);
    if (!res?.ok) return [];
    return ((await res.json()) as { data: { activeTargets: PromTarget[] } }).data.activeTargets;
  };
  const all = await waitFor('three targets scraped and up', async () => {
    const ts = await targets();
    return ts.length === 3 && ts.every((x) => x.health === 'up') ? ts : undefined;
  }, 60_000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await targets())}\n${promLog()}`);
  });
  const byJob = new Map(all.map((x) => [x.labels.job!, x]));
  assert.deepEqual([...byJob.keys()].sort(), ['gitcell-agent', 'gitcell-reconciler', 'web']);
  assert.equal(byJob.get('gitcell-agent')!.labels.node, 'n1');
  const web = byJob.get('web')!;
  assert.equal(web.scrapeUrl, `http://127.0.0.1:${appPort}/metrics`);
  assert.deepEqual(
    { namespace: web.labels.namespace, task: web.labels.task, node: web.labels.node, template: web.labels.template },
    { namespace: 'shop', task: 'shop.web.0', node: 'n1', template: 'abc123' },
  );
  // The task's own series arrive with those labels.
  const q = await waitFor('the task series queryable', async () => {
    const res = await fetch(`http://${listen}/api/v1/query?query=${encodeURIComponent('shop_requests_total')}`);
    const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result.length ? body.data.result : undefined;
  }, 30_000);
  assert.equal(q[0]!.metric.task, 'shop.web.0');
  assert.equal(q[0]!.value[1], '3');
  // The agent's per-task series carry the task's job and node, not the agent target's.
  const query = async (expr: string) => {
    const res = await fetch(`http://${listen}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return ((await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  };
  const restarts = await waitFor('the agent\'s task series queryable by job', async () => {
    const r = await query('gitcell_task_restarts_total{job="web"}');
    return r.length ? r : undefined;
  }, 30_000);
  assert.equal(restarts.length, 1, JSON.stringify(restarts));
  assert.deepEqual(
    { ...restarts[0]!.metric, value: restarts[0]!.value[1] },
    { __name__: 'gitcell_task_restarts_total', job: 'web', namespace: 'shop', task: 'shop.web.0', template: 'abc123', node: 'n1', component: 'agent', instance: hostPortOf(agent.url)!, value: '1' },
  );
  const ready = await query('gitcell_task_ready');
  assert.deepEqual(ready.map((r) => [r.metric.job, r.metric.exported_job ?? '']).sort(), [['web', ''], ['web', 'payments']], 'the spoofed series stays under its own target\'s job');
});
