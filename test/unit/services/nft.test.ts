import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, renderCleanup, renderDelta, renderFull, type LbConfig } from '../../../runtime/services/index.ts';

const cfg = (eps: string[], extra: Partial<LbConfig> = {}): LbConfig => ({
  table: 'gitcell',
  services: [{ id: 'default/web', vip: '10.96.0.10', ports: [{ name: 'http', protocol: 'TCP', port: 8080, endpoints: eps.map((ip) => ({ ip, port: 80 })) }] }],
  ...extra,
});

test('the same configuration twice is no change at all', () => {
  assert.equal(renderDelta('gitcell', buildModel(cfg(['10.0.0.2', '10.0.0.3'])), buildModel(cfg(['10.0.0.3', '10.0.0.2']))), '');
});

test('an endpoint replaced is one map element, and no rule or chain is touched', () => {
  const delta = renderDelta('gitcell', buildModel(cfg(['10.0.0.2', '10.0.0.3'])), buildModel(cfg(['10.0.0.2', '10.0.0.4'])));
  assert.equal(delta, [
    'delete element ip gitcell endpoints { 10.96.0.10 . tcp . 8080 . 1 }',
    'add element ip gitcell endpoints { 10.96.0.10 . tcp . 8080 . 1 : 10.0.0.4 . 80 }',
  ].join('\n') + '\n');
});

test('an endpoint leaving sends the VIP to the chain of the smaller count, which is already there', () => {
  const prev = buildModel(cfg(['10.0.0.2', '10.0.0.3']));
  const next = buildModel(cfg(['10.0.0.2']));
  assert.equal(renderDelta('gitcell', prev, next), [
    'delete element ip gitcell service-ips { 10.96.0.10 . tcp . 8080 }',
    'add element ip gitcell service-ips { 10.96.0.10 . tcp . 8080 : goto lb-1 }',
    'delete element ip gitcell endpoints { 10.96.0.10 . tcp . 8080 . 1 }',
  ].join('\n') + '\n');
  assert.equal(renderCleanup('gitcell', prev, next), 'delete chain ip gitcell lb-2\n', 'only when no service has 2 endpoints any more');
  assert.match(renderFull('gitcell', prev), /add rule ip gitcell lb-1 dnat ip to ip daddr \. meta l4proto \. th dport \. numgen random mod 1 map @endpoints/);
});

test('1,000 services of 10 endpoints are 20 chains and one element list per map', () => {
  const services = Array.from({ length: 1000 }, (_, s) => ({
    id: `b/s${s}`, vip: `10.96.${s >> 8}.${s & 255}`,
    ports: [{ name: 'http', protocol: 'TCP' as const, port: 80, endpoints: Array.from({ length: 10 }, (_, e) => ({ ip: `10.1.${s & 255}.${10 + e}`, port: 8080 })) }],
  }));
  const model = buildModel({ table: 'gitcell', services });
  assert.equal(model.chains.size, 10 + 10, "10 fixed chains and lb-1..lb-10");
  assert.equal(model.maps.get('endpoints')!.size, 10_000);
  assert.ok(renderFull('gitcell', model).split('\n').length < 60);
});

test('the full table replaces any old one atomically and declares chains before rules refer to them', () => {
  const full = renderFull('gitcell', buildModel(cfg(['10.0.0.2'], { local: { subnet: '10.0.0.0/24', bridge: 'gc0' }, clusterCidr: '10.0.0.0/16' })));
  const lines = full.trim().split('\n');
  assert.deepEqual(lines.slice(0, 3), ['add table ip gitcell', 'delete table ip gitcell', 'add table ip gitcell']);
  const firstRule = lines.findIndex((l) => l.startsWith('add rule'));
  assert.ok(lines.slice(firstRule).every((l) => !l.startsWith('add chain')));
  assert.ok(lines.includes('add rule ip gitcell masquerading ip saddr 10.0.0.0/24 oifname "gc0" ct status dnat masquerade'));
  assert.ok(lines.includes('add rule ip gitcell lb-1 ip saddr != 10.0.0.0/16 jump mark-for-masquerade'));
  assert.ok(lines.includes('add rule ip gitcell filter-forward ip saddr 10.0.0.0/24 ip daddr != 10.0.0.0/16 udp dport 4789 drop'), 'tasks never speak VXLAN to the underlay');
});
