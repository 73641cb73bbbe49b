import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { dump } from 'js-yaml';
import type { AnyObject, Job } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Informer } from '../../../store/index.ts';
import {
  loadManifestsFromGit,
  objectStatusKey,
  reconcileRevision,
  sourceStatusKey,
  inventoryKey,
  validateLoad,
  type DesiredRecord,
  type Inventory,
  type SyncStatus,
  type WorkloadStatus,
} from '../../../reconciler/index.ts';
import { makeTestRepo, type TestRepo } from '../../helpers/git-repo.ts';
import { startControllers, startSim, type Store } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

function job(name: string, image: string, replicas: number, strategy: Job['spec']['strategy'] = {}): Job {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: { type: 'service', replicas, priority: 'production', template: { image, resources: { requests: { cpu: '100m', memory: '64Mi' } } }, strategy },
  };
}
const yaml = (...objects: AnyObject[]) => objects.map((o) => dump(o)).join('---\n');

async function setup(t: TestContext): Promise<{ store: Store; repo: TestRepo; apply: (rev: string) => ReturnType<typeof reconcileRevision> }> {
  const { store } = await openTestStore(t, { tag: 'r' });
  const repo = await makeTestRepo();
  t.after(() => repo.remove());
  const apply = (rev: string) =>
    reconcileRevision({
      store,
      source: 'main',
      revision: rev,
      read: () => loadManifestsFromGit({ dir: repo.dir, ref: rev }),
      validate: (load) => validateLoad(load),
      log: silentLogger(),
    });
  return { store, repo, apply };
}

const tasksOf = async (store: Store, name: string) => (await store.tasks.list()).filter((r) => r.value.owner.name === name).map((r) => r.value);
const workloadStatus = async (store: Store, name: string) => (await store.sync.get(objectStatusKey('Job', 'default', name)))?.value as WorkloadStatus | undefined;

test('a commit is applied: desired objects, tasks, sync status with revision, inventory and history', async (t) => {
  const { store, repo, apply } = await setup(t);
  const sim = await startSim(store, { nodes: ['n1', 'n2'] });
  t.after(() => sim.stop());
  startControllers(t, store);
  const c1 = await repo.commit({ 'apps/web.yaml': yaml(job('web', 'web:1', 3)), 'apps/api.yaml': yaml(job('api', 'api:1', 2)) });
  const out = await apply(c1);
  assert.equal(out.result, 'Applied');
  const s = out.status;
  assert.equal(s.lastAppliedRevision, c1);
  assert.equal(s.lastAttemptedRevision, c1);
  assert.equal(s.observedGeneration, 1);
  assert.deepEqual(s.conditions.map((c) => `${c.type}=${c.status}`), ['Ready=True', 'Reconciling=False', 'Stalled=False']);
  assert.equal(s.inventoryCount, 2);
  const inv = (await store.sync.get(inventoryKey('main')))!.value as Inventory;
  assert.deepEqual(inv.entries, ['Job/default/api@1', 'Job/default/web@1']);
  assert.equal(s.history[0]!.result, 'Applied');
  assert.deepEqual(s.history[0]!.phases.map((p) => p.phase), ['read', 'validate', 'build', 'diff', 'apply', 'prune', 'health', 'status']);
  assert.deepEqual((await store.desired.keys()).sort(), ['Job.default.api', 'Job.default.web']);
  await waitFor('3 web and 2 api tasks ready', async () => (await workloadStatus(store, 'web'))?.rollout?.phase === 'Complete' && (await workloadStatus(store, 'api'))?.rollout?.phase === 'Complete');
  assert.equal((await tasksOf(store, 'web')).length, 3);
  assert.equal((await tasksOf(store, 'api')).length, 2);
  // Re-applying the same revision changes nothing.
  const again = await apply(c1);
  assert.equal(again.result, 'Unchanged');
  assert.equal((await store.desired.get('Job.default.web'))!.value.generation, 1);
});

test('a template change rolls tasks without exceeding maxUnavailable at any step', async (t) => {
  const { store, repo, apply } = await setup(t);
  const sim = await startSim(store, { nodes: ['n1', 'n2', 'n3'], startMs: 20 });
  t.after(() => sim.stop());
  startControllers(t, store);
  const strategy = { maxUnavailable: 1, maxSurge: 1 };
  const c1 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:1', 5, strategy)) });
  await apply(c1);
  await waitFor('v1 ready', async () => (await workloadStatus(store, 'web'))?.rollout?.phase === 'Complete');

  // Watch tasks and statuses as they change and check the bound after every single change.
  const tasks = new Map<string, string>(); // id -> templateHash
  const ready = new Set<string>();
  let minReady = Infinity;
  let maxTasks = 0;
  const ac = new AbortController();
  t.after(() => ac.abort());
  let armed = false;
  const check = () => {
    if (!armed) return;
    const n = [...tasks.keys()].filter((id) => ready.has(id)).length;
    minReady = Math.min(minReady, n);
    maxTasks = Math.max(maxTasks, tasks.size);
  };
  const watchTasks = (async () => {
    for await (const ev of store.tasks.watch({ signal: ac.signal })) {
      if (ev.type === 'put' && ev.value.owner.name === 'web') tasks.set(ev.key, ev.value.templateHash);
      else if (ev.type === 'delete') tasks.delete(ev.key);
      if (ev.type !== 'synced') check();
    }
  })();
  const watchStatus = (async () => {
    for await (const ev of store.status.watch({ signal: ac.signal })) {
      if (ev.type === 'put') (ev.value.ready ? ready.add(ev.value.taskId) : ready.delete(ev.value.taskId));
      else if (ev.type === 'delete') ready.delete(ev.key.slice(ev.key.indexOf('.') + 1));
      if (ev.type !== 'synced') check();
    }
  })();
  await waitFor('watchers synced', async () => tasks.size === 5 && ready.size >= 5);
  armed = true;

  const c2 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:2', 5, strategy)) });
  const out = await apply(c2);
  assert.equal(out.result, 'Applied');
  assert.deepEqual(out.plan!.update.map((u) => u.changes.map((c) => `${c.path}: ${String(c.from)} -> ${String(c.to)}`)), [['spec.template.image: web:1 -> web:2']]);
  const done = await waitFor('v2 rolled out', async () => {
    const s = await workloadStatus(store, 'web');
    return s?.rollout?.phase === 'Complete' && s.observedGeneration === 2 ? s : undefined;
  }, 30_000);
  await waitFor('old tasks gone', async () => (await tasksOf(store, 'web')).every((x) => x.templateHash === done.templateHash) && tasks.size === 5);
  ac.abort();
  await Promise.allSettled([watchTasks, watchStatus]);
  assert.ok(minReady >= 4, `ready tasks dropped to ${minReady} (replicas 5, maxUnavailable 1)`);
  assert.ok(maxTasks <= 6, `${maxTasks} tasks at once (replicas 5, maxSurge 1)`);
  assert.ok([...sim.creations.values()].every((n) => n === 1), 'no task id created twice');
});

test('prune removes a deleted manifest\'s object and its tasks; opted-out objects stay', async (t) => {
  const { store, repo, apply } = await setup(t);
  const sim = await startSim(store, { nodes: ['n1'] });
  t.after(() => sim.stop());
  startControllers(t, store);
  const keep = job('keep', 'keep:1', 1);
  keep.metadata.annotations = { 'gitcell.io/prune': 'disabled' };
  const c1 = await repo.commit({ 'a.yaml': yaml(job('a', 'a:1', 2)), 'b.yaml': yaml(job('b', 'b:1', 2)), 'keep.yaml': yaml(keep) });
  await apply(c1);
  await waitFor('b has tasks', async () => (await tasksOf(store, 'b')).length === 2);
  const c2 = await repo.commit({ 'b.yaml': null, 'keep.yaml': null });
  const out = await apply(c2);
  assert.equal(out.result, 'Applied');
  assert.deepEqual(out.plan!.prune.map((p) => p.key), ['Job/default/b']);
  assert.deepEqual(out.plan!.keep.map((p) => p.key), ['Job/default/keep']);
  assert.equal(await store.desired.get('Job.default.b'), undefined);
  await waitFor('b\'s tasks deleted', async () => (await tasksOf(store, 'b')).length === 0);
  await waitFor('b\'s status deleted', async () => (await workloadStatus(store, 'b')) === undefined);
  assert.equal((await tasksOf(store, 'a')).length, 2);
  assert.equal((await tasksOf(store, 'keep')).length, 1);
  // Deleting everything is refused.
  const c3 = await repo.commit({ 'a.yaml': null });
  const refused = await apply(c3);
  assert.equal(refused.result, 'Stalled');
  assert.match(refused.status.conditions.find((c) => c.type === 'Stalled')!.message, /would prune all/);
  assert.ok(await store.desired.get('Job.default.a'));
  assert.equal(refused.status.lastAppliedRevision, c2);
});

test('an invalid revision applies nothing, is Stalled with file and line, and the last good one keeps running', async (t) => {
  const { store, repo, apply } = await setup(t);
  const sim = await startSim(store, { nodes: ['n1'] });
  t.after(() => sim.stop());
  startControllers(t, store);
  const c1 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:1', 2)) });
  await apply(c1);
  await waitFor('web ready', async () => (await workloadStatus(store, 'web'))?.rollout?.phase === 'Complete');
  const before = (await store.desired.get('Job.default.web'))!;
  const tasksBefore = (await tasksOf(store, 'web')).map((x) => x.id).sort();
  const c2 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:2', 2)), 'broken.yaml': 'kind: Job\nmetadata: {name: x\n  spec: [\n' });
  const out = await apply(c2);
  assert.equal(out.result, 'Stalled');
  assert.equal(out.retryAfterMs, undefined, 'a stalling error is not retried');
  const s = (await store.sync.get(sourceStatusKey('main')))!.value as SyncStatus;
  assert.equal(s.lastAttemptedRevision, c2);
  assert.equal(s.lastAppliedRevision, c1);
  assert.equal(s.conditions.find((c) => c.type === 'Stalled')?.status, 'True');
  assert.equal(s.conditions.find((c) => c.type === 'Ready')?.status, 'False');
  assert.ok(s.problems?.length);
  assert.equal(s.problems![0]!.file, 'broken.yaml');
  assert.ok(s.problems![0]!.line >= 1);
  const after = (await store.desired.get('Job.default.web'))!;
  assert.equal(after.revision, before.revision, 'nothing applied');
  assert.deepEqual((await tasksOf(store, 'web')).map((x) => x.id).sort(), tasksBefore);
  assert.equal(s.history[0]!.result, 'Stalled');
  assert.equal(s.history[1]!.result, 'Applied');

  // A schema error (not YAML syntax) is reported by the validator at the field's own line.
  const bad = yaml(job('web', 'web:3', 2)).replace('replicas: 2', 'replicas: two');
  const line = bad.split('\n').findIndex((l) => l.includes('replicas: two')) + 1;
  const c3 = await repo.commit({ 'web.yaml': bad, 'broken.yaml': null });
  const out3 = await apply(c3);
  assert.equal(out3.result, 'Stalled');
  const p = out3.status.problems!.find((x) => x.file === 'web.yaml');
  assert.ok(p, JSON.stringify(out3.status.problems));
  assert.equal(p.line, line);
  assert.match(p.path ?? '', /replicas/);
  assert.equal((await store.desired.get('Job.default.web'))!.revision, before.revision, 'nothing applied');
  assert.equal(out3.status.lastAppliedRevision, c1);
});

test('a rollout that never becomes ready is reported as a failed rollout for rollback, then a revert converges', async (t) => {
  const { store, repo, apply } = await setup(t);
  const sim = await startSim(store, { nodes: ['n1', 'n2'], ready: (image) => image !== 'web:bad' });
  t.after(() => sim.stop());
  startControllers(t, store);
  const strategy = { maxUnavailable: 0, maxSurge: 1, progressDeadlineSeconds: 1 };
  const c1 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:1', 2, strategy)) });
  await apply(c1);
  await waitFor('v1 ready', async () => (await workloadStatus(store, 'web'))?.rollout?.phase === 'Complete');
  const c2 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:bad', 2, strategy)) });
  await apply(c2);
  const failed = await waitFor('failed rollout recorded', async () => ((await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined)?.failedRollout, 20_000);
  assert.equal(failed.revision, c2);
  assert.deepEqual(failed.object, { kind: 'Job', namespace: 'default', name: 'web' });
  assert.equal(failed.reason, 'ProgressDeadlineExceeded');
  assert.equal(failed.tasks.length, 1, 'maxSurge 1: one new task was tried');
  assert.match(failed.tasks[0]!.lastError, /readiness probe failed: HTTP 503/);
  // The old tasks kept running (maxUnavailable 0).
  assert.equal((await tasksOf(store, 'web')).filter((x) => x.template.image === 'web:1').length, 2);
  const events: string[] = [];
  for await (const e of store.events.follow({ afterSeq: 0 })) {
    events.push(e.value.reason);
    if (e.value.reason === 'RolloutFailed') break;
  }
  assert.ok(events.includes('RolloutFailed'));
  // The revert (what reconciler-git's rollback commits) brings back v1 and clears the failure.
  const c3 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:1', 2, strategy)) }, 'Revert "web:bad"');
  const out = await apply(c3);
  assert.equal(out.status.failedRollout, undefined);
  assert.deepEqual(out.status.failedRollouts, []);
  await waitFor('back on v1 only', async () => {
    const ts = await tasksOf(store, 'web');
    return ts.length === 2 && ts.every((x) => x.template.image === 'web:1');
  });
});

test('the diff can read a Mirror of the desired bucket; a stale view fails the CAS and asks for a retry', async (t) => {
  const { store, repo } = await setup(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const mirror = new Informer<DesiredRecord>(store.desired, { signal: ac.signal, log: silentLogger() });
  await mirror.synced;
  const fromMirror = () => [...mirror.entries.entries()].map(([key, e]) => ({ key, value: e.value, revision: e.revision }));
  const applyWith = (rev: string, current: typeof fromMirror) =>
    reconcileRevision({ store, source: 'main', revision: rev, read: () => loadManifestsFromGit({ dir: repo.dir, ref: rev }), validate: (load) => validateLoad(load), current, log: silentLogger() });
  const c1 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:1', 1)) });
  assert.equal((await applyWith(c1, fromMirror)).result, 'Applied');
  await waitFor('mirror caught up', async () => mirror.entries.size === 1);
  const c2 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:2', 1)) });
  // A view from before c1 was applied: it says the object does not exist, so apply tries to create it.
  const stale = await applyWith(c2, () => []);
  assert.equal(stale.result, 'Failed');
  assert.ok(stale.retryAfterMs !== undefined, 'retried, not stalled');
  assert.equal((await store.desired.get('Job.default.web'))!.value.object.kind, 'Job');
  assert.equal(((await store.desired.get('Job.default.web'))!.value.object as Job).spec.template.image, 'web:1', 'nothing overwritten');
  assert.equal((await applyWith(c2, fromMirror)).result, 'Applied');
});

test('a desired Mirror that has caught up with the bucket last revision holds the reconcile own writes', async (t) => {
  const { store, repo, apply } = await setup(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const mirror = new Informer<DesiredRecord>(store.desired, { signal: ac.signal, log: silentLogger() });
  assert.equal(await mirror.caughtUp(await store.desired.lastRevision(), 10_000), true, 'an empty bucket: caught up once synced');
  const c1 = await repo.commit({ 'web.yaml': yaml(job('web', 'web:1', 1), job('api', 'api:1', 1)) });
  assert.equal((await apply(c1)).result, 'Applied');
  const last = await store.desired.lastRevision();
  assert.ok(last > 0, `last revision ${last}`);
  assert.equal(await mirror.caughtUp(last, 10_000), true);
  for (const key of ['Job.default.web', 'Job.default.api']) {
    assert.equal(mirror.entries.get(key)?.revision, (await store.desired.get(key))!.revision, `${key} at the bucket's revision`);
  }
  // A revision nobody wrote yet: caughtUp gives up after its timeout instead of hanging.
  assert.equal(await mirror.caughtUp(last + 1_000, 50), false);
});
