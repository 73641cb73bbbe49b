import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceRecord } from '../../../api/index.ts';
import type { DesiredRecord } from '../../../reconciler/index.ts';
import { describeServiceText, serviceRow } from '../../../cli/services.ts';
import { fields } from '../../../cli/describe.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const desired = (spec: Record<string, unknown>): DesiredRecord => ({
  key: 'Service.default.web', generation: 2, specHash: 'h', origin: { type: 'git', revision: 'abcdef0123456789' }, revision: 'abcdef0123456789',
  updatedAt: new Date(T0 - 120_000).toISOString(),
  object: { apiVersion: 'gitcell.io/v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec } as DesiredRecord['object'],
});
const record: ServiceRecord = {
  namespace: 'default', name: 'web', generation: 2, type: 'NodePort', headless: false, clusterIP: '10.96.3.4', selector: { app: 'web' },
  ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http', nodePort: 30080 }],
  endpoints: [{ taskId: 'default.web.0-abc', node: 'n1', ip: '10.88.1.2', ports: { http: 8080 } }],
  notReady: [{ taskId: 'default.web.1-abc', node: 'n2', reason: 'readiness probe failing' }],
  updatedAt: new Date(T0).toISOString(),
};
const spec = { selector: { app: 'web' }, type: 'NodePort', ports: [{ name: 'http', port: 8080, targetPort: 'http' }] };

test('get services: VIP, ports with the NodePort, ready endpoints; <pending> and <none> before the record', () => {
  assert.deepEqual(serviceRow(desired(spec), record, T0).cells, ['web', 'NodePort', '10.96.3.4', '8080:30080/TCP', '1 ready', '2m']);
  assert.deepEqual(serviceRow(desired(spec), undefined, T0).cells.slice(2, 5), ['<pending>', '8080/TCP', '<none>']);
  assert.equal(serviceRow(desired({ ...spec, clusterIP: 'None' }), { ...record, clusterIP: undefined as never, headless: true }, T0).cells[2], 'None');
});

test('describe service: addresses, DNS name, ports, endpoints with their tasks, the tasks that are not and why', () => {
  const text = describeServiceText(desired(spec), { ...record, message: 'selector app=web matches 2 tasks' }, fields);
  for (const want of [/IP:\s+10\.96\.3\.4/, /DNS:\s+web\.default\.svc\.cluster\.local/, /http\s+8080\/TCP\s+http\s+30080/, /Endpoints \(1 ready\):/, /default\.web\.0-abc\s+n1\s+10\.88\.1\.2\s+http=8080/, /default\.web\.1-abc\s+n2\s+readiness probe failing/, /Why: selector app=web matches 2 tasks/]) {
    assert.match(text, want);
  }
  const none = describeServiceText(desired({ selector: { app: 'nothing' }, ports: [{ name: 'http', port: 80 }] }), { ...record, endpoints: [], notReady: [], message: 'selector app=nothing matches no task in namespace default' }, fields);
  assert.match(none, /Endpoints: <none>/);
  assert.match(none, /Why: selector app=nothing matches no task in namespace default/);
});
