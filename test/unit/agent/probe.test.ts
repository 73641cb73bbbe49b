import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResolvedProbe } from '../../../api/index.ts';
import { dueProbes, isReady, newHealth, nextProbeAt, recordProbe, type Health, type ProbeKind } from '../../../agent/probe.ts';

/** probe builds a ResolvedProbe with Kubernetes' defaults, overridable per case. */
function probe(o: Partial<ResolvedProbe> = {}): ResolvedProbe {
  return { tcpSocket: { port: 80 }, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3, ...o };
}

/** feed records outcomes in order, one period apart, returning the final health and any kill. */
function feed(h: Health, kind: ProbeKind, outcomes: boolean[], start = 0) {
  let kill: ReturnType<typeof recordProbe>['kill'];
  let now = start;
  for (const ok of outcomes) {
    const v = recordProbe(h, kind, ok, now);
    h = v.health;
    kill ??= v.kill;
    now += 10_000;
  }
  return { h, kill };
}

test('initial results: liveness success, readiness not ready, startup gating', () => {
  const h = newHealth({ liveness: probe(), readiness: probe() }, 0);
  assert.equal(h.liveness!.result, 'success');
  assert.equal(h.readiness!.result, 'failure');
  assert.equal(isReady(h), false);
  assert.equal(h.started, true);
  const s = newHealth({ startup: probe(), liveness: probe() }, 0);
  assert.equal(s.started, false);
  assert.equal(s.startup!.result, 'unknown');
});

test('no probes: a running container is ready and nothing is ever due', () => {
  const h = newHealth({}, 0);
  assert.equal(isReady(h), true);
  assert.deepEqual(dueProbes(h, 1e12), []);
  assert.equal(nextProbeAt(h), undefined);
});

test('initialDelay: nothing due before it, due at it', () => {
  const h = newHealth({ readiness: probe({ initialDelaySeconds: 5 }) }, 1_000);
  assert.deepEqual(dueProbes(h, 5_999), []);
  assert.deepEqual(dueProbes(h, 6_000), ['readiness']); // 1 s start + 5 s delay
  assert.equal(nextProbeAt(h), 6_000);
});

test('period: the next probe is due one period after the last outcome', () => {
  const h0 = newHealth({ liveness: probe({ periodSeconds: 3 }) }, 0);
  const { health } = recordProbe(h0, 'liveness', true, 100);
  assert.deepEqual(dueProbes(health, 3_099), []);
  assert.deepEqual(dueProbes(health, 3_100), ['liveness']);
});

test('readiness: successThreshold successes in a row to become ready', () => {
  const h = newHealth({ readiness: probe({ successThreshold: 3 }) }, 0);
  assert.equal(isReady(feed(h, 'readiness', [true, true]).h), false);
  assert.equal(isReady(feed(h, 'readiness', [true, true, true]).h), true);
  // A failure breaks the run: 2 + fail + 2 is still not 3 in a row.
  assert.equal(isReady(feed(h, 'readiness', [true, true, false, true, true]).h), false);
});

test('readiness: failureThreshold failures in a row to become unready, never a kill', () => {
  const h = feed(newHealth({ readiness: probe({ failureThreshold: 2 }) }, 0), 'readiness', [true]).h;
  assert.equal(isReady(h), true);
  const one = feed(h, 'readiness', [false]);
  assert.equal(isReady(one.h), true, 'one failure below threshold keeps it ready');
  const two = feed(h, 'readiness', [false, false]);
  assert.equal(isReady(two.h), false);
  assert.equal(two.kill, undefined);
});

test('liveness: kill only after failureThreshold consecutive failures', () => {
  const h = newHealth({ liveness: probe({ failureThreshold: 3 }) }, 0);
  assert.equal(feed(h, 'liveness', [false, false]).kill, undefined);
  assert.equal(feed(h, 'liveness', [false, false, true, false, false]).kill, undefined);
  const dead = feed(h, 'liveness', [false, false, false]);
  assert.deepEqual(dead.kill, { kind: 'liveness', message: 'liveness probe failed 3 times in a row' });
});

test('startup gates liveness and readiness; its success starts them', () => {
  let h = newHealth({ startup: probe({ failureThreshold: 5 }), liveness: probe(), readiness: probe() }, 0);
  assert.deepEqual(dueProbes(h, 0), ['startup']);
  assert.equal(isReady(h), false);
  // Outcomes for gated probes are ignored.
  assert.deepEqual(recordProbe(h, 'liveness', false, 0).health, h);
  h = feed(h, 'startup', [false, false, true]).h;
  assert.equal(h.started, true);
  assert.deepEqual(dueProbes(h, 30_000), ['liveness', 'readiness']);
  assert.equal(isReady(h), false, 'readiness has not passed yet');
  h = recordProbe(h, 'readiness', true, 30_000).health;
  assert.equal(isReady(h), true);
  // The startup probe does not run again.
  assert.deepEqual(recordProbe(h, 'startup', false, 40_000).health, h);
});

test('startup failing failureThreshold times kills the container', () => {
  const h = newHealth({ startup: probe({ failureThreshold: 2 }), liveness: probe() }, 0);
  const r = feed(h, 'startup', [false, false]);
  assert.equal(r.kill?.kind, 'startup');
  assert.equal(r.h.started, false);
});

test('exhaustive: over every 4-outcome sequence and thresholds 1..3, the verdict is the last run reaching its threshold', () => {
  for (let st = 1; st <= 3; st++) {
    for (let ft = 1; ft <= 3; ft++) {
      for (let bits = 0; bits < 16; bits++) {
        const seq = [0, 1, 2, 3].map((i) => ((bits >> i) & 1) === 1);
        const { h, kill } = feed(newHealth({ readiness: probe({ successThreshold: st, failureThreshold: ft }), liveness: probe({ failureThreshold: ft }) }, 0), 'readiness', seq);
        // Expected: scan runs; the verdict changes whenever a run reaches its threshold.
        let expect: 'success' | 'failure' = 'failure';
        let run = 0;
        let last: boolean | undefined;
        for (const ok of seq) {
          run = ok === last ? run + 1 : 1;
          last = ok;
          if (run >= (ok ? st : ft)) expect = ok ? 'success' : 'failure';
        }
        assert.equal(h.readiness!.result, expect, `st=${st} ft=${ft} seq=${seq}`);
        assert.equal(kill, undefined);
      }
    }
  }
});
