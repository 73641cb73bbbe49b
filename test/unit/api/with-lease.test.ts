import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeIsLive, withLease, type NodeRecord } from '../../../api/index.ts';

const at = (iso: string) => Date.parse(iso);
const node = { name: 'n1', heartbeatAt: '2026-01-01T00:00:10.000Z' } as NodeRecord;

test('withLease: a newer lease renewal is the node\'s heartbeat time; the record is not changed', () => {
  const joined = withLease(node, at('2026-01-01T00:00:40.000Z'));
  assert.equal(joined.heartbeatAt, '2026-01-01T00:00:40.000Z');
  assert.equal(joined.name, 'n1');
  assert.equal(node.heartbeatAt, '2026-01-01T00:00:10.000Z');
  assert.equal(nodeIsLive(joined, at('2026-01-01T00:00:45.000Z'), 10_000), true);
  assert.equal(nodeIsLive(node, at('2026-01-01T00:00:45.000Z'), 10_000), false);
});

test('withLease: an older lease, no lease or a bad time leave the record as it is (agents from before the leases)', () => {
  assert.equal(withLease(node, at('2026-01-01T00:00:05.000Z')), node);
  assert.equal(withLease(node, undefined), node);
  assert.equal(withLease(node, Number.NaN), node);
  // A record whose own time is unreadable takes the lease's.
  assert.equal(withLease({ ...node, heartbeatAt: 'garbage' }, at('2026-01-01T00:00:01.000Z')).heartbeatAt, '2026-01-01T00:00:01.000Z');
});
