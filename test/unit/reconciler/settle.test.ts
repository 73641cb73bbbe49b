// Waiting for nodes before the first tasks on a store never reconciled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settleDecision } from '../../../reconciler/index.ts';

test('settleDecision: done once nodes stopped appearing for quietMs, or at maxMs even with no node', () => {
  const o = { quietMs: 3000, maxMs: 30_000 };
  assert.equal(settleDecision(o, { now: 2000, startedAt: 0, changedAt: 0, nodes: 2 }), false);
  assert.equal(settleDecision(o, { now: 3000, startedAt: 0, changedAt: 0, nodes: 2 }), true);
  assert.equal(settleDecision(o, { now: 5000, startedAt: 0, changedAt: 2500, nodes: 3 }), false);
  assert.equal(settleDecision(o, { now: 29_999, startedAt: 0, changedAt: 0, nodes: 0 }), false);
  assert.equal(settleDecision(o, { now: 30_000, startedAt: 0, changedAt: 0, nodes: 0 }), true);
});

test('settleDecision: with the node count known, done as soon as that many registered', () => {
  const o = { quietMs: 3000, maxMs: 30_000, expectNodes: 3 };
  assert.equal(settleDecision(o, { now: 10_000, startedAt: 0, changedAt: 9_999, nodes: 3 }), true);
  assert.equal(settleDecision(o, { now: 10_000, startedAt: 0, changedAt: 0, nodes: 2 }), false);
  assert.equal(settleDecision(o, { now: 30_000, startedAt: 0, changedAt: 0, nodes: 2 }), true);
});
