import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateServiceAddresses, type AddressRequest, type Addresses } from '../../../reconciler/controllers/index.ts';
import { ipv4InSubnet } from '../../../lib/index.ts';

const req = (key: string, extra: Partial<AddressRequest> = {}): AddressRequest => ({ key, headless: false, nodePorts: [], ...extra });
const opts = { serviceCidr: '10.96.0.0/12' };

test('a derived VIP depends only on the name: the same after a store rebuild, whatever else exists', () => {
  const alone = allocateServiceAddresses([req('default/web')], new Map(), opts).get('default/web')!;
  assert.ok(alone.clusterIP && ipv4InSubnet(alone.clusterIP, '10.96.0.0/12'));
  const many = allocateServiceAddresses(Array.from({ length: 200 }, (_, i) => req(`ns/s${i}`)).concat(req('default/web')), new Map(), opts);
  assert.equal(many.get('default/web')!.clusterIP, alone.clusterIP);
  assert.equal(new Set([...many.values()].map((a) => a.clusterIP)).size, 201, 'every VIP distinct');
});

test('a recorded VIP is kept even when a newcomer hashes onto it; the newcomer probes on', () => {
  // A /30 has two usable offsets (1, 2): any two services collide or not, and the record decides.
  const tiny = { serviceCidr: '10.96.0.0/30' };
  const first = allocateServiceAddresses([req('b/late')], new Map(), tiny).get('b/late')!.clusterIP!;
  const recorded = new Map<string, Addresses>([['z/old', { clusterIP: first, nodePorts: {} }]]);
  const out = allocateServiceAddresses([req('b/late'), req('z/old')], recorded, tiny);
  assert.equal(out.get('z/old')!.clusterIP, first);
  assert.notEqual(out.get('b/late')!.clusterIP, first);
  assert.deepEqual(out.get('b/late')!.problems, []);
  // A third has nowhere to go: a problem, not a crash or a shared address.
  const full = allocateServiceAddresses([req('b/late'), req('z/old'), req('c/third')], recorded, tiny);
  assert.equal(full.get('c/third')!.clusterIP, undefined);
  assert.match(full.get('c/third')!.problems[0]!, /service CIDR 10\.96\.0\.0\/30 is full/);
});

test('pins: honoured inside the CIDR, refused outside it or when another Service holds the address', () => {
  const recorded = new Map<string, Addresses>([['a/auto', { clusterIP: '10.96.0.20', nodePorts: { http: 30080 } }]]);
  const out = allocateServiceAddresses([
    req('a/auto', { nodePorts: [{ name: 'http', protocol: 'TCP' }] }),
    req('b/pin', { clusterIP: '10.96.0.10', nodePorts: [{ name: 'http', protocol: 'TCP', nodePort: 30081 }] }),
    req('c/taken', { clusterIP: '10.96.0.20', nodePorts: [{ name: 'http', protocol: 'TCP', nodePort: 30080 }] }),
    req('d/outside', { clusterIP: '192.168.0.1' }),
    req('e/broadcast', { clusterIP: '10.111.255.255' }),
    req('f/udp', { nodePorts: [{ name: 'dns', protocol: 'UDP', nodePort: 30080 }] }),
    req('g/headless', { headless: true }),
  ], recorded, opts);
  assert.deepEqual(out.get('a/auto'), { clusterIP: '10.96.0.20', nodePorts: { http: 30080 }, problems: [] });
  assert.deepEqual(out.get('b/pin'), { clusterIP: '10.96.0.10', nodePorts: { http: 30081 }, problems: [] });
  assert.deepEqual(out.get('c/taken')!.problems, ['clusterIP 10.96.0.20 is already in use by Service a/auto', 'nodePort 30080/TCP of port http is already in use by Service a/auto']);
  assert.match(out.get('d/outside')!.problems[0]!, /not a usable address of the service CIDR/);
  assert.match(out.get('e/broadcast')!.problems[0]!, /not a usable address/);
  assert.deepEqual(out.get('f/udp')!.nodePorts, { dns: 30080 }, 'UDP 30080 is another port than TCP 30080');
  assert.deepEqual(out.get('g/headless'), { nodePorts: {}, problems: [] });
});

test('derived NodePorts stay in range, distinct, and kept across calls', () => {
  const reqs = Array.from({ length: 50 }, (_, i) => req(`ns/s${i}`, { nodePorts: [{ name: 'http', protocol: 'TCP' }, { name: 'admin', protocol: 'TCP' }] }));
  const out = allocateServiceAddresses(reqs, new Map(), opts);
  const ports = [...out.values()].flatMap((a) => Object.values(a.nodePorts));
  assert.equal(ports.length, 100);
  assert.equal(new Set(ports).size, 100);
  assert.ok(ports.every((p) => p >= 30000 && p <= 32767));
  const again = allocateServiceAddresses(reqs, new Map([...out].map(([k, a]) => [k, a])), opts);
  assert.deepEqual(again, out);
});
