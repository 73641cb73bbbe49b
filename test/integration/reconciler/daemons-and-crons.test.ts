import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESERVED_LABEL_PREFIX, statusKey, type AnyObject, type CronJob, type DaemonSet } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { objectStatusKey, reconcileRevision, type CronJobStatus } from '../../../reconciler/index.ts';
import { nodeRecord, startControllers, startSim, type Store } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

async function setup(t: import('node:test').TestContext): Promise<Store> {
  const { store } = await openTestStore(t, { tag: 'd' });
  startControllers(t, store, 100);
  return store;
}
const apply = (store: Store, revision: string, objects: AnyObject[]) =>
  reconcileRevision({ store, source: 'main', revision, read: async () => objects, validate: (o) => ({ objects: o.map((object) => ({ object })), problems: [] }), log: silentLogger() });

test('a DaemonSet follows nodes as they join and leave', async (t) => {
  const store = await setup(t);
  const sim = await startSim(store, { nodes: ['n1', 'n2'] });
  t.after(() => sim.stop());
  const ds: DaemonSet = { apiVersion: 'gitcell.io/v1', kind: 'DaemonSet', metadata: { name: 'logs', namespace: 'kube' }, spec: { template: { image: 'logs:1' } } };
  await apply(store, 'c1', [ds]);
  const pinned = async () => (await store.tasks.list()).map((r) => r.value.nodeName).sort();
  await waitFor('one task on each node', async () => JSON.stringify(await pinned()) === '["n1","n2"]');
  await store.nodes.put('n3', nodeRecord('n3'));
  await waitFor('a task on the joining node', async () => JSON.stringify(await pinned()) === '["n1","n2","n3"]');
  await store.nodes.delete('n1');
  await waitFor('the leaving node\'s task deleted', async () => JSON.stringify(await pinned()) === '["n2","n3"]');
});

test('a DaemonSet selecting a reserved node label runs only where the NodeSpec sets it, never where a node claims it', async (t) => {
  const store = await setup(t);
  const sim = await startSim(store, { nodes: ['n1', 'n2'] });
  t.after(() => sim.stop());
  const reserved = `${RESERVED_LABEL_PREFIX}secrets`;
  // n3 labels itself; n2 is labelled by the operator.
  const self = nodeRecord('n3');
  await store.nodes.put('n3', { ...self, labels: { ...self.labels, [reserved]: 'yes' } });
  await store.nodespec.put('n2', { cordoned: false, draining: false, labels: { [reserved]: 'yes' }, taints: [] });
  const ds: DaemonSet = { apiVersion: 'gitcell.io/v1', kind: 'DaemonSet', metadata: { name: 'vault-agent', namespace: 'kube' }, spec: { template: { image: 'vault:1', nodeSelector: { [reserved]: 'yes' } } } };
  await apply(store, 'c1', [ds]);
  const pinned = async () => (await store.tasks.list()).map((r) => r.value.nodeName).sort();
  await waitFor('a task on the operator-labelled node only', async () => JSON.stringify(await pinned()) === '["n2"]');
  await store.nodespec.put('n3', { cordoned: false, draining: false, labels: { [reserved]: 'yes' }, taints: [] });
  await waitFor('n3 gets one once the operator labels it', async () => JSON.stringify(await pinned()) === '["n2","n3"]');
});

test('a CronJob runs Jobs on schedule, the Jobs run to completion, history limits apply', async (t) => {
  const store = await setup(t);
  // A "batch scheduler and agent": every task is bound to n1 (statuses count only from the bound
  // node) and succeeds.
  const ac = new AbortController();
  t.after(() => ac.abort());
  const agent = (async () => {
    for await (const ev of store.tasks.watch({ signal: ac.signal })) {
      if (ev.type !== 'put') continue;
      const now = new Date().toISOString();
      await store.bindings.put(ev.key, { taskId: ev.key, node: 'n1', boundAt: now, schedulerTerm: 1 });
      await store.status.put(statusKey('n1', ev.key), { taskId: ev.key, node: 'n1', templateHash: ev.value.templateHash, state: 'succeeded', ready: false, restarts: 0, exitCode: 0, finishedAt: now, updatedAt: now });
    }
  })();
  t.after(() => agent.catch(() => undefined));
  const cron: CronJob = {
    apiVersion: 'gitcell.io/v1', kind: 'CronJob', metadata: { name: 'tick', namespace: 'default' },
    // Every second (croner's 6-field form), keeping 2 successful runs.
    spec: { schedule: '* * * * * *', concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 2, jobTemplate: { template: { image: 'tick:1' } } },
  };
  await apply(store, 'c1', [cron]);
  const runs = async () => (await store.desired.list('Job.default')).map((r) => r.value);
  // Watch the CronJob run and complete several times; at every observation, no more than
  // 2 finished runs (the history limit) plus 1 active one (Forbid) exist.
  const successes = new Set<string>();
  let maxRuns = 0;
  await waitFor('four successful runs', async () => {
    const s = (await store.sync.get(objectStatusKey('CronJob', 'default', 'tick')))?.value as CronJobStatus | undefined;
    const all = await runs();
    maxRuns = Math.max(maxRuns, all.length);
    for (const r of all) assert.deepEqual(r.origin, { type: 'controller', owner: 'CronJob/default/tick' });
    if (s?.lastSuccessfulTime) successes.add(s.lastSuccessfulTime);
    return successes.size >= 4;
  }, 30_000);
  assert.ok(maxRuns <= 3, `${maxRuns} run Jobs kept at once`);
  // Deleting the CronJob (allowed: the only object) removes its runs.
  await reconcileRevision({ store, source: 'main', revision: 'c2', read: async () => [], validate: () => ({ objects: [], problems: [] }), allowPruneAll: true, log: silentLogger() });
  await waitFor('runs deleted with their CronJob', async () => (await runs()).length === 0);
});
