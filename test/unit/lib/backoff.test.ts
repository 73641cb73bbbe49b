import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDelay, nextBackoffDelay, sleep } from '../../../lib/index.ts';

test('backoffDelay doubles from initialMs and caps at maxMs; factor is a parameter', () => {
  const o = { initialMs: 50, maxMs: 2000 };
  // 50·2^n: 50, 100, 200, 400, 800, 1600, then the 2000 cap.
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(o, n)), [50, 100, 200, 400, 800, 1600, 2000, 2000]);
  assert.deepEqual([0, 1, 2].map((n) => backoffDelay({ initialMs: 10, maxMs: 1000, factor: 3 }, n)), [10, 30, 90]);
  assert.equal(backoffDelay(o, 10_000), 2000, 'a huge attempt count never overflows');
  assert.equal(backoffDelay(o, -1), 50);
});

test('full jitter stays within [0, exact delay)', () => {
  for (let n = 0; n < 200; n++) {
    const d = backoffDelay({ initialMs: 1, maxMs: 50, jitter: 'full' }, n % 10);
    assert.ok(d >= 0 && d < Math.min(2 ** (n % 10), 50), `delay ${d} for attempt ${n % 10}`);
  }
});

test('nextBackoffDelay grows a stored delay: initial first, never below initial nor above max', () => {
  const o = { initialMs: 1000, maxMs: 30_000 };
  assert.equal(nextBackoffDelay(o, undefined), 1000);
  assert.equal(nextBackoffDelay(o, 500), 1000);
  assert.equal(nextBackoffDelay(o, 1000), 2000);
  assert.equal(nextBackoffDelay(o, 16_000), 30_000);
  assert.equal(nextBackoffDelay({ initialMs: 10, maxMs: 5 }, undefined), 5, 'max wins over initial');
});

test('Backoff counts failures and reset starts again from initialMs', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 5000 });
  assert.deepEqual([b.next(), b.next(), b.next()], [100, 200, 400]);
  assert.equal(b.failures, 3);
  b.reset();
  assert.equal(b.next(), 100);
});

test('sleep ends early when its signal aborts, and at once when already aborted', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const slept = sleep(60_000, ac.signal);
  ac.abort();
  await slept;
  await sleep(60_000, ac.signal);
  assert.ok(Date.now() - t0 < 30_000);
});
