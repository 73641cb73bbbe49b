import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyObject } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { nextDesiredRecord, sourceStatusKey, type SyncStatus } from '../../../reconciler/index.ts';
import { createLocalSource } from '../../../reconciler/source/index.ts';
import { rollBack } from '../../../reconciler/service/index.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { openTestStore } from '../../helpers/store.ts';
import { failed, web } from './rollback-fixtures.ts';


async function setup(t: TestContext) {
  const { store } = await openTestStore(t, { tag: 'rb' });
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const source = createLocalSource({ repo: repo.dir, safetyPollMs: 3_600_000 }, silentLogger());
  t.after(() => source.stop());
  const ctx = { store, source, sourceName: 'main', valid: () => true, log: silentLogger() };
  const status = async () => (await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined;
  const events = async () => (await store.events.recent({ limit: 50 })).map((e) => e.value);
  return { store, repo, source, ctx, status, events };
}

test('a conflicting revert holds, marks the source Stalled (RevertConflict) and says why', async (t) => {
  const { repo, source, ctx, status, events } = await setup(t);
  repo.commit({ 'web.yaml': web('web:1') });
  const c = repo.commit({ 'web.yaml': web('web:bad') }, 'web: bad');
  const d = repo.commit({ 'web.yaml': web('web:bad-2') }, 'web: another try');
  await source.start(() => undefined);
  const out = await rollBack(ctx, c, [failed(c)]);
  assert.equal(out.outcome, 'conflict');
  assert.equal(repo.head(), d, 'nothing committed');
  const stalled = (await status())!.conditions.find((x) => x.type === 'Stalled')!;
  assert.equal(stalled.status, 'True');
  assert.equal(stalled.reason, 'RevertConflict');
  assert.match(stalled.message, /Job default\/web at [0-9a-f]{12} failed; holding at the last good revision: reverting [0-9a-f]{12} conflicts with later commits on main in web\.yaml/);
  assert.ok((await events()).some((e) => e.reason === 'RevertConflict' && e.type === 'Warning'));
});

test('the gitcell.io/auto-rollback annotation holds the revert; an existing revert is not repeated', async (t) => {
  const { store, repo, source, ctx, status } = await setup(t);
  repo.commit({ 'web.yaml': web('web:1') });
  const c = repo.commit({ 'web.yaml': web('web:bad') }, 'web: bad');
  await source.start(() => undefined);
  const object = { apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web', namespace: 'default', annotations: { 'gitcell.io/auto-rollback': 'false' } }, spec: { type: 'service', template: { image: 'web:bad' } } } as AnyObject;
  await store.desired.put('Job.default.web', nextDesiredRecord(undefined, object, { type: 'git', revision: c }, new Date().toISOString()));
  const held = await rollBack(ctx, c, [failed(c)]);
  assert.deepEqual(held, { outcome: 'disabled', reason: 'auto-rollback is off by annotation gitcell.io/auto-rollback="false" on Job/default/web' });
  assert.equal((await status())!.conditions.find((x) => x.type === 'Stalled')?.reason, 'RollbackDisabled');
  assert.equal(repo.head(), c);

  // Without the annotation it reverts once; asked again (a new leader), it finds its revert.
  await store.desired.delete('Job.default.web');
  const first = await rollBack(ctx, c, [failed(c)]);
  assert.equal(first.outcome, 'reverted');
  const revert = repo.head();
  assert.match(repo.git('log', '-1', '--format=%B'), /Gitcell-Reverts: [0-9a-f]{40}/);
  const again = await rollBack(ctx, c, [failed(c)]);
  assert.deepEqual(again, { outcome: 'already-reverted', by: revert });
  assert.equal(repo.head(), revert);
});
