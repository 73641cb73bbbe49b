import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter, mapLimit } from '../../../lib/index.ts';

test('mapLimit never runs more than the limit at once and keeps order', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
    running++; peak = Math.max(peak, running);
    await new Promise((r) => setImmediate(r));
    running--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(peak, 2);
  await assert.rejects(mapLimit([1, 2], 2, async (n) => { if (n === 2) throw new Error('boom'); return n; }), /boom/);
});
test('mapLimit waits for the running calls before rejecting, and starts nothing after a failure', async () => {
  const started: number[] = [];
  let finished = 0;
  await assert.rejects(
    mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('two');
      await new Promise((r) => setImmediate(r));
      finished++;
      return n;
    }),
    /two/,
  );
  // 1 and 2 start; 2 fails at once, so no further item starts; 1 is awaited before the rejection.
  assert.deepEqual(started, [1, 2]);
  assert.equal(finished, 1);
  assert.deepEqual(await mapLimit([], 4, async (n: number) => n), [], 'no items: no calls');
});

test('Limiter runs at most `limit` jobs at once, first come first served, and a failure frees its slot', async () => {
  const limiter = new Limiter(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const job = (n: number) => limiter.run(async () => {
    running++; peak = Math.max(peak, running);
    order.push(n);
    await new Promise((r) => setImmediate(r));
    running--;
    if (n === 1) throw new Error('one');
    return n;
  });
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map(job));
  assert.equal(peak, 2);
  assert.deepEqual(order, [1, 2, 3, 4, 5]);
  assert.equal(results[0]!.status, 'rejected');
  assert.deepEqual(results.slice(1).map((r) => (r.status === 'fulfilled' ? r.value : undefined)), [2, 3, 4, 5]);
  assert.equal(limiter.pending, 0);
});
