import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterEvent } from '../../../api/index.ts';
import { rolloutHistory } from '../../../cli/commands/rollout.ts';
import { rollingWaves } from '../../../reconciler/plan/index.ts';

const ev = (reason: string, message: string, time: string): ClusterEvent => ({ time, type: 'Normal', reason, message, object: { kind: 'Job', namespace: 'default', name: 'web' }, source: 'reconciler' });
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

test('rolloutHistory pairs starts with their ends; a start before the end supersedes', () => {
  const h = rolloutHistory([
    ev('RolloutStarted', `rolling out template 1111111111 of revision ${A} to 2 tasks`, 't1'),
    ev('RolloutComplete', '2 tasks ready on template 1111111111', 't2'),
    ev('RolloutStarted', `rolling out template 2222222222 of revision ${B} to 2 tasks`, 't3'),
    ev('RolloutStarted', `rolling out template 3333333333 of revision ${C} to 2 tasks`, 't4'),
    ev('RolloutFailed', 'web: no progress for 61s', 't5'),
    ev('RolloutComplete', 'stray', 't6'),
  ]);
  assert.deepEqual(h.map((e) => [e.revision, e.commit, e.template, e.result]), [
    [1, A, '1111111111', 'Complete'],
    [2, B, '2222222222', 'Superseded'],
    [3, C, '3333333333', 'Failed'],
  ]);
  assert.equal(h[2]!.message, 'web: no progress for 61s');
});

test('rollingWaves follows maxSurge/maxUnavailable and always finishes', () => {
  // 5 replicas, surge 1, unavailable 1: (stop 1, start 2), (stop 2, start 2), (stop 2, start 1).
  assert.deepEqual(rollingWaves(5, 1, 1).waves.map((w) => [w.stop, w.start]), [[1, 2], [2, 2], [2, 1]]);
  // Surge only (maxUnavailable 0): never fewer than 4 ready, at most 5 tasks: one at a time.
  const surgeOnly = rollingWaves(4, 1, 0);
  assert.equal(surgeOnly.waves.length, 5);
  for (const w of surgeOnly.waves) assert.ok(w.newTasks + w.oldTasks <= 5);
  // Both zero would deadlock: one unavailable is allowed, as Kubernetes does.
  assert.equal(rollingWaves(3, 0, 0).unavailable, 1);
  for (let r = 1; r <= 20; r++) {
    for (const [s, u] of [[0, 1], [1, 0], ['25%', '25%'], [3, 2], ['100%', 0]] as const) {
      const { waves } = rollingWaves(r, s, u);
      const last = waves.at(-1)!;
      assert.deepEqual([last.newTasks, last.oldTasks], [r, 0], `replicas ${r}, surge ${s}, unavailable ${u}`);
    }
  }
});
