// Recovery after a store rebuild: which tasks the agent holds, and when it lets each go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heldAfterRebuild, keepCompleted, releaseHeld, type LocalTask } from '../../../agent/index.ts';

const task = (taskId: string, phase: LocalTask['phase']): LocalTask => ({ taskId, templateHash: 'h', spec: {} as LocalTask['spec'], phase, attempt: 1, restarts: 0 });

test('heldAfterRebuild holds running, restarting and finished tasks, not those starting or stopping', () => {
  const held = heldAfterRebuild([task('a', 'running'), task('b', 'backoff'), task('c', 'finished'), task('d', 'starting'), task('e', 'stopping'), task('f', 'stopped')]);
  assert.deepEqual([...held].sort(), ['a', 'b', 'c']);
});

test('releaseHeld: a binding decides (here or elsewhere), a forgotten task goes, the rest waits until the hold ends', () => {
  const held = new Set(['here', 'there', 'waiting', 'gone']);
  const o = { until: 1000, boundHere: (id: string) => id === 'here', boundElsewhere: (id: string) => id === 'there', known: (id: string) => id !== 'gone' };
  assert.deepEqual(releaseHeld(held, { ...o, now: 999 }), [
    { taskId: 'here', why: 'bound here' },
    { taskId: 'there', why: 'bound elsewhere' },
    { taskId: 'gone', why: 'gone' },
  ]);
  assert.deepEqual(releaseHeld(new Set(['waiting']), { ...o, now: 1000 }), [{ taskId: 'waiting', why: 'hold expired' }]);
});

test('keepCompleted keeps records of tasks finished within the retention, by id', () => {
  const done = (taskId: string, finishedAt?: string): LocalTask => ({ ...task(taskId, 'finished'), ...(finishedAt ? { finishedAt } : {}) });
  const now = Date.parse('2026-11-25T12:00:00Z');
  const kept = keepCompleted([done('fresh', '2026-11-25T11:00:00Z'), done('old', '2026-11-10T11:00:00Z'), done('undated')], now);
  assert.deepEqual([...kept.keys()], ['fresh']);
});
