// Recovery after a store rebuild: which tasks the agent holds, and when it lets each go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heldAfterRebuild, releaseHeld, type LocalTask } from '../../../agent/index.ts';

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
