import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce } from '../../../reconciler/source/index.ts';

/** gate is a run whose every start the test sees and whose end the test decides. */
function gate() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  let runs = 0;
  const run = () => new Promise<number>((resolve, reject) => { runs++; pending.push({ resolve, reject }); });
  return { run, runs: () => runs, finish: (v: number) => pending.shift()!.resolve(v), fail: (e: Error) => pending.shift()!.reject(e) };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test('a burst during a run joins it and costs exactly one more run', async () => {
  const g = gate();
  const c = coalesce(g.run);
  const first = c.call();
  const joined = [c.call(), c.call(), c.call()];
  assert.equal(g.runs(), 1, 'no overlap');
  assert.equal(c.inFlight(), first);
  g.finish(1);
  assert.deepEqual(await Promise.all([first, ...joined]), [1, 1, 1, 1]);
  await tick();
  assert.equal(g.runs(), 2, 'the queued run started after the first ended');
  g.finish(2);
  await tick();
  assert.equal(c.inFlight(), undefined);
  assert.equal(g.runs(), 2, 'and nothing more: 4 calls, 2 runs');
});

test('a refused rerun stays queued; a failed rerun is reported, not thrown', async () => {
  const g = gate();
  let allowed = false;
  const errors: unknown[] = [];
  const c = coalesce(g.run, { rerun: () => allowed, onRerunError: (e) => errors.push(e) });
  const first = c.call();
  void c.call();
  g.finish(1);
  await first;
  await tick();
  assert.equal(g.runs(), 1, 'rerun refused');
  allowed = true;
  const second = c.call();
  assert.equal(g.runs(), 2);
  g.finish(2);
  assert.equal(await second, 2);
  await tick();
  assert.equal(g.runs(), 3, 'the call refused earlier still gets its run');
  g.fail(new Error('boom'));
  await tick();
  assert.deepEqual(errors.map((e) => (e as Error).message), ['boom']);
});
