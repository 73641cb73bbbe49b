import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGitcellError } from '../../../lib/index.ts';
import { decideCandidate, leaderDeadline, leaseTimings, observe, type Lease } from '../../../store/lease.ts';

const lease = (holder: string, term: number): Lease => ({ holder, term, leaseMs: 1000, acquiredAt: 'x', renewedAt: 'x' });
const base = { identity: 'me', leaseMs: 1000, wallNow: '2026-01-01T00:00:00.000Z' };

test('no lease: acquire term 1 by create', () => {
  const d = decideCandidate({ ...base, current: undefined, observation: undefined, now: 0 });
  assert.equal(d.action, 'acquire');
  assert.ok(d.action === 'acquire' && d.lease.term === 1 && d.lease.holder === 'me' && d.expectRevision === undefined);
});

test('released or own lease: acquire at once with the next term, CAS on its revision', () => {
  for (const holder of ['', 'me']) {
    const d = decideCandidate({ ...base, current: { value: lease(holder, 7), revision: 42 }, observation: undefined, now: 0 });
    assert.ok(d.action === 'acquire' && d.lease.term === 8 && d.expectRevision === 42, holder);
  }
});

test("another's lease is judged lapsed only after a full lease period of observed silence", () => {
  const current = { value: lease('other', 3), revision: 10 };
  // First sight: the clock starts now, wait a full period.
  let obs = observe(undefined, 10, 500);
  let d = decideCandidate({ ...base, current, observation: obs, now: 500 });
  assert.deepEqual(d, { action: 'wait', untilMs: 1500, holder: 'other' });
  // Same revision 999 ms later: still wait (1500 - 1499 = 1 ms left).
  obs = observe(obs, 10, 1499);
  d = decideCandidate({ ...base, current, observation: obs, now: 1499 });
  assert.equal(d.action, 'wait');
  // At 1500 = 500 + 1000: lapsed, take term 4 with CAS on revision 10.
  d = decideCandidate({ ...base, current, observation: observe(obs, 10, 1500), now: 1500 });
  assert.ok(d.action === 'acquire' && d.lease.term === 4 && d.expectRevision === 10);
  // A renewal (new revision) restarts the clock.
  const renewed = { value: lease('other', 3), revision: 11 };
  obs = observe(obs, 11, 1400);
  assert.deepEqual(obs, { revision: 11, since: 1400 });
  d = decideCandidate({ ...base, current: renewed, observation: obs, now: 1500 });
  assert.deepEqual(d, { action: 'wait', untilMs: 2400, holder: 'other' });
  // An observation of a different revision than the record's never counts.
  d = decideCandidate({ ...base, current, observation: { revision: 9, since: 0 }, now: 5000 });
  assert.equal(d.action, 'wait');
});

test('a leader stops before any candidate may start', () => {
  // Leader sent its last renewal at t=100; a candidate sees it at the earliest at t=100 and may take
  // over at 100 + leaseMs = 1100; the leader stops at 100 + 1000 - 250 = 850.
  const t = leaseTimings(1000, 300, 250);
  assert.equal(leaderDeadline(100, t.leaseMs, t.safetyMs), 850);
  assert.ok(leaderDeadline(100, t.leaseMs, t.safetyMs) < 100 + t.leaseMs);
});

test('lease timings: defaults and refusals', () => {
  assert.deepEqual(leaseTimings(15_000), { leaseMs: 15_000, renewMs: 5000, safetyMs: 3750 });
  assert.throws(() => leaseTimings(1000, 900, 200), (e) => isGitcellError(e, 'E_LEASE_TIMINGS'));
  assert.throws(() => leaseTimings(0), (e) => isGitcellError(e, 'E_LEASE_TIMINGS'));
});
