import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultLivenessPolicy, FALLBACK_LIVENESS, heartbeatPeriodMs, livenessGraceMs, livenessOf, nextLiveness, NODE_GRACE_MS, NODE_LEASE_RENEW_MS, type LivenessRecord,
} from '../../../api/index.ts';

const policy = defaultLivenessPolicy();

test('heartbeatPeriodMs: max(10 s, nodes / 50 per s), rounded up to 5 s', () => {
  const cases: [nodes: number, ms: number][] = [
    [0, 10_000], // nothing to size: the floor
    [3, 10_000], // 3 / 50 = 0.06 s
    [500, 10_000], // 500 / 50 = 10 s exactly
    [501, 15_000], // 10.02 s, up to the next 5 s
    [1000, 20_000], // the bench's --quick: 1,000 / 50 = 20 s, 50 renewals/s
    [3000, 60_000],
    [10_000, 200_000], // the full bench: 200 s, still 50 renewals/s
  ];
  for (const [nodes, ms] of cases) assert.equal(heartbeatPeriodMs(nodes, policy), ms, `${nodes} nodes`);
});

test('heartbeatPeriodMs: the policy\'s floor and budget (tests publish 5 s at 1,000 nodes with 200/s)', () => {
  assert.equal(heartbeatPeriodMs(1000, { minPeriodMs: 5000, renewalsPerS: 200 }), 5000);
  assert.equal(heartbeatPeriodMs(3, { minPeriodMs: 500, renewalsPerS: 50 }), 500);
  // A budget that is no number of renewals falls back to the default 50/s, never a division by zero.
  assert.equal(heartbeatPeriodMs(1000, { minPeriodMs: 10_000, renewalsPerS: 0 }), 20_000);
});

test('livenessGraceMs: two periods and a shortest one, at least four shortest (NODE_GRACE_MS at the 10 s floor)', () => {
  assert.equal(livenessGraceMs(NODE_LEASE_RENEW_MS, policy), NODE_GRACE_MS); // max(40, 2 x 10 + 10 = 30)
  assert.equal(livenessGraceMs(20_000, policy), 50_000); // 2 x 20 + 10: a lost renewal and 10 s late
  assert.equal(livenessGraceMs(200_000, policy), 410_000);
  assert.equal(livenessGraceMs(5000, { minPeriodMs: 5000 }), 20_000); // the scale test's floor
});

test('livenessOf: a sane record, else the fallback 10 s / 40 s', () => {
  assert.deepEqual(livenessOf({ periodMs: 20_000, graceMs: 50_000, nodes: 1000, changedAt: 0 }), { periodMs: 20_000, graceMs: 50_000 });
  assert.equal(livenessOf(undefined), FALLBACK_LIVENESS);
  assert.equal(livenessOf({ periodMs: -1, graceMs: 80_000 }), FALLBACK_LIVENESS);
  assert.equal(livenessOf({ periodMs: 20_000 }), FALLBACK_LIVENESS);
  assert.equal(livenessOf({ periodMs: 20_000, graceMs: 10_000 }), FALLBACK_LIVENESS, 'a grace shorter than a period would lapse every node');
  assert.equal(livenessOf({ periodMs: Number.NaN, graceMs: 80_000 }), FALLBACK_LIVENESS);
});

test('nextLiveness: the first record, then nothing while the size stands', () => {
  const first = nextLiveness(undefined, 1000, 1_000, policy);
  assert.deepEqual(first, { periodMs: 20_000, graceMs: 50_000, nodes: 1000, changedAt: 1_000 });
  assert.equal(nextLiveness(first, 1000, 500_000, policy), undefined);
  assert.equal(nextLiveness(first, 999, 2_000, policy), undefined, 'a node leaving does not shrink it');
});

test('nextLiveness: grows as soon as the nodes outgrow the budget, grace with it', () => {
  const cur: LivenessRecord = { periodMs: 20_000, graceMs: 50_000, nodes: 1000, changedAt: 0 };
  assert.deepEqual(nextLiveness(cur, 1001, 5_000, policy), { periodMs: 25_000, graceMs: 60_000, nodes: 1001, changedAt: 5_000 });
});

test('nextLiveness: shrinks only a quarter below, and keeps the longer grace one old grace long', () => {
  const cur: LivenessRecord = { periodMs: 200_000, graceMs: 410_000, nodes: 10_000, changedAt: 0 };
  // 8,000 nodes: 160 s is 80 % of 200 s: within the hysteresis, no change.
  assert.equal(nextLiveness(cur, 8000, 10_000, policy), undefined);
  // 5,000 nodes: 100 s. Agents still on 200 s renew up to 200 s late: the 410 s grace stays.
  const shrunk = nextLiveness(cur, 5000, 10_000, policy);
  assert.deepEqual(shrunk, { periodMs: 100_000, graceMs: 410_000, nodes: 5000, changedAt: 10_000 });
  // Before the old grace has passed since the change: nothing; after: the grace of the new period (2 x 100 + 10).
  assert.equal(nextLiveness(shrunk, 5000, 10_000 + 410_000, policy), undefined);
  assert.deepEqual(nextLiveness(shrunk, 5000, 10_000 + 410_001, policy), { periodMs: 100_000, graceMs: 210_000, nodes: 5000, changedAt: 10_000 });
});

test('nextLiveness: a record some writer got wrong is replaced', () => {
  const bad = { periodMs: 0, graceMs: 0, nodes: 1, changedAt: 0 };
  assert.deepEqual(nextLiveness(bad, 3, 7, policy), { periodMs: 10_000, graceMs: 40_000, nodes: 3, changedAt: 7 });
});
