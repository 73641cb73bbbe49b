// Queue order: priority first, round-robin across jobs of one priority, stable and seeded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrng, orderQueue } from '../../../scheduler/index.ts';
import { MakeTask, tasksOf } from './builders.ts';

test('queue: higher priority first, whatever the input order', () => {
  const tasks = [MakeTask('low-0').Priority(10).Obj(), MakeTask('mon-0').Priority(900).Obj(), MakeTask('prod-0').Priority(400).Obj()];
  assert.deepEqual(orderQueue(tasks, 1).map((t) => t.id), ['mon-0', 'prod-0', 'low-0']);
});

test('queue: round-robin across jobs of the same priority, by index within a job', () => {
  const a = tasksOf('a', 3);
  const b = tasksOf('b', 1);
  const c = tasksOf('c', 2);
  const ids = orderQueue([...a, ...b, ...c].reverse(), 7).map((t) => t.id);
  // Round r holds task r of every job still having one: 3 + 2 + 1 tasks in rounds 0, 1, 2.
  const round = (id: string) => Number(id.split('-')[1]);
  assert.deepEqual(ids.map(round), [0, 0, 0, 1, 1, 2]);
  assert.equal(ids[5], 'a-2');
  // The job order is the same in every round.
  assert.deepEqual(ids.slice(3, 5).map((id) => id[0]), ids.slice(0, 3).map((id) => id[0]).filter((j) => j !== 'b'));
});

test('queue: same seed same order regardless of input order; another seed may reorder jobs', () => {
  const tasks = Array.from({ length: 12 }, (_, j) => tasksOf(`job${j}`, 2)).flat();
  const shuffled = [...tasks];
  const rand = createPrng('shuffle');
  for (let i = shuffled.length - 1; i > 0; i--) {
    const k = Math.floor(rand() * (i + 1));
    [shuffled[i], shuffled[k]] = [shuffled[k]!, shuffled[i]!];
  }
  const first = orderQueue(tasks, 'seed-a').map((t) => t.id);
  assert.deepEqual(orderQueue(shuffled, 'seed-a').map((t) => t.id), first);
  const seeds = ['seed-b', 'seed-c', 'seed-d'].map((s) => orderQueue(tasks, s).map((t) => t.id).join());
  assert.ok(seeds.some((o) => o !== first.join()), 'seeds change the job order');
});
