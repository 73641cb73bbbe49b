import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advance, ViewClock } from '../../../store/view-clock.ts';

/** FakeView is an informer's revision that the test moves by hand; caughtUp waits for it like the real one. */
class FakeView {
  revision = 0;
  private waiters: (() => void)[] = [];
  reach(revision: number): void {
    this.revision = revision;
    for (const w of this.waiters.splice(0)) w();
  }
  caughtUp(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(this.revision >= revision);
      });
    });
  }
}

test('advance folds the samples the informer reached and keeps the others', () => {
  const samples = [{ revision: 10, at: 100 }, { revision: 20, at: 200 }, { revision: 30, at: 300 }];
  assert.deepEqual(advance(samples, 5, undefined), { asOf: undefined, rest: samples });
  assert.deepEqual(advance(samples, 20, undefined), { asOf: 200, rest: [{ revision: 30, at: 300 }] });
  assert.deepEqual(advance(samples, 99, 50), { asOf: 300, rest: [] });
  assert.equal(advance([], 99, 250).asOf, 250, 'no new sample: the last known instant stays');
});

test('a caught-up copy is complete as of the instant its revision was sampled', async () => {
  const view = new FakeView();
  let now = 1000;
  let last = 7;
  const clock = new ViewClock(view, { lastRevision: async () => last }, () => now);
  view.reach(7);
  assert.equal(await clock.sync(50), 1000);
  now = 2000;
  last = 9;
  setTimeout(() => view.reach(9), 5); // the copy catches up within the wait
  assert.equal(await clock.sync(1000), 2000);
});

test('a lagging copy is judged as of the last instant it is known complete, never as of now', async () => {
  const view = new FakeView();
  let now = 1000;
  let last = 10;
  const clock = new ViewClock(view, { lastRevision: async () => last }, () => now);
  assert.equal(await clock.sync(0), undefined, 'not known complete as of any instant yet');
  now = 20_000;
  last = 500;
  view.reach(10); // the copy reaches the first sample only
  assert.equal(await clock.sync(0), 1000, '19 s behind: liveness is judged as of 1000, not 20000');
  now = 21_000;
  last = 600;
  view.reach(550); // past the second sample (500 at 20000), not the third (600 at 21000)
  assert.equal(await clock.sync(0), 20_000);
  view.reach(600);
  assert.equal(clock.asOf(), 21_000);
});

test('a failed revision read fails sync and leaves the clock as it was', async () => {
  const view = new FakeView();
  view.reach(3);
  let fail = false;
  let now = 100;
  const clock = new ViewClock(view, { lastRevision: async () => { if (fail) throw new Error('store unavailable'); return 3; } }, () => now);
  assert.equal(await clock.sync(10), 100);
  fail = true;
  now = 200;
  await assert.rejects(clock.sync(10), /store unavailable/);
  assert.equal(clock.asOf(), 100);
});
