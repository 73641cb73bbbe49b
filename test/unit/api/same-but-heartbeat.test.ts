import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameButHeartbeat, type NodeRecord } from '../../../api/index.ts';

const base: NodeRecord = {
  name: 'n1', labels: { zone: 'a' }, taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }],
  capacity: { cpuMillis: 1000, memoryBytes: 1 << 30, pods: 110 }, allocatable: { cpuMillis: 1000, memoryBytes: 1 << 30, pods: 110 },
  addresses: ['10.0.0.1'], runtime: { runc: '1', kernel: '6', agentVersion: '0.1.0' }, images: ['a', 'b'], startedAt: 't0', heartbeatAt: 't1',
} as NodeRecord;

test('sameButHeartbeat: only the heartbeat time differs', () => {
  assert.ok(sameButHeartbeat(base, structuredClone({ ...base, heartbeatAt: 't2' })));
});

test('sameButHeartbeat: any other change counts, nested, added or removed', () => {
  const changed: NodeRecord[] = [
    { ...base, labels: { zone: 'b' } },
    { ...base, labels: { zone: 'a', extra: 'x' } },
    { ...base, taints: [] },
    { ...base, images: ['a'] },
    { ...base, images: ['b', 'a'] },
    { ...base, allocatable: { ...base.allocatable, cpuMillis: 999 } },
    { ...base, sealingKey: 'pem' },
    { ...base, startedAt: 't9', heartbeatAt: 't9' },
  ];
  for (const c of changed) assert.equal(sameButHeartbeat(base, c), false, JSON.stringify(c));
  const { images: _images, ...withoutImages } = base;
  assert.equal(sameButHeartbeat(base, withoutImages as NodeRecord), false);
});
