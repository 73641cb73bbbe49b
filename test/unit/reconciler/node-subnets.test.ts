import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateNodeSubnets, type SubnetRequest } from '../../../reconciler/controllers/index.ts';
import { ipv4InSubnet, parseIpv4Cidr } from '../../../lib/index.ts';

const opts = { clusterCidr: '10.128.0.0/9' };
const sub = (out: Map<string, { subnet?: string }>, node: string) => out.get(node)!.subnet;

function disjoint(cidrs: string[]): boolean {
  const r = cidrs.map((c) => {
    const { network, prefix } = parseIpv4Cidr(c);
    return [network, network + 2 ** (32 - prefix) - 1] as const;
  }).sort((a, b) => a[0] - b[0]);
  return r.every((x, i) => i === 0 || x[0] > r[i - 1]![1]);
}

test('a derived subnet depends only on the node name: the same after a store rebuild, whatever else exists', () => {
  const alone = sub(allocateNodeSubnets([{ node: 'a' }], new Map(), opts), 'a')!;
  assert.match(alone, /\/24$/);
  assert.ok(ipv4InSubnet(alone.split('/')[0]!, '10.128.0.0/9'));
  const many = allocateNodeSubnets([...Array.from({ length: 500 }, (_, i) => ({ node: `n${i}` })), { node: 'a' }], new Map(), opts);
  assert.equal(sub(many, 'a'), alone);
  const all = [...many.values()].map((x) => x.subnet!);
  assert.equal(all.length, 501);
  assert.ok(disjoint(all), 'no two nodes overlap');
});

test('recorded subnets are kept even when a newcomer hashes onto one; a full CIDR is a problem, not a shared range', () => {
  const tiny = { clusterCidr: '10.200.0.0/23', nodePrefix: 24 }; // two slots
  const first = sub(allocateNodeSubnets([{ node: 'late' }], new Map(), tiny), 'late')!;
  const out = allocateNodeSubnets([{ node: 'late' }, { node: 'old' }], new Map([['old', first]]), tiny);
  assert.equal(sub(out, 'old'), first);
  assert.notEqual(sub(out, 'late'), first);
  const full = allocateNodeSubnets([{ node: 'late' }, { node: 'old' }, { node: 'third' }], new Map([['old', first]]), tiny);
  assert.equal(sub(full, 'third'), undefined);
  assert.match(full.get('third')!.problem!, /cluster CIDR 10\.200\.0\.0\/23 has no free \/24/);
});

test("a requested subnet is given when free (a static --subnet, or the one used before a rebuild), refused when it overlaps another node's", () => {
  const reqs: SubnetRequest[] = [
    { node: 'a' },
    { node: 'b', requested: '10.150.3.0/24' }, // outside the cluster CIDR: fine while nobody holds it
    { node: 'thief', requested: '10.150.3.128/25' }, // inside b's
    { node: 'greedy', requested: '10.0.0.0/8' }, // covers everything b holds
    { node: 'bad', requested: '10.150.3.1/24' },
  ];
  const out = allocateNodeSubnets(reqs, new Map(), opts);
  assert.equal(sub(out, 'b'), '10.150.3.0/24');
  for (const n of ['thief', 'greedy']) {
    assert.equal(sub(out, n), undefined, n);
    assert.match(out.get(n)!.problem!, /overlaps node b's 10\.150\.3\.0\/24; refused/);
  }
  assert.match(out.get('bad')!.problem!, /not an IPv4 CIDR/);
  assert.ok(sub(out, 'a'));
  // The recorded holder wins over a newcomer's request, whatever the names' order.
  const held = allocateNodeSubnets([{ node: 'z' }, { node: 'aa', requested: '10.1.0.0/24' }], new Map([['z', '10.1.0.0/24']]), opts);
  assert.equal(sub(held, 'z'), '10.1.0.0/24');
  assert.equal(sub(held, 'aa'), undefined);
  // A node moving to a new requested subnet gets it and releases the recorded one.
  const moved = allocateNodeSubnets([{ node: 'z', requested: '10.2.0.0/24' }], new Map([['z', '10.1.0.0/24']]), opts);
  assert.equal(sub(moved, 'z'), '10.2.0.0/24');
});

test('a node prefix outside the cluster CIDR is refused', () => {
  assert.throws(() => allocateNodeSubnets([], new Map(), { clusterCidr: '10.0.0.0/16', nodePrefix: 12 }), /between the cluster CIDR's \/16 and \/30/);
});
