// The endpoints loop against a real nats-server: Services in `desired`, tasks, agents' statuses and
// node heartbeats in, ServiceRecords in the `services` bucket out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeRecord, ServiceRecord, TaskSpec, TaskStatus } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { makeTask, runEndpoints, type DesiredRecord } from '../../../reconciler/index.ts';
import { resolveTemplate } from '../../../reconciler/template/index.ts';
import { Informer } from '../../../store/index.ts';
import { openTestStore } from '../../helpers/store.ts';

function serviceRecord(name: string, spec: Record<string, unknown>): DesiredRecord {
  return {
    key: `Service.default.${name}`, generation: 1, specHash: 'h', origin: { type: 'git', revision: 'c1' }, revision: 'c1', updatedAt: new Date().toISOString(),
    object: { apiVersion: 'gitcell.io/v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec } as DesiredRecord['object'],
  };
}

function webTask(i: number): TaskSpec {
  const { template, templateHash } = resolveTemplate({ image: 'web:1', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: 80 }] }, { type: 'service' });
  return makeTask({ kind: 'Job', namespace: 'default', name: 'web', generation: 1, revision: 'c1', type: 'service', priority: 300, template, templateHash }, `default.web.${i}-abc`, i, Date.now());
}

function nodeRecord(name: string, heartbeatAt = new Date().toISOString()): NodeRecord {
  return {
    name, labels: {}, taints: [], capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30 }, allocatable: { cpuMillis: 1000, memoryBytes: 2 ** 30 },
    addresses: ['127.0.0.1'], subnet: '10.88.0.0/16', runtime: { runc: '1', kernel: '6', agentVersion: '0' }, images: [], startedAt: heartbeatAt, heartbeatAt,
  };
}

function taskStatus(t: TaskSpec, node: string, ip: string, over: Partial<TaskStatus> = {}): TaskStatus {
  return { taskId: t.id, node, templateHash: t.templateHash, state: 'running', ready: true, restarts: 0, ip, updatedAt: new Date().toISOString(), ...over };
}

test('endpoints follow readiness, stopping, deleted tasks and lost nodes; the VIP stays; a selector matching nothing says why', async (t) => {
  const { store } = await openTestStore(t, { tag: 'ep' });
  const ac = new AbortController();
  const loop = runEndpoints({ store, signal: ac.signal, nodeGraceMs: 1500, tickMs: 200, log: silentLogger() });
  t.after(async () => {
    ac.abort();
    await loop.done;
  });
  const seen = new Informer<ServiceRecord>(store.services, { signal: ac.signal, log: silentLogger() });
  await seen.synced;
  const until = async (what: string, ok: (r: ServiceRecord | undefined) => boolean, key = 'default.web'): Promise<ServiceRecord> => {
    const deadline = Date.now() + 20_000;
    while (!ok(seen.get(key))) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(seen.get(key))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return seen.get(key)!;
  };
  const ips = (r: ServiceRecord | undefined) => (r?.endpoints ?? []).map((e) => e.ip).join(',');

  const [t0, t1, t2] = [0, 1, 2].map(webTask) as [TaskSpec, TaskSpec, TaskSpec];
  const beat = setInterval(() => void store.nodes.put('a', nodeRecord('a')).catch(() => undefined), 300);
  t.after(() => clearInterval(beat));
  await store.nodes.put('a', nodeRecord('a'));
  await store.nodes.put('b', nodeRecord('b'));
  for (const task of [t0, t1, t2]) await store.tasks.put(task.id, task);
  const bind = (task: TaskSpec, node: string) => store.bindings.put(task.id, { taskId: task.id, node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
  await bind(t0, 'a');
  await bind(t1, 'a');
  await bind(t2, 'b');
  await store.status.put(`a.${t0.id}`, taskStatus(t0, 'a', '10.88.0.2'));
  await store.status.put(`a.${t1.id}`, taskStatus(t1, 'a', '10.88.0.3', { ready: false }));
  await store.status.put(`b.${t2.id}`, taskStatus(t2, 'b', '10.88.1.2'));
  await store.desired.put('Service.default.web', serviceRecord('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] }));
  await store.desired.put('Service.default.none', serviceRecord('none', { selector: { app: 'nothing' }, ports: [{ name: 'http', port: 80 }] }));

  // Node a's task reported by node b (an attacker node claiming it with its own IP): refused.
  await store.status.put(`b.${t0.id}`, taskStatus(t0, 'b', '10.88.1.66', { updatedAt: new Date(Date.now() + 60_000).toISOString() }));
  // Node b heartbeats once only: it is lost 1.5 s later, and its task with it.
  const first = await until('web with its ready endpoints', (r) => ips(r) === '10.88.0.2' || ips(r) === '10.88.0.2,10.88.1.2');
  assert.ok(!ips(first).includes('10.88.1.66'), 'a status from a node the task is not bound to is never an endpoint');
  assert.match(first.clusterIP ?? '', /^10\.(9[6-9]|10[0-9]|11[01])\./, 'a VIP from 10.96.0.0/12');
  assert.deepEqual(first.ports, [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http' }]);
  const lost = await until('node b lost', (r) => ips(r) === '10.88.0.2');
  assert.ok(lost.notReady.some((n) => n.taskId === t2.id && /node b lost/.test(n.reason)), JSON.stringify(lost.notReady));

  await store.status.put(`a.${t1.id}`, taskStatus(t1, 'a', '10.88.0.3'));
  await until('t1 ready', (r) => ips(r) === '10.88.0.2,10.88.0.3');
  await store.status.put(`a.${t0.id}`, taskStatus(t0, 'a', '10.88.0.2', { state: 'stopping', ready: false }));
  await until('t0 stopping', (r) => ips(r) === '10.88.0.3');
  await store.tasks.delete(t1.id);
  const empty = await until('t1 deleted', (r) => ips(r) === '' && r!.notReady.every((n) => n.taskId !== t1.id));
  assert.equal(empty.clusterIP, first.clusterIP, 'the VIP stays while the Service does');
  assert.match(empty.message ?? '', /ready/);

  const none = await until('the Service matching nothing', (r) => r !== undefined, 'default.none');
  assert.deepEqual(none.endpoints, []);
  assert.match(none.message ?? '', /selector app=nothing matches no task in namespace default/);

  // A Service that leaves Git leaves the bucket.
  await store.desired.delete('Service.default.none');
  await until('none deleted', (r) => r === undefined, 'default.none');
});
