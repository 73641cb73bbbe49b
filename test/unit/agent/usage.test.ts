import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usageMoved } from '../../../agent/cgroup.ts';

const MiB = 1 << 20;

test('usageMoved: the first sample is reported, then only a move of 10 % and at least 10 millicores or 1 MiB', () => {
  assert.equal(usageMoved(undefined, { cpuMillis: 0, memoryBytes: 0 }), true);
  const base = { cpuMillis: 100, memoryBytes: 50 * MiB };
  assert.equal(usageMoved(base, { cpuMillis: 105, memoryBytes: 50 * MiB + 100 }), false, 'jitter');
  assert.equal(usageMoved(base, { cpuMillis: 115, memoryBytes: 50 * MiB }), true, 'CPU up 15 %');
  assert.equal(usageMoved(base, { cpuMillis: 100, memoryBytes: 40 * MiB }), true, 'memory down 20 %');
  assert.equal(usageMoved({ cpuMillis: 0, memoryBytes: MiB }, { cpuMillis: 5, memoryBytes: MiB }), false, 'under the 10 millicore floor');
  assert.equal(usageMoved({ cpuMillis: 0, memoryBytes: MiB }, { cpuMillis: 12, memoryBytes: MiB }), true, 'an idle task that got busy');
  assert.equal(usageMoved({ cpuMillis: 0, memoryBytes: 100_000 }, { cpuMillis: 0, memoryBytes: 900_000 }), false, 'under the 1 MiB floor');
});
