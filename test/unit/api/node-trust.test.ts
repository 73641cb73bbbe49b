import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESERVED_LABEL_PREFIX, statusMatchesKey, trustedNodeRecords, type NodeRecord } from '../../../api/index.ts';
import { snapshotNode } from '../../../scheduler/snapshot.ts';

const rec = (name: string, labels: Record<string, string> = {}): NodeRecord => ({
  name, labels, taints: [], capacity: { cpuMillis: 4000, memoryBytes: 8e9, pods: 100 }, allocatable: { cpuMillis: 4000, memoryBytes: 8e9, pods: 100 },
  addresses: [], runtime: { runc: '', kernel: '', agentVersion: '' }, images: [], startedAt: '', heartbeatAt: new Date().toISOString(),
});

test('a node record is its key: one naming another node is refused, the others keep their name from the key', () => {
  const { nodes, refused } = trustedNodeRecords([['node-1', rec('node-2')], ['node-2', rec('node-2')], ['node-3', rec('node-3')]]);
  assert.deepEqual([...nodes.keys()], ['node-2', 'node-3']);
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.key, 'node-1');
  assert.equal(refused[0]!.claimed, 'node-2');
  assert.match(refused[0]!.reason, /node-1.*node-2/);
});

test('reserved labels come only from the NodeSpec; operator taints always apply; allocatable is capped by the spec', () => {
  const reserved = `${RESERVED_LABEL_PREFIX}secrets`;
  const self = rec('node-1', { [reserved]: 'yes', zone: 'a' });
  const { nodes } = trustedNodeRecords([['node-1', self]]);
  assert.deepEqual(nodes.get('node-1')!.labels, { zone: 'a' });
  const now = Date.now();
  const bare = snapshotNode(self, undefined, now, 60_000);
  assert.deepEqual(bare.labels, { zone: 'a' });
  assert.equal(bare.allocatable.cpuMillis, 4000);
  const spec = { cordoned: false, draining: false, labels: { [reserved]: 'yes' }, taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' as const }], maxAllocatable: { cpuMillis: 1000 } };
  const given = snapshotNode(self, spec, now, 60_000);
  assert.deepEqual(given.labels, { zone: 'a', [reserved]: 'yes' });
  assert.deepEqual(given.taints.map((t) => t.key), ['dedicated']);
  assert.equal(given.allocatable.cpuMillis, 1000);
  assert.equal(given.allocatable.memoryBytes, 8e9);
});

test('a task status agrees with its key or is forged', () => {
  assert.equal(statusMatchesKey('node-1.shop.web.0', { node: 'node-1', taskId: 'shop.web.0' }), true);
  assert.equal(statusMatchesKey('node-1.shop.web.0', { node: 'node-2', taskId: 'shop.web.0' }), false);
  assert.equal(statusMatchesKey('node-1.shop.web.0', { node: 'node-1', taskId: 'shop.web.1' }), false);
});
