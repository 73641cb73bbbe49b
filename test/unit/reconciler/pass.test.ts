import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyObject, CronJob, Job, Secret, TaskSpec } from '../../../api/index.ts';
import { controllerPass, nextDesiredRecord, objectStatusKey, type ClusterView, type DesiredRecord, type SyncRecord } from '../../../reconciler/index.ts';
import { T0, node } from './builders.ts';

const NOW = new Date(T0).toISOString();
const rec = (o: AnyObject, origin: DesiredRecord['origin'] = { type: 'git', revision: 'c1' }) => nextDesiredRecord(undefined, o, origin, NOW);
const job = (name: string, over: Partial<Job['spec']> = {}): Job => ({
  apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name, namespace: 'default' },
  spec: { type: 'service', replicas: 2, template: { image: 'web:1', secretMounts: [{ secretName: 'db', mountPath: '/run/db' }] }, ...over },
});
const secret = (value: string): Secret => ({ apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, spec: { encryptedData: { password: value } } });
function view(objects: DesiredRecord[], tasks: TaskSpec[] = [], statuses: Map<string, SyncRecord> = new Map()): ClusterView {
  return {
    desired: new Map(objects.map((r) => [r.key, r])),
    tasks: new Map(tasks.map((t) => [t.id, t])),
    statuses: new Map(),
    nodes: [node('n1')],
    objectStatuses: statuses,
  };
}

test('controllerPass creates tasks and statuses; a Secret rotation changes the template hash', () => {
  const r1 = controllerPass(view([rec(job('web')), rec(secret('AAA'))]), { now: T0 });
  assert.equal(r1.createTasks.length, 2);
  assert.equal(r1.createTasks[0]!.template.secretMounts[0]!.version?.length, 16);
  assert.deepEqual(r1.putStatuses.map((s) => s.key), [objectStatusKey('Job', 'default', 'web')]);
  const r2 = controllerPass(view([rec(job('web')), rec(secret('BBB'))]), { now: T0 });
  assert.notEqual(r2.createTasks[0]!.templateHash, r1.createTasks[0]!.templateHash);
});

test('controllerPass garbage-collects tasks of vanished owners and statuses of vanished objects', () => {
  const first = controllerPass(view([rec(job('gone')), rec(secret('x'))]), { now: T0 });
  const statuses = new Map(first.putStatuses.map((s) => [s.key, s.value]));
  const r = controllerPass(view([rec(secret('x'))], first.createTasks, statuses), { now: T0 + 1000 });
  assert.deepEqual(r.deleteTasks.sort(), first.createTasks.map((t) => t.id).sort());
  assert.deepEqual(r.deleteStatuses, [objectStatusKey('Job', 'default', 'gone')]);
});

test('controllerPass runs CronJobs: creates run Jobs, and deletes runs whose CronJob is gone', () => {
  const cron: CronJob = {
    apiVersion: 'gitcell.io/v1', kind: 'CronJob', metadata: { name: 'backup', namespace: 'default' },
    spec: { schedule: '*/5 * * * *', jobTemplate: { template: { image: 'backup:1' } } },
  };
  const cronRec = { ...rec(cron), updatedAt: new Date(T0 - 10 * 60_000).toISOString() };
  const r = controllerPass(view([cronRec]), { now: T0 + 1000 });
  assert.equal(r.createDesired.length, 1);
  const run = r.createDesired[0]!.value;
  assert.deepEqual(run.origin, { type: 'controller', owner: 'CronJob/default/backup' });
  assert.equal((run.object as Job).spec.type, 'batch');
  // The run Job gets its batch task; once the CronJob is deleted, the run goes too.
  const r2 = controllerPass(view([cronRec, run]), { now: T0 + 2000 });
  assert.equal(r2.createTasks.length, 1);
  const r3 = controllerPass(view([run]), { now: T0 + 3000 });
  assert.deepEqual(r3.deleteDesired, [r.createDesired[0]!.key]);
});

test('controllerPass skips service Jobs at rest whose inputs did not change, and only those', () => {
  const objects = [rec(job('web')), rec(secret('x'))];
  const fps = new Map<string, string>();
  const cache = new Map();
  const first = controllerPass(view(objects), { now: T0 }, cache, fps);
  const statuses = new Map(first.putStatuses.map((s) => [s.key, s.value]));
  // Tasks exist and are ready: the rollout completes.
  const ready = new Map(first.createTasks.map((t) => [t.id, { taskId: t.id, node: 'n1', templateHash: t.templateHash, state: 'running' as const, ready: true, restarts: 0, updatedAt: NOW }]));
  const v = (st: Map<string, SyncRecord>) => ({ ...view(objects, first.createTasks, st), statuses: ready });
  const second = controllerPass(v(statuses), { now: T0 + 1 }, cache, fps);
  for (const s of second.putStatuses) statuses.set(s.key, s.value);
  assert.equal((statuses.get(objectStatusKey('Job', 'default', 'web')) as { rollout?: { phase: string } }).rollout?.phase, 'Complete');
  const third = controllerPass(v(statuses), { now: T0 + 2 }, cache, fps);
  const fourth = controllerPass(v(statuses), { now: T0 + 3 }, cache, fps);
  assert.deepEqual([fourth.putStatuses, fourth.createTasks, fourth.deleteTasks, fourth.deleteStatuses], [[], [], [], []], 'skipped, and its status not collected');
  assert.equal(fps.size, 1);
  // A task turning unready changes the inputs: computed again.
  const id = first.createTasks[0]!.id;
  ready.set(id, { ...ready.get(id)!, ready: false });
  const fifth = controllerPass(v(statuses), { now: T0 + 4 }, cache, fps);
  assert.equal(fifth.putStatuses.length, 1);
  assert.ok(third);
});

test('controllerPass skips a DaemonSet at rest while its task list and eligible nodes are the same objects, and decides again when either is replaced', () => {
  const ds = rec({ apiVersion: 'gitcell.io/v1', kind: 'DaemonSet', metadata: { name: 'logger', namespace: 'default' }, spec: { template: { image: 'log:1' } } } as AnyObject);
  const fps = new Map<string, string>();
  const cache = new Map();
  const names = ['n1', 'n2'];
  // What EligibleNodeIndex hands out: one view object while the set is unchanged.
  let eligible = { names, has: (n: string) => names.includes(n) };
  let owned: { spec: TaskSpec; status?: import('../../../api/index.ts').TaskStatus }[] = [];
  const v = (statuses: Map<string, SyncRecord>): ClusterView => ({
    desired: new Map([[ds.key, ds]]), tasks: new Map(owned.map((t) => [t.spec.id, t.spec])), statuses: new Map(), objectStatuses: statuses,
    tasksByOwner: new Map([[ds.key, owned]]), eligibleNodes: () => eligible,
  });
  const statuses = new Map<string, SyncRecord>();
  const first = controllerPass(v(statuses), { now: T0 }, cache, fps);
  assert.equal(first.createTasks.length, 2);
  owned = first.createTasks.map((spec) => ({ spec, status: { taskId: spec.id, node: spec.nodeName!, templateHash: spec.templateHash, state: 'running' as const, ready: true, restarts: 0, updatedAt: NOW } }));
  for (let i = 1; i < 4; i++) for (const s of controllerPass(v(statuses), { now: T0 + i }, cache, fps).putStatuses) statuses.set(s.key, s.value);
  assert.equal((statuses.get(objectStatusKey('DaemonSet', 'default', 'logger')) as { rollout?: { phase: string } }).rollout?.phase, 'Complete');
  assert.equal(fps.size, 1, 'at rest: fingerprinted');
  // The same view object with a node added behind the pass's back: skipped, so nothing is placed
  // there (the index never does this: it replaces the view). Proves the pass did not run.
  names.push('n3');
  assert.deepEqual(controllerPass(v(statuses), { now: T0 + 5 }, cache, fps).createTasks, [], 'skipped');
  // A replaced view (a node joined): decided again, the new node gets its task.
  eligible = { names: [...names], has: (n: string) => names.includes(n) };
  assert.deepEqual(controllerPass(v(statuses), { now: T0 + 6 }, cache, fps).createTasks.map((t) => t.nodeName), ['n3']);
});

test('controllerPass: with kept task lists (tasksByOwner), a service Job at rest is skipped while its list is the same object', () => {
  const objects = [rec(job('web', { template: { image: 'web:1' } }))];
  const fps = new Map<string, string>();
  const cache = new Map();
  const first = controllerPass(view(objects), { now: T0 }, cache, fps);
  const key = objects[0]!.key;
  const statuses = new Map(first.putStatuses.map((s) => [s.key, s.value]));
  let owned = first.createTasks.map((spec) => ({ spec, status: { taskId: spec.id, node: 'n1', templateHash: spec.templateHash, state: 'running' as const, ready: true, restarts: 0, updatedAt: NOW } }));
  const v = (): ClusterView => ({ ...view(objects, first.createTasks, statuses), tasksByOwner: new Map([[key, owned]]) });
  for (let i = 1; i < 4; i++) for (const s of controllerPass(v(), { now: T0 + i }, cache, fps).putStatuses) statuses.set(s.key, s.value);
  assert.equal((statuses.get(objectStatusKey('Job', 'default', 'web')) as { rollout?: { phase: string } }).rollout?.phase, 'Complete');
  // A task turned unready inside the same list object (TrustedStatusIndex never does this: it
  // replaces the list): skipped, so the status still says every task is ready.
  owned[0] = { ...owned[0]!, status: { ...owned[0]!.status, ready: false } };
  assert.deepEqual(controllerPass(v(), { now: T0 + 5 }, cache, fps).putStatuses, [], 'skipped: the same list');
  owned = [...owned];
  const again = controllerPass(v(), { now: T0 + 6 }, cache, fps);
  assert.equal(again.putStatuses.length, 1, 'a replaced list: decided again');
  // The fingerprint names the list, not its ~60 bytes per task: an equal list that is another object is a new input.
  const before = fps.get(key);
  assert.ok(before !== undefined && !owned.some((t) => before.includes(t.spec.id)), 'no task in the fingerprint');
  owned = [...owned];
  controllerPass(v(), { now: T0 + 7 }, cache, fps);
  assert.notEqual(fps.get(key), before);
});
