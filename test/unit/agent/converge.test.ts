import { test } from 'node:test';
import assert from 'node:assert/strict';
import { converge, type Action, type ConvergeInput, type ObservedContainer } from '../../../agent/converge.ts';

const c = (id: string, taskId: string, templateHash: string, running: boolean, createdAt = 0): ObservedContainer => ({ id, taskId, templateHash, running, createdAt });
const run = (i: Partial<ConvergeInput>): Action[] => converge({ desired: [], containers: [], records: [], draining: false, ...i });

test('a newly bound task starts', () => {
  assert.deepEqual(run({ desired: [{ taskId: 't1', templateHash: 'h1' }] }), [{ type: 'start', taskId: 't1', templateHash: 'h1', replacing: false }]);
});

test('a task with a matching record is left to its lifecycle', () => {
  assert.deepEqual(run({ desired: [{ taskId: 't1', templateHash: 'h1' }], records: [{ taskId: 't1', templateHash: 'h1' }], containers: [c('a', 't1', 'h1', true)] }), []);
  assert.deepEqual(run({ desired: [{ taskId: 't1', templateHash: 'h1' }], records: [{ taskId: 't1', templateHash: 'h1' }] }), [], 'finished or in backoff');
});

test('an unbound task is stopped, then forgotten once nothing runs', () => {
  const i = { records: [{ taskId: 't1', templateHash: 'h1' }] };
  assert.deepEqual(run({ ...i, containers: [c('a', 't1', 'h1', true)] }), [{ type: 'stop', taskId: 't1', containerId: 'a', reason: 'unbound' }]);
  assert.deepEqual(run({ ...i, containers: [c('a', 't1', 'h1', false)] }), [{ type: 'forget', taskId: 't1', containerIds: ['a'] }]);
  assert.deepEqual(run(i), [{ type: 'forget', taskId: 't1', containerIds: [] }]);
});

test('draining stops every task with reason draining', () => {
  assert.deepEqual(run({ draining: true, desired: [{ taskId: 't1', templateHash: 'h1' }], records: [{ taskId: 't1', templateHash: 'h1' }], containers: [c('a', 't1', 'h1', true)] }),
    [{ type: 'stop', taskId: 't1', containerId: 'a', reason: 'draining' }]);
  assert.deepEqual(run({ draining: true, desired: [{ taskId: 't2', templateHash: 'h1' }] }), [], 'nothing new starts on a draining node');
});

test('a changed template: stop the old instance first, start the new one on a later pass', () => {
  const d = [{ taskId: 't1', templateHash: 'h2' }];
  const r = [{ taskId: 't1', templateHash: 'h1' }];
  assert.deepEqual(run({ desired: d, records: r, containers: [c('a', 't1', 'h1', true)] }), [{ type: 'stop', taskId: 't1', containerId: 'a', reason: 'replaced' }]);
  assert.deepEqual(run({ desired: d, records: r, containers: [c('a', 't1', 'h1', false)] }), [
    { type: 'removeContainer', taskId: 't1', containerId: 'a' },
    { type: 'start', taskId: 't1', templateHash: 'h2', replacing: true },
  ]);
});

test('duplicates: the newest running instance stays, others stop', () => {
  assert.deepEqual(run({ desired: [{ taskId: 't1', templateHash: 'h1' }], records: [{ taskId: 't1', templateHash: 'h1' }], containers: [c('old', 't1', 'h1', true, 1), c('new', 't1', 'h1', true, 2)] }),
    [{ type: 'stop', taskId: 't1', containerId: 'old', reason: 'duplicate' }]);
});

test('a running container without a record is adopted, not started twice', () => {
  assert.deepEqual(run({ desired: [{ taskId: 't1', templateHash: 'h1' }], containers: [c('a', 't1', 'h1', true)] }), [{ type: 'adopt', taskId: 't1', containerId: 'a' }]);
});

test('exited leftovers are removed before a fresh start', () => {
  assert.deepEqual(run({ desired: [{ taskId: 't1', templateHash: 'h1' }], containers: [c('a', 't1', 'h1', false)] }), [
    { type: 'removeContainer', taskId: 't1', containerId: 'a' },
    { type: 'start', taskId: 't1', templateHash: 'h1', replacing: false },
  ]);
});

test('busy tasks are left alone', () => {
  assert.deepEqual(run({ busy: new Set(['t1']), desired: [{ taskId: 't1', templateHash: 'h1' }] }), []);
});

test('property: never a start while an instance of the task runs; unbound tasks never start', () => {
  // mulberry32: a small seeded generator, so a failure replays.
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
  for (let iter = 0; iter < 3000; iter++) {
    const tasks = ['t1', 't2', 't3'];
    const hashes = ['h1', 'h2'];
    const desired = tasks.filter(() => rnd(2)).map((taskId) => ({ taskId, templateHash: hashes[rnd(2)]! }));
    const records = tasks.filter(() => rnd(2)).map((taskId) => ({ taskId, templateHash: hashes[rnd(2)]! }));
    const containers = Array.from({ length: rnd(4) }, (_, i) => c(`c${i}`, tasks[rnd(3)]!, hashes[rnd(2)]!, rnd(2) === 1, rnd(5)));
    const draining = rnd(4) === 0;
    const actions = converge({ desired, records, containers, draining });
    const starts = actions.filter((a) => a.type === 'start');
    for (const s of starts) {
      assert.ok(!containers.some((x) => x.taskId === s.taskId && x.running), `start of ${s.taskId} while running: ${JSON.stringify({ desired, records, containers })}`);
      assert.ok(!draining && desired.some((d) => d.taskId === s.taskId));
    }
    assert.ok(new Set(starts.map((s) => s.taskId)).size === starts.length, 'at most one start per task');
    // Every running container of an undesired task gets a stop.
    for (const x of containers.filter((x) => x.running && (draining || !desired.some((d) => d.taskId === x.taskId)))) {
      assert.ok(actions.some((a) => a.type === 'stop' && a.containerId === x.id), 'unbound running container stopped');
    }
    // Applying the actions (stops done, starts done) and converging again proposes no further start.
    const after = containers.filter((x) => !actions.some((a) => (a.type === 'stop' || a.type === 'removeContainer') && a.containerId === x.id));
    const recs = new Map(records.map((r) => [r.taskId, r]));
    for (const a of actions) if (a.type === 'forget') recs.delete(a.taskId);
    for (const s of starts) { after.push(c(`n-${s.taskId}`, s.taskId, s.templateHash, true, 99)); recs.set(s.taskId, { taskId: s.taskId, templateHash: s.templateHash }); }
    const again = converge({ desired, records: [...recs.values()], containers: after, draining });
    for (const s of again.filter((a) => a.type === 'start')) {
      assert.ok(!after.some((x) => x.taskId === s.taskId && x.running), 'second pass never starts a running task');
      assert.ok(!starts.some((x) => x.taskId === s.taskId), 'second pass does not start a task started by the first');
    }
  }
});
