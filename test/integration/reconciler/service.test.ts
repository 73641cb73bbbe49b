import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import type { Job } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { objectStatusKey, sourceStatusKey, type SyncStatus, type WorkloadStatus } from '../../../reconciler/index.ts';
import { createSource, type Source } from '../../../reconciler/source/index.ts';
import { startReconcilerService, type ReconcilerService } from '../../../reconciler/service/index.ts';
import { makeRemoteRepo, makeRepo, type TestRepo } from '../../helpers/git-cli-repo.ts';
import { startSim, type Store } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

const log = silentLogger();

function job(name: string, image: string, annotations?: Record<string, string>): string {
  const j: Job = {
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: {
      type: 'service',
      replicas: 2,
      priority: 'production',
      template: { image, resources: { requests: { cpu: '100m', memory: '64Mi' } } },
      // A short deadline so a rollout that never becomes ready fails within the test.
      strategy: { maxUnavailable: 1, maxSurge: 1, progressDeadlineSeconds: 2 },
    },
  };
  return dump(j);
}

async function storeFor(t: TestContext): Promise<Store> {
  return (await openTestStore(t, { tag: 'g', log })).store;
}

async function run(t: TestContext, store: Store, source: Source): Promise<ReconcilerService> {
  // Simulated scheduler and agents: image "bad" never passes readiness.
  const sim = await startSim(store, { nodes: ['n1', 'n2'], ready: (image) => !image.includes('bad') });
  const svc = await startReconcilerService({ store, source, leaseMs: 1500, log });
  t.after(async () => {
    await svc.stop();
    await sim.stop();
  });
  return svc;
}

const status = async (store: Store) => (await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined;
const imagesOf = async (store: Store, name: string) => (await store.tasks.list()).filter((r) => r.value.owner.name === name).map((r) => r.value.template.image).sort();
const rolledOut = async (store: Store, name: string) => ((await store.sync.get(objectStatusKey('Job', 'default', name)))?.value as WorkloadStatus | undefined)?.rollout?.phase === 'Complete';

test('a rollout that never becomes ready ends in a revert on the remote branch and the cluster converges back', async (t) => {
  const store = await storeFor(t);
  const { url, work } = await makeRemoteRepo(t);
  const c1 = work.commit({ 'apps/web.yaml': job('web', 'web:1'), 'apps/api.yaml': job('api', 'api:1') }, 'web and api');
  await work.gitAsync('push', '--quiet', 'origin', 'main');

  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const source = createSource({ repo: url, stateDir, pollIntervalMs: 300 }, log);
  await run(t, store, source);
  await waitFor('c1 applied and rolled out', async () => (await status(store))?.lastAppliedRevision === c1 && (await rolledOut(store, 'web')), 90_000).catch(async (err) => {
    throw new Error(`${err.message}; status: ${JSON.stringify(await status(store))}`);
  });

  const bad = work.commit({ 'apps/web.yaml': job('web', 'web:bad') }, 'web: try the bad image');
  await work.gitAsync('push', '--quiet', 'origin', 'main');

  // gitcell notices the failed rollout, commits a revert and pushes it to the remote.
  const revert = await waitFor('a revert on the remote branch', async () => {
    await work.gitAsync('fetch', '--quiet', 'origin');
    const tip = work.git('rev-parse', 'origin/main');
    return tip !== bad ? tip : undefined;
  }, 90_000).catch(async (err) => {
    const s = await status(store);
    const events = (await store.events.recent({ limit: 30 })).map((e) => `${e.value.reason}: ${e.value.message}`);
    throw new Error(`${err.message}; failedRollouts ${JSON.stringify(s?.failedRollouts)}; conditions ${JSON.stringify(s?.conditions)}; events ${events.join(' | ')}`);
  });
  assert.equal(work.git('log', '-1', '--format=%an <%ae>', revert), 'gitcell <gitcell@localhost>');
  const message = work.git('log', '-1', '--format=%B', revert);
  assert.match(message, /^Revert "web: try the bad image"/);
  assert.match(message, /Job default\/web/);
  assert.match(message, /readiness probe failed: HTTP 503/);
  assert.equal(work.git('rev-parse', `${revert}^`), bad);
  assert.equal(work.git('show', `${revert}:apps/web.yaml`) + '\n', job('web', 'web:1'));

  // The revert goes through the normal path: applied, and the tasks are back on the old template.
  await waitFor('revert applied and rolled out', async () => (await status(store))?.lastAppliedRevision === revert && (await rolledOut(store, 'web')), 90_000);
  await waitFor('only web:1 tasks', async () => (await imagesOf(store, 'web')).join() === 'web:1,web:1', 90_000);
  const s = (await status(store))!;
  assert.deepEqual(s.failedRollouts, [], 'the revert superseded the failed rollout');
  const events = (await store.events.recent({ limit: 200 })).map((e) => e.value);
  assert.ok(events.some((e) => e.reason === 'RolloutFailed'), 'the failure is an event');
  assert.ok(events.some((e) => e.reason === 'RolledBack' && e.message.includes(revert.slice(0, 12))), 'so is the revert');
});

test("with auto-rollback off, a failed rollout holds and is Stalled; the user's own git revert converges the cluster back", async (t) => {
  const store = await storeFor(t);
  const repo: TestRepo = makeRepo();
  t.after(() => repo.cleanup());
  const c1 = repo.commit({ '.gitcell.yaml': 'autoRollback: false\n', 'web.yaml': job('web', 'web:1') }, 'web');
  const source = createSource({ repo: repo.dir, branch: 'main' }, log);
  await run(t, store, source);
  await waitFor('c1 applied and rolled out', async () => (await status(store))?.lastAppliedRevision === c1 && (await rolledOut(store, 'web')), 90_000);

  const bad = repo.commit({ 'web.yaml': job('web', 'web:bad') }, 'web: bad');
  const stalled = await waitFor('Stalled because rollback is off', async () => {
    const c = (await status(store))?.conditions.find((x) => x.type === 'Stalled');
    return c?.status === 'True' && c.reason === 'RollbackDisabled' ? c : undefined;
  }, 90_000);
  assert.match(stalled.message, /auto-rollback is off in \.gitcell\.yaml/);
  assert.equal(repo.head(), bad, 'gitcell committed nothing');

  repo.git('revert', '--no-edit', bad);
  const userRevert = repo.head();
  await waitFor('user revert applied and rolled out', async () => (await status(store))?.lastAppliedRevision === userRevert && (await rolledOut(store, 'web')), 90_000);
  await waitFor('only web:1 tasks', async () => (await imagesOf(store, 'web')).join() === 'web:1,web:1', 90_000);
  const s = (await status(store))!;
  assert.equal(s.conditions.find((x) => x.type === 'Stalled')?.status, 'False');
  assert.equal(repo.head(), userRevert, 'gitcell added no revert of its own');
});
