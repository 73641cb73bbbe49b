import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { registerTaskSeries, type Health, type LocalTask } from '../../../agent/index.ts';
import type { Live } from '../../../agent/context.ts';
import type { TaskSpec } from '../../../api/index.ts';

function entry(taskId: string, phase: LocalTask['phase'], restarts: number): LocalTask {
  const spec = {
    id: taskId, namespace: 'shop', owner: { kind: 'Job', name: 'web' }, jobKey: 'Job/shop/web', index: 0, priority: 100, type: 'service', templateHash: 't1', generation: 1, createdAt: '',
    template: { image: 'web:1', env: [], resources: { requests: { cpuMillis: 250, memoryBytes: 1 << 20 }, limits: { memoryBytes: 64 << 20 } }, ports: [], probes: {}, secretMounts: [], nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 5 },
  } satisfies TaskSpec;
  return { taskId, templateHash: 't1', spec, phase, attempt: 1, restarts };
}

test('task series: read from the journal and the last cgroup sample at each scrape, labelled with the task\'s job; gone with the task', async () => {
  const registry = new Registry();
  registry.setDefaultLabels({ node: 'n1' });
  const records = new Map<string, LocalTask>([['shop.web.0', entry('shop.web.0', 'running', 2)], ['shop.web.1', entry('shop.web.1', 'backoff', 5)]]);
  const ready: Health = { started: true };
  const live = new Map<string, Live>([['shop.web.0', {
    containerId: 'c0', exited: new Promise(() => {}), probing: new Set(), health: ready,
    sample: { at: 0, s: { cpuNanos: 3.5e9, memoryBytes: 1000, oomKills: 0 } }, usage: { cpuMillis: 120, memoryBytes: 4096 },
  }]]);
  registerTaskSeries(registry, { records, live });
  const text = await registry.metrics();
  const value = (name: string, task: string) => Number(new RegExp(`^${name}\\{namespace="shop",job="web",task="${task}",template="t1",node="n1"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.equal(value('gitcell_task_cpu_seconds_total', 'shop.web.0'), 3.5);
  assert.equal(value('gitcell_task_cpu_millicores', 'shop.web.0'), 120);
  assert.equal(value('gitcell_task_cpu_request_millicores', 'shop.web.0'), 250);
  assert.equal(value('gitcell_task_memory_bytes', 'shop.web.0'), 4096);
  assert.equal(value('gitcell_task_memory_limit_bytes', 'shop.web.0'), 64 << 20);
  assert.equal(value('gitcell_task_restarts_total', 'shop.web.0'), 2);
  assert.equal(value('gitcell_task_ready', 'shop.web.0'), 1);
  assert.equal(value('gitcell_task_running', 'shop.web.0'), 1);
  assert.equal(value('gitcell_task_ready', 'shop.web.1'), 0, 'in backoff: not ready');
  assert.equal(value('gitcell_task_running', 'shop.web.1'), 0);
  assert.equal(value('gitcell_task_restarts_total', 'shop.web.1'), 5);
  assert.ok(Number.isNaN(value('gitcell_task_cpu_millicores', 'shop.web.1')), 'no sample: no usage series');
  records.delete('shop.web.1');
  assert.doesNotMatch(await registry.metrics(), /shop\.web\.1/, 'a forgotten task leaves no series');
});
