import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeRecord } from '../../../api/index.ts';
import { computeDaemonSet, nodeEligibility, tolerates, type WorkloadSpec, type WorkloadStatus } from '../../../reconciler/controllers/index.ts';
import { resolveTemplate } from '../../../reconciler/template/index.ts';
import { Cluster, T0, node, workload } from './builders.ts';
import { Rng } from './rng.ts';

function ds(image: string, over: Partial<WorkloadSpec> = {}, tpl: Parameters<typeof resolveTemplate>[0] = { image }): WorkloadSpec {
  const { template, templateHash } = resolveTemplate(tpl, { type: 'service' });
  return workload(image, { kind: 'DaemonSet', name: 'logs', template, templateHash, ...over });
}
function step(c: Cluster, d: WorkloadSpec, nodes: NodeRecord[], prev: WorkloadStatus | undefined, now = T0) {
  const r = computeDaemonSet({ ds: d, nodes, tasks: c.views(), prev }, { now });
  c.apply(r.create, r.delete);
  return r;
}
const readyAll = (c: Cluster) => {
  for (const t of c.views()) if (!t.status) c.set(t.spec.id, 'running', true, { node: t.spec.nodeName! });
};

test('eligibility: selector, taints and tolerations, heartbeat', () => {
  const tpl = { nodeSelector: { disk: 'ssd' }, tolerations: [] };
  assert.deepEqual(nodeEligibility(node('a', { labels: { disk: 'ssd' } }), tpl, T0), { eligible: true });
  assert.match((nodeEligibility(node('b'), tpl, T0) as { reason: string }).reason, /label disk=\(unset\), selector wants ssd/);
  const tainted = node('c', { labels: { disk: 'ssd' }, taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }] });
  assert.equal(nodeEligibility(tainted, tpl, T0).eligible, false);
  assert.equal(nodeEligibility(tainted, { ...tpl, tolerations: [{ key: 'gpu', operator: 'Exists' }] }, T0).eligible, true);
  assert.equal(nodeEligibility(tainted, { ...tpl, tolerations: [{ key: 'gpu', value: 'no' }] }, T0).eligible, false);
  assert.equal(nodeEligibility(node('d', { labels: { disk: 'ssd' }, taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }), tpl, T0).eligible, true);
  assert.equal(nodeEligibility(node('e', { labels: { disk: 'ssd' } }), tpl, T0 + 41_000).eligible, false, 'heartbeat 41 s old (grace 40 s)');
  assert.equal(tolerates({ operator: 'Exists' }, { key: 'any', effect: 'NoExecute' }), true);
  assert.equal(tolerates({ key: 'k', value: 'v', effect: 'NoSchedule' }, { key: 'k', value: 'v', effect: 'NoExecute' }), false);
});

test('daemonset: one pinned task per eligible node, following joins and leaves', () => {
  const d = ds('agent:1', {}, { image: 'agent:1', nodeSelector: { role: 'worker' } });
  const worker = (n: string) => node(n, { labels: { role: 'worker' } });
  const c = new Cluster();
  let r = step(c, d, [worker('n1'), worker('n2'), node('n3')], undefined);
  assert.deepEqual(r.create.map((t) => t.nodeName).sort(), ['n1', 'n2']);
  for (const t of r.create) assert.match(t.id, new RegExp(`^default\\.logs\\.${t.nodeName}-[0-9a-f]{10}$`));
  readyAll(c);
  r = step(c, d, [worker('n1'), worker('n2'), worker('n4')], r.status);
  assert.deepEqual(r.create.map((t) => t.nodeName), ['n4'], 'a joining node gets a task at once');
  assert.equal(r.delete.length, 0);
  readyAll(c);
  r = step(c, d, [worker('n1'), worker('n4')], r.status);
  assert.deepEqual(r.delete.map((id) => id.split('.')[2]!.split('-')[0]), ['n2'], 'a leaving node loses its task');
  r = step(c, d, [worker('n1'), node('n4', { heartbeatAt: new Date(T0 - 60_000).toISOString(), labels: { role: 'worker' } })], r.status);
  assert.equal(r.delete.length, 1, 'a node without heartbeat counts as gone');
});

for (const maxUnavailable of [1, 2, '50%']) {
  test(`daemonset rolling update never leaves more than maxUnavailable=${maxUnavailable} nodes without a ready task`, () => {
    const nodes = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => node(n));
    const limit = typeof maxUnavailable === 'number' ? maxUnavailable : 3;
    for (let seed = 1; seed <= 10; seed++) {
      const rng = new Rng(seed);
      const v1 = ds('agent:1', { strategy: { maxUnavailable } });
      const v2 = ds('agent:2', { strategy: { maxUnavailable }, generation: 2, revision: 'c2' });
      const c = new Cluster();
      let prev = step(c, v1, nodes, undefined).status;
      readyAll(c);
      prev = step(c, v1, nodes, prev).status;
      for (let i = 0; i < 100 && (i === 0 || prev.rollout?.phase !== 'Complete'); i++) {
        prev = step(c, v2, nodes, prev, T0 + 1000 * i).status;
        const readyNodes = new Set(c.views().filter((t) => t.status?.ready).map((t) => t.spec.nodeName));
        assert.ok(nodes.length - readyNodes.size <= limit, `seed ${seed} step ${i}: ${nodes.length - readyNodes.size} nodes unavailable`);
        assert.ok(nodes.every((n) => c.views().filter((t) => t.spec.nodeName === n.name).length <= 1), 'never two tasks on a node');
        for (const t of c.views()) if (!t.status && rng.chance(0.5)) c.set(t.spec.id, 'running', true, { node: t.spec.nodeName! });
      }
      assert.equal(prev.rollout?.phase, 'Complete', `seed ${seed}`);
      assert.ok(c.views().every((t) => t.spec.templateHash === v2.templateHash));
      assert.equal(c.tasks.size, nodes.length);
    }
  });
}

test('daemonset rolling update replaces unready old tasks first', () => {
  const nodes = [node('a'), node('b'), node('c')];
  const v1 = ds('agent:1');
  const v2 = ds('agent:2', { generation: 2 });
  const c = new Cluster();
  let prev = step(c, v1, nodes, undefined).status;
  readyAll(c);
  const onC = c.views().find((t) => t.spec.nodeName === 'c')!;
  c.set(onC.spec.id, 'backoff', false, { node: 'c', restarts: 1 });
  prev = step(c, v1, nodes, prev).status;
  const r = step(c, v2, nodes, prev);
  // c is already down (costs nothing), then one ready node within maxUnavailable=1... which is
  // already used up by c: only c is replaced.
  assert.deepEqual(r.create.map((t) => t.nodeName), ['c']);
});
