import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStatus, stateOf, parseCapacity, parseLabels, type LocalTask } from '../../../agent/index.ts';
import type { TaskSpec } from '../../../api/index.ts';

const spec = { id: 't1', templateHash: 'h1' } as unknown as TaskSpec;
const task = (o: Partial<LocalTask>): LocalTask => ({ taskId: 't1', templateHash: 'h1', spec, phase: 'running', attempt: 1, restarts: 0, ...o });

test('stateOf maps phases to reported states', () => {
  assert.equal(stateOf(task({ phase: 'starting' })), 'pending');
  assert.equal(stateOf(task({ phase: 'starting', attempt: 2 })), 'starting');
  assert.equal(stateOf(task({ phase: 'running' })), 'running');
  assert.equal(stateOf(task({ phase: 'backoff' })), 'backoff');
  assert.equal(stateOf(task({ phase: 'stopping' })), 'stopping');
  assert.equal(stateOf(task({ phase: 'stopped' })), 'stopped');
  assert.equal(stateOf(task({ phase: 'finished', exitCode: 0 })), 'succeeded');
  assert.equal(stateOf(task({ phase: 'finished', exitCode: 3 })), 'failed');
  assert.equal(stateOf(task({ phase: 'finished', exitCode: 0, state: 'failed' })), 'failed');
});

test('buildStatus: ready only while running; pid and usage only while running', () => {
  const s = buildStatus('n1', task({ pid: 42, ip: '10.0.0.2', startedAt: 'x' }), { ready: true, usage: { cpuMillis: 5, memoryBytes: 9 } }, 0);
  assert.equal(s.ready, true);
  assert.equal(s.pid, 42);
  assert.deepEqual(s.usage, { cpuMillis: 5, memoryBytes: 9 });
  assert.equal(s.node, 'n1');
  assert.equal(s.updatedAt, '1970-01-01T00:00:00.000Z');
  const b = buildStatus('n1', task({ phase: 'backoff', pid: 42, exitCode: 1, restarts: 2 }), { ready: true, usage: { cpuMillis: 5, memoryBytes: 9 } }, 0);
  assert.equal(b.ready, false);
  assert.equal(b.pid, undefined);
  assert.equal(b.usage, undefined);
  assert.equal(b.exitCode, 1);
  assert.equal(b.restarts, 2);
});

test('parseLabels and parseCapacity name the flag on bad input', () => {
  assert.deepEqual(parseLabels('zone=a, disk=ssd,example.com/x=1'), { zone: 'a', disk: 'ssd', 'example.com/x': '1' });
  assert.deepEqual(parseLabels(undefined), {});
  assert.throws(() => parseLabels('novalue'), /--labels: "novalue"/);
  assert.throws(() => parseLabels('a=b c'), /--labels/);
  const base = { cpuMillis: 4000, memoryBytes: 8 };
  assert.deepEqual(parseCapacity('cpu=2,memory=4Gi', base), { cpuMillis: 2000, memoryBytes: 4 * 1024 ** 3 });
  assert.deepEqual(parseCapacity('cpu=500m', base), { cpuMillis: 500, memoryBytes: 8 });
  assert.throws(() => parseCapacity('gpu=1', base), /--capacity: "gpu=1"/);
  assert.throws(() => parseCapacity('cpu=lots', base), /--capacity: "cpu=lots"/);
});
