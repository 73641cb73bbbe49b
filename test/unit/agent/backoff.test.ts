import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideExit, defaultBackoffOptions, nextBackoff, shouldRestart } from '../../../agent/backoff.ts';

test('restart policy table', () => {
  const cases: [Parameters<typeof shouldRestart>[0], number, boolean][] = [
    ['Always', 0, true], ['Always', 1, true], ['Always', 137, true],
    ['OnFailure', 0, false], ['OnFailure', 1, true], ['OnFailure', 137, true],
    ['Never', 0, false], ['Never', 1, false], ['Never', 137, false],
  ];
  for (const [policy, code, want] of cases) assert.equal(shouldRestart(policy, code), want, `${policy} exit ${code}`);
});

test('defaults are kubelet\'s: 10 s doubling to 5 min, reset after 10 min', () => {
  assert.deepEqual(defaultBackoffOptions(), { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 });
  assert.equal(defaultBackoffOptions({ initialMs: 5 }).initialMs, 5);
});

test('delays double from 10 s and cap at 5 min: 10, 20, 40, 80, 160, 300, 300', () => {
  const o = defaultBackoffOptions();
  const seen: number[] = [];
  let prev: number | undefined;
  for (let i = 0; i < 7; i++) {
    prev = nextBackoff(o, prev, 1_000);
    seen.push(prev / 1000);
  }
  assert.deepEqual(seen, [10, 20, 40, 80, 160, 300, 300]);
});

test('clean running for resetAfter resets the delay; just under does not', () => {
  const o = defaultBackoffOptions();
  assert.equal(nextBackoff(o, 160_000, 600_000), 10_000);
  assert.equal(nextBackoff(o, 160_000, 599_999), 300_000);
});

test('decideExit: restart with backoff or finish as succeeded/failed', () => {
  const o = defaultBackoffOptions({ initialMs: 100, maxMs: 400, resetAfterMs: 1000 });
  assert.deepEqual(decideExit('Always', 0, o, undefined, 5), { action: 'restart', delayMs: 100, state: 'backoff' });
  assert.deepEqual(decideExit('OnFailure', 3, o, 200, 5), { action: 'restart', delayMs: 400, state: 'backoff' });
  assert.deepEqual(decideExit('OnFailure', 0, o, 200, 5), { action: 'finish', state: 'succeeded' });
  assert.deepEqual(decideExit('Never', 2, o, undefined, 5), { action: 'finish', state: 'failed' });
  assert.deepEqual(decideExit('Never', 0, o, undefined, 5), { action: 'finish', state: 'succeeded' });
});
