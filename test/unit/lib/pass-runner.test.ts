import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { PassRunner, sleep } from '../../../lib/index.ts';

/** controller is the test's AbortController, aborted when the test ends: a failed assertion must not leave a ticking runner keeping the process alive. */
function controller(t: TestContext): AbortController {
  const ac = new AbortController();
  t.after(() => ac.abort());
  return ac;
}

/** until polls `cond` every 2 ms until it holds, failing after `ms`. */
async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await sleep(2);
  }
}

/** gate is a promise a test resolves by hand (a pass that runs until the test lets it end). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

test('asks within the debounce gather into one pass', async (t) => {
  const ac = controller(t);
  let runs = 0;
  const r = new PassRunner({ signal: ac.signal, debounceMs: 20, pass: async () => void runs++ });
  for (let i = 0; i < 10; i++) r.request();
  await until(() => r.passes === 1);
  await sleep(40);
  assert.equal(runs, 1);
  await r.stop();
});

test('asks during a pass make exactly one more pass after it, never two at once', async (t) => {
  const ac = controller(t);
  let running = 0;
  let overlap = false;
  const gates = [gate(), gate()];
  let n = 0;
  const r = new PassRunner({
    signal: ac.signal,
    debounceMs: 1,
    pass: async () => {
      running++;
      overlap ||= running > 1;
      await gates[n++]?.promise;
      running--;
    },
  });
  r.request();
  await until(() => n === 1);
  r.request();
  r.request();
  r.request();
  gates[0]!.open();
  await until(() => n === 2);
  gates[1]!.open();
  await until(() => r.passes === 2);
  await sleep(30);
  assert.equal(r.passes, 2, 'three asks during the first pass made one more pass');
  assert.equal(overlap, false);
  await r.stop();
});

test('no pass before ready; the first ask after it runs the remembered one', async (t) => {
  const ac = controller(t);
  let ready = false;
  const r = new PassRunner({ signal: ac.signal, debounceMs: 1, ready: () => ready, pass: async () => {} });
  r.request();
  await sleep(20);
  assert.equal(r.passes, 0);
  ready = true;
  r.request();
  await until(() => r.passes === 1);
  await r.stop();
});

test('a failed pass is retried after a growing backoff, and a success resets it', async (t) => {
  const ac = controller(t);
  const times: number[] = [];
  const failures: number[] = [];
  const r = new PassRunner({
    signal: ac.signal,
    debounceMs: 1,
    backoff: { initialMs: 20, maxMs: 1000 },
    onError: (_err, n) => failures.push(n),
    pass: async () => {
      times.push(Date.now());
      if (times.length <= 3) throw new Error('store unavailable');
    },
  });
  r.request();
  await until(() => r.passes === 1);
  assert.deepEqual(failures, [1, 2, 3]);
  assert.equal(r.failures, 0, 'a success resets the count');
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  // backoffDelay: 20·2^n for failure n (1-based): 40, 80, 160 ms (timers never fire early)
  assert.ok(gaps[0]! >= 39 && gaps[1]! >= 79 && gaps[2]! >= 159, `gaps ${gaps.join(',')}`);
  await r.stop();
});

test('a pass asking for itself (a lost race) runs once more', async (t) => {
  const ac = controller(t);
  let runs = 0;
  const r: PassRunner = new PassRunner({
    signal: ac.signal,
    debounceMs: 1,
    pass: async () => {
      if (++runs === 1) r.request();
    },
  });
  r.request();
  await until(() => r.passes === 2);
  await sleep(20);
  assert.equal(runs, 2);
  await r.stop();
});

test('holdFor (from a pass) delays the next one; tickMs asks periodically; abort stops everything', async (t) => {
  const ac = controller(t);
  const times: number[] = [];
  let heldAt = 0;
  const r: PassRunner = new PassRunner({
    signal: ac.signal,
    debounceMs: 1,
    tickMs: 10,
    pass: async () => {
      times.push(Date.now());
      if (times.length === 2) {
        r.holdFor(100);
        heldAt = Date.now();
      }
    },
  });
  await until(() => times.length >= 3);
  assert.ok(times[2]! - heldAt >= 99, `the tick waited for the hold (${times[2]! - heldAt} ms)`);
  ac.abort();
  const after = times.length;
  await r.stop();
  await sleep(40);
  assert.equal(times.length, after, 'no pass after abort');
});

test('stop waits for the running pass', async (t) => {
  const ac = controller(t);
  const g = gate();
  let ended = false;
  let started = false;
  const r = new PassRunner({
    signal: ac.signal,
    debounceMs: 1,
    pass: async () => {
      started = true;
      await g.promise;
      ended = true;
    },
  });
  r.request();
  await until(() => started);
  const stopped = r.stop();
  setTimeout(g.open, 20);
  await stopped;
  assert.equal(ended, true);
});
