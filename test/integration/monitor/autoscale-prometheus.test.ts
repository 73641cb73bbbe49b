// The autoscaler's Prometheus adapter (reconciler/autoscale/prometheus.ts) against the real
// /usr/bin/prometheus scraping a real exporter: per-task values by label, Prometheus' own error for a
// bad query, a non-vector answer refused, and the values driving a decision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dump } from 'js-yaml';
import { Gauge, Registry } from 'prom-client';
import type { TaskSpec } from '../../../api/index.ts';
import { serveMonitoring } from '../../../lib/index.ts';
import { decideAutoscale, queryPerTask, valueSamples } from '../../../reconciler/autoscale/index.ts';
import { freePort } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startPrometheus } from '../../helpers/monitoring.ts';

test('queryPerTask reads one value per task from the real Prometheus, and its errors say why', async (t) => {
  const registry = new Registry();
  const queue = new Gauge({ name: 'work_queue_length', help: 'items waiting', labelNames: ['task'], registers: [registry] });
  queue.set({ task: 'default.web.0-abc' }, 12);
  queue.set({ task: 'default.web.1-abc' }, 8);
  new Gauge({ name: 'work_queue_unlabelled', help: 'no task label', registers: [registry] }).set(5);
  const exporter = await serveMonitoring({ registry, health: () => undefined, host: '127.0.0.1', port: 0 });
  t.after(() => exporter.close());

  const prom = await startPrometheus(dump({ global: { scrape_interval: '1s' }, scrape_configs: [{ job_name: 'app', honor_labels: true, static_configs: [{ targets: [new URL(exporter.url).host] }] }] }));
  t.after(() => prom.stop());
  const url = prom.url;

  const values = await waitFor('both tasks queryable', async () => {
    const m = await queryPerTask(url, 'work_queue_length').catch(() => undefined);
    return m && m.size === 2 ? m : undefined;
  }, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${prom.log()}`);
  });
  assert.deepEqual([...values.entries()].sort(), [['default.web.0-abc', 12], ['default.web.1-abc', 8]]);
  // A series without the task label gives no value (the task's metric is then missing, not zero).
  assert.equal((await queryPerTask(url, 'work_queue_unlabelled')).size, 0);
  // Another label name, and arithmetic in PromQL.
  const doubled = await queryPerTask(url, 'work_queue_length * 2', 'task');
  assert.equal(doubled.get('default.web.0-abc'), 24);
  await assert.rejects(queryPerTask(url, 'work_queue_length{'), /prometheus 127\.0\.0\.1:\d+: .*parse error/);
  await assert.rejects(queryPerTask(url, 'work_queue_length[1m]'), /must answer an instant vector \(got matrix\)/);
  await assert.rejects(queryPerTask(`http://127.0.0.1:${await freePort()}`, 'up', 'task', 2000), /fetch failed|ECONNREFUSED/);

  // The values drive a decision: average (12 + 8) / 2 = 10 against a target of 5: ceil(2 × 2) = 4.
  const spec = (id: string) => ({ id, createdAt: new Date().toISOString() }) as TaskSpec;
  const tasks = ['default.web.0-abc', 'default.web.1-abc'].map((id) => ({ spec: spec(id), status: { taskId: id, node: 'n1', templateHash: 'h', state: 'running' as const, ready: true, restarts: 0, updatedAt: '' } }));
  const d = decideAutoscale({
    namespace: 'default', name: 'web', gitReplicas: 2, now: Date.now(),
    spec: { maxReplicas: 10, metrics: [{ prometheus: { query: 'work_queue_length' }, targetAverageValue: 5 }] },
    metrics: [{ samples: valueSamples(tasks, values) }],
  });
  assert.deepEqual([d.decision.metrics[0]!.current, d.decision.proposal, d.decision.desired], [10, 4, 4]);
});
