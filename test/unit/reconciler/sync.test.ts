import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutResult } from '../../../api/index.ts';
import { addFailedRollout, emptySyncStatus, parseInventoryEntry, pushHistory, resolveFailedRollouts, setCondition, HISTORY_LIMIT, type HistoryEntry } from '../../../reconciler/index.ts';

const failure = (name: string, generation: number): RolloutResult => ({
  revision: `c-${name}`, object: { kind: 'Job', namespace: 'default', name }, generation, templateHash: 'h', reason: 'CrashLoop', message: 'm', tasks: [], failedAt: 't',
});

test('failed rollouts stay until their object changes again or is gone', () => {
  let s = addFailedRollout(addFailedRollout(emptySyncStatus('main'), failure('a', 2)), failure('b', 5));
  assert.equal(s.failedRollout?.object.name, 'b');
  s = addFailedRollout(s, failure('a', 3)); // a again: replaces the older entry of a
  assert.deepEqual(s.failedRollouts.map((r) => `${r.object.name}@${r.generation}`), ['b@5', 'a@3']);
  const gens: Record<string, number> = { a: 3, b: 6 };
  s = resolveFailedRollouts(s, (_k, _ns, name) => gens[name]);
  assert.deepEqual(s.failedRollouts.map((r) => r.object.name), ['a'], 'b changed since (generation 6 > 5)');
  s = resolveFailedRollouts(s, () => undefined);
  assert.deepEqual(s.failedRollouts, []);
  assert.equal(s.failedRollout, undefined);
});

test('conditions keep their transition time while unchanged, in Ready/Reconciling/Stalled order', () => {
  let c = setCondition([], { type: 'Stalled', status: 'False', reason: 'r', message: '' }, 't1');
  c = setCondition(c, { type: 'Ready', status: 'True', reason: 'r', message: '' }, 't1');
  c = setCondition(c, { type: 'Ready', status: 'True', reason: 'r2', message: 'again' }, 't2');
  assert.deepEqual(c.map((x) => `${x.type}:${x.lastTransitionTime}`), ['Ready:t1', 'Stalled:t1']);
  c = setCondition(c, { type: 'Ready', status: 'False', reason: 'r3', message: '' }, 't3');
  assert.equal(c[0]!.lastTransitionTime, 't3');
});

test('history keeps the newest entries; inventory entries parse', () => {
  let h: HistoryEntry[] = [];
  for (let i = 0; i < 15; i++) h = pushHistory(h, { revision: `r${i}`, result: 'Applied', message: '', startedAt: '', durationMs: 1, phases: [] });
  assert.equal(h.length, HISTORY_LIMIT);
  assert.equal(h[0]!.revision, 'r14');
  assert.deepEqual(parseInventoryEntry('Job/default/web@3'), { key: 'Job/default/web', kind: 'Job', namespace: 'default', name: 'web', generation: 3 });
});
