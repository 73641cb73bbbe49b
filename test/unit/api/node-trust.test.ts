import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundTaskStatus, NodeTrustCache, RESERVED_LABEL_PREFIX, statusMatchesKey, trustedNodeRecords, trustedTaskStatuses, type NodeRecord, type TaskStatus } from '../../../api/index.ts';
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

test('a task status counts only from the node the task is bound to; a task that does not exist keeps its newest report', () => {
  const st = (node: string, taskId: string, state: TaskStatus['state'], updatedAt: string) => ({ node, taskId, state, updatedAt }) as TaskStatus;
  const placement = (id: string) => ({ 'shop.web.0': 'node-1', 'shop.web.1': null } as Record<string, string | null>)[id];
  const { byTask, refused } = trustedTaskStatuses(
    [
      ['node-1.shop.web.0', st('node-1', 'shop.web.0', 'running', '2026-01-01T00:00:00Z')],
      // node-2 reports node-1's task as failed, later: refused, whatever its time
      ['node-2.shop.web.0', st('node-2', 'shop.web.0', 'failed', '2026-01-01T00:00:09Z')],
      // not bound yet: no status
      ['node-2.shop.web.1', st('node-2', 'shop.web.1', 'succeeded', '2026-01-01T00:00:09Z')],
      // a task the store does not know (after a rebuild): kept for adoption, the newest wins
      ['node-3.shop.old.0', st('node-3', 'shop.old.0', 'running', '2026-01-01T00:00:01Z')],
      ['node-2.shop.old.0', st('node-2', 'shop.old.0', 'running', '2026-01-01T00:00:02Z')],
      // a body naming another node than its key: dropped
      ['node-2.shop.web.2', st('node-1', 'shop.web.2', 'running', '2026-01-01T00:00:02Z')],
    ],
    placement,
  );
  assert.equal(byTask.get('shop.web.0')?.state, 'running');
  assert.equal(byTask.has('shop.web.1'), false);
  assert.equal(byTask.get('shop.old.0')?.node, 'node-2');
  assert.equal(byTask.has('shop.web.2'), false);
  assert.deepEqual(refused.map((r) => [r.key, r.boundTo]), [['node-2.shop.web.0', 'node-1']]);
  assert.match(refused[0]!.reason, /status of task shop\.web\.0 written by node node-2, but the task is bound to node-1: refused/);
});

test('boundTaskStatus reads the one status the bound node wrote, and agrees with trustedTaskStatuses', () => {
  const st = (node: string, taskId: string) => ({ node, taskId, state: 'running', updatedAt: '2026-01-01T00:00:00Z' }) as TaskStatus;
  const all = new Map<string, TaskStatus>([
    ['node-1.shop.web.0', st('node-1', 'shop.web.0')],
    ['node-2.shop.web.0', st('node-2', 'shop.web.0')], // another node's report: not the one
    ['node-2.shop.web.1', st('node-1', 'shop.web.1')], // body disagrees with its key: forged
  ]);
  const get = (k: string) => all.get(k);
  assert.equal(boundTaskStatus('shop.web.0', 'node-1', get)?.node, 'node-1');
  assert.equal(boundTaskStatus('shop.web.0', 'node-3', get), undefined);
  assert.equal(boundTaskStatus('shop.web.0', null, get), undefined);
  assert.equal(boundTaskStatus('shop.web.1', 'node-2', get), undefined);
  const placement = (id: string) => ({ 'shop.web.0': 'node-1', 'shop.web.1': 'node-2' } as Record<string, string>)[id]!;
  const { byTask } = trustedTaskStatuses(all, placement);
  for (const id of ['shop.web.0', 'shop.web.1']) assert.equal(boundTaskStatus(id, placement(id), get), byTask.get(id));
});

test('NodeTrustCache equals trustedNodeRecords after any sequence of record changes', () => {
  for (let seed = 1; seed <= 100; seed++) {
    let s = seed;
    const rand = (n: number) => ((s = (s * 1103515245 + 12345) % 2147483648) % n);
    const records = new Map<string, NodeRecord>();
    const cache = new NodeTrustCache();
    for (let step = 0; step < 100; step++) {
      const name = `node-${rand(4)}`;
      // New objects for every change, as informers hold them; a forged name now and then.
      if (rand(3) === 0) records.delete(name);
      else records.set(name, rec(rand(6) === 0 ? 'node-9' : name, rand(2) ? { [`${RESERVED_LABEL_PREFIX}x`]: 'y', zone: String(step) } : {}));
      assert.deepEqual(cache.trusted(records), trustedNodeRecords(records), `seed ${seed} step ${step}`);
    }
  }
});
