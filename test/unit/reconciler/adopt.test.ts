// After a store rebuild: tasks re-created from Git take the ids of the instances agents still run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyObject, DaemonSet, Job, TaskSpec, TaskStatus } from '../../../api/index.ts';
import { adoptReported, controllerPass, nextDesiredRecord, type ClusterView, type DesiredRecord } from '../../../reconciler/index.ts';
import { T0, node } from './builders.ts';

const NOW = new Date(T0).toISOString();
const rec = (o: AnyObject): DesiredRecord => nextDesiredRecord(undefined, o, { type: 'git', revision: 'c1' }, NOW);
const web: Job = { apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web', namespace: 'default' }, spec: { type: 'service', replicas: 3, template: { image: 'web:1' } } };
const logger: DaemonSet = { apiVersion: 'gitcell.io/v1', kind: 'DaemonSet', metadata: { name: 'logger', namespace: 'default' }, spec: { template: { image: 'log:1' } } } as DaemonSet;

function view(objects: DesiredRecord[], statuses: TaskStatus[], tasks: TaskSpec[] = []): ClusterView {
  return {
    desired: new Map(objects.map((r) => [r.key, r])),
    tasks: new Map(tasks.map((t) => [t.id, t])),
    statuses: new Map(statuses.map((s) => [s.taskId, s])),
    nodes: [node('n1'), node('n2')],
    objectStatuses: new Map(),
  };
}

const report = (taskId: string, nodeName: string, templateHash: string, over: Partial<TaskStatus> = {}): TaskStatus => ({
  taskId, node: nodeName, templateHash, state: 'running', ready: true, restarts: 0, unclaimed: true, updatedAt: NOW, ...over,
});

/** What a first pass on an empty store creates: the ids agents would report from an earlier life, under another generation. */
function fresh(objects: DesiredRecord[]): TaskSpec[] {
  return controllerPass(view(objects, []), { now: T0 }).createTasks;
}

test('adoptReported: each re-created task takes the id and node of the unclaimed instance of its slot and template', () => {
  const created = fresh([rec(web)]);
  assert.equal(created.length, 3);
  const hash = created[0]!.templateHash;
  // Earlier ids: same slots, another generation's short hash.
  const statuses = [report('default.web.0-0123456789', 'n1', hash), report('default.web.1-0123456789', 'n2', hash), report('default.web.2-0123456789', 'n1', hash)];
  const out = controllerPass(view([rec(web)], statuses), { now: T0 }).createTasks;
  assert.deepEqual(out.map((t) => [t.id, t.runningOn, t.index]).sort(), [
    ['default.web.0-0123456789', 'n1', 0],
    ['default.web.1-0123456789', 'n2', 1],
    ['default.web.2-0123456789', 'n1', 2],
  ]);
});

test('adoptReported: another template, a claimed report, a claimed (bound) task or another job is never adopted', () => {
  const created = fresh([rec(web)]);
  const hash = created[0]!.templateHash;
  const statuses = [
    report('default.web.0-0123456789', 'n1', 'other-template'),
    report('default.web.1-0123456789', 'n1', hash, { unclaimed: false }),
    report('default.webx.2-0123456789', 'n1', hash),
    report('default.web.2-0123456789', 'n2', hash),
  ];
  const existing = { ...created[2]!, id: 'default.web.2-0123456789' };
  const out = adoptReported(created, new Map([[existing.id, existing]]), statuses);
  assert.deepEqual(out.map((t) => t.id), created.map((t) => t.id));
  assert.ok(out.every((t) => t.runningOn === undefined));
});

test('adoptReported: a report is adopted once, running preferred; adopted tasks come first', () => {
  const created = fresh([rec(web)]);
  const hash = created[0]!.templateHash;
  const statuses = [report('default.web.1-aaaaaaaaaa', 'n1', hash, { state: 'backoff' }), report('default.web.1-bbbbbbbbbb', 'n2', hash)];
  const out = adoptReported(created, new Map(), statuses);
  assert.deepEqual(out.map((t) => t.id), ['default.web.1-bbbbbbbbbb', created[0]!.id, created[2]!.id]);
  assert.equal(out[0]!.runningOn, 'n2');
});

test('adoptReported: DaemonSet tasks match by node; batch retries keep their attempt suffix', () => {
  const ds = fresh([rec(logger)]);
  assert.equal(ds.length, 2);
  const hash = ds[0]!.templateHash;
  const out = adoptReported(ds, new Map(), [report('default.logger.n2-0123456789', 'n2', hash), report('default.logger.n1-0123456789-2', 'n1', hash)]);
  assert.deepEqual(out.map((t) => [t.nodeName, t.id, t.runningOn]).sort(), [
    ['n1', 'default.logger.n1-0123456789-2', 'n1'],
    ['n2', 'default.logger.n2-0123456789', 'n2'],
  ]);
});
