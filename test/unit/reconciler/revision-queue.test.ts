import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RevisionQueue, sourceNameOf, groupByRevision } from '../../../reconciler/service/index.ts';
import type { RolloutResult } from '../../../api/index.ts';

test('RevisionQueue: latest wins, retries never replace a newer revision, close wakes waiters', async () => {
  const q = new RevisionQueue();
  q.offer('a');
  q.offer('b');
  q.offer('c');
  assert.equal(await q.take(), 'c', 'three commits during a reconcile cost one more reconcile');
  q.offer('d');
  q.retry('c');
  assert.equal(await q.take(), 'd', 'a retry of an older revision yields to the newer one');
  q.retry('d');
  assert.equal(await q.take(), 'd');
  const waiting = q.take();
  q.offer('e');
  assert.equal(await waiting, 'e');
  const blocked = q.take();
  q.close();
  assert.equal(await blocked, undefined);
  q.offer('f');
  assert.equal(await q.take(), undefined);
});

test('sourceNameOf and groupByRevision', () => {
  assert.equal(sourceNameOf('main'), 'main');
  assert.equal(sourceNameOf('release/1.2'), 'release-1-2');
  const r = (rev: string, name: string) => ({ revision: rev, object: { kind: 'Job', namespace: 'default', name } }) as RolloutResult;
  const g = groupByRevision([r('a', 'x'), r('b', 'y'), r('a', 'z')]);
  assert.deepEqual([...g.entries()].map(([k, v]) => [k, v.map((x) => x.object.name)]), [['a', ['x', 'z']], ['b', ['y']]]);
});
