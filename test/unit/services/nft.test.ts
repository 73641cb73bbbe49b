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

test('a delta adds the new endpoint chain, refills the service chain, and never names the endpoints that stay', () => {
  const prev = buildModel(cfg(['10.0.0.2', '10.0.0.3']));
  const next = buildModel(cfg(['10.0.0.2', '10.0.0.4']));
  const delta = renderDelta('gitcell', prev, next);
  const stay = [...prev.chains.entries()].find(([, c]) => c.rules.some((r) => r.includes('10.0.0.2:80')))![0];
  assert.ok(!delta.includes(`chain ip gitcell ${stay}\n`) && !delta.includes(`rule ip gitcell ${stay} `), delta);
  assert.match(delta, /dnat to 10\.0\.0\.4:80/);
  assert.match(delta, /numgen random mod 2 vmap/);
  assert.match(renderCleanup('gitcell', prev, next), /^delete chain ip gitcell sep-\w+\n$/);
});

test('the full table replaces any old one atomically and declares chains before rules refer to them', () => {
  const full = renderFull('gitcell', buildModel(cfg(['10.0.0.2'], { local: { subnet: '10.0.0.0/24', bridge: 'gc0' }, clusterCidr: '10.0.0.0/16' })));
  const lines = full.trim().split('\n');
  assert.deepEqual(lines.slice(0, 3), ['add table ip gitcell', 'delete table ip gitcell', 'add table ip gitcell']);
  const firstRule = lines.findIndex((l) => l.startsWith('add rule'));
  assert.ok(lines.slice(firstRule).every((l) => !l.startsWith('add chain')));
  assert.ok(lines.includes('add rule ip gitcell masquerading ip saddr 10.0.0.0/24 oifname "gc0" ct status dnat masquerade'));
});
