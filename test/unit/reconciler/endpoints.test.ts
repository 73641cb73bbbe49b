import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskSpec, TaskStatus } from '../../../api/index.ts';
import { allocateServiceAddresses, computeServiceRecords, makeTask, type ServiceObject } from '../../../reconciler/controllers/index.ts';
import { resolveTemplate } from '../../../reconciler/template/index.ts';
import { T0, node, status, workload } from './builders.ts';

const web = (): ServiceObject => ({ namespace: 'default', name: 'web', generation: 1, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] } });

function task(i: number, labels: Record<string, string> = { app: 'web' }, namespace = 'default'): TaskSpec {
  const { template, templateHash } = resolveTemplate({ image: 'web:1', labels, ports: [{ name: 'http', containerPort: 80 }] }, { type: 'service' });
  return makeTask(workload('web:1', { namespace, template, templateHash }), `${namespace}.web.${i}-abc`, i, T0);
}

function run(services: ServiceObject[], tasks: TaskSpec[], statuses: TaskStatus[], now = T0) {
  const addresses = allocateServiceAddresses(services.map((s) => ({ key: `${s.namespace}/${s.name}`, headless: s.spec.clusterIP === 'None', nodePorts: [] })), new Map(), { serviceCidr: '10.96.0.0/12' });
  return computeServiceRecords({
    services, tasks, statuses: new Map(statuses.map((s) => [s.taskId, s])), nodes: [node('n1'), node('n2', { heartbeatAt: new Date(T0 - 60_000).toISOString() })],
    addresses, now, nodeGraceMs: 30_000,
  });
}

test('only ready tasks are endpoints; each other matching task says why it is not', () => {
  const ts = [0, 1, 2, 3, 4, 5, 6].map((i) => task(i));
  const [rec] = run([web()], ts, [
    status(ts[0]!, 'running', true, { ip: '10.88.0.2' }),
    status(ts[1]!, 'running', false, { ip: '10.88.0.3' }),
    status(ts[2]!, 'stopping', false, { ip: '10.88.0.4' }),
    status(ts[3]!, 'running', true, { ip: '10.88.0.5', node: 'n2' }),
    status(ts[4]!, 'running', true, { ip: '10.88.0.6', templateHash: 'old' }),
    status(ts[5]!, 'backoff', false),
    // ts[6]: no status yet
  ]);
  assert.deepEqual(rec!.endpoints, [{ taskId: 'default.web.0-abc', node: 'n1', ip: '10.88.0.2', ports: { http: 80 } }]);
  assert.deepEqual(rec!.notReady.map((n) => n.reason), [
    'readiness probe failing',
    'being stopped',
    'node n2 lost (no heartbeat since 2026-03-01T11:59:00.000Z)',
    'runs an older template',
    'not running (state backoff)',
    'not started (no status reported)',
  ]);
  assert.ok(rec!.clusterIP);
  assert.equal(rec!.message, undefined);
  assert.deepEqual(rec!.ports, [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http' }]);
});

test('a selector that matches nothing: the Service exists without endpoints and says why', () => {
  const other = task(0, { app: 'api' });
  const elsewhere = task(1, { app: 'web' }, 'staging');
  const [rec] = run([web()], [other, elsewhere], [status(other, 'running', true, { ip: '10.88.0.2' }), status(elsewhere, 'running', true, { ip: '10.88.0.3' })]);
  assert.deepEqual(rec!.endpoints, []);
  assert.equal(rec!.message, 'selector app=web matches no task in namespace default');
  const t = task(2);
  const [unready] = run([web()], [t], [status(t, 'running', false, { ip: '10.88.0.4' })]);
  assert.equal(unready!.message, 'none of the 1 task the selector matches is ready');
});

test('a named targetPort the task does not have keeps the task out; headless has no VIP', () => {
  const t = task(0);
  const svc = web();
  svc.spec.ports = [{ name: 'admin', port: 9000, targetPort: 'admin' }];
  const [rec] = run([svc], [t], [status(t, 'running', true, { ip: '10.88.0.2' })]);
  assert.deepEqual(rec!.endpoints, []);
  assert.match(rec!.notReady[0]!.reason, /serves none of the ports \(admin\)/);
  const headless: ServiceObject = { ...web(), spec: { ...web().spec, clusterIP: 'None' } };
  const [h] = run([headless], [t], [status(t, 'running', true, { ip: '10.88.0.2' })]);
  assert.equal(h!.headless, true);
  assert.equal(h!.clusterIP, undefined);
  assert.equal(h!.endpoints[0]!.ip, '10.88.0.2');
});

test('an IP outside the reporting node\'s subnet is never an endpoint (an agent cannot steer a Service elsewhere)', () => {
  const ts = [0, 1].map((i) => task(i));
  const addresses = allocateServiceAddresses([{ key: 'default/web', headless: false, nodePorts: [] }], new Map(), { serviceCidr: '10.96.0.0/12' });
  const [rec] = computeServiceRecords({
    services: [web()], tasks: ts, addresses, now: T0, nodeGraceMs: 30_000,
    statuses: new Map([status(ts[0]!, 'running', true, { ip: '10.88.0.2' }), status(ts[1]!, 'running', true, { ip: '192.0.2.7' })].map((s) => [s.taskId, s])),
    nodes: [node('n1', { subnet: '10.88.0.0/24' })],
  });
  assert.deepEqual(rec!.endpoints.map((e) => e.ip), ['10.88.0.2']);
  assert.deepEqual(rec!.notReady.map((n) => n.reason), ["IP 192.0.2.7 is outside node n1's subnet 10.88.0.0/24"]);
});
