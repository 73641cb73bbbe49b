// Git stays the truth: the controllers run the autoscaler's live count (never Git's replicas while
// autoscaled, never writing it anywhere), a new live count wakes a Job at rest, removing the block
// returns to Git's replicas, and `plan` says what a commit will actually do to an autoscaled Job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveReplicas, type AnyObject, type AutoscaleRecord, type Job, type TaskSpec } from '../../../api/index.ts';
import { computeRevisionPlan, controllerPass, nextDesiredRecord, type ClusterView, type DesiredRecord, type SyncRecord } from '../../../reconciler/index.ts';
import { scaleDownOrder } from '../../../reconciler/controllers/index.ts';
import { T0, node } from './builders.ts';

const NOW = new Date(T0).toISOString();
const rec = (o: AnyObject) => nextDesiredRecord(undefined, o, { type: 'git', revision: 'c1' }, NOW);
const job = (over: Partial<Job['spec']> = {}): Job => ({
  apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web', namespace: 'default' },
  spec: { type: 'service', replicas: 2, template: { image: 'web:1' }, ...over },
});
const autoscale = { minReplicas: 2, maxReplicas: 6, metrics: [{ resource: 'cpu' as const, targetAverageUtilization: 50 }] };
const record = (replicas: number): AutoscaleRecord => ({ namespace: 'default', name: 'web', replicas, recommendations: [], scaleEvents: [], decisions: [], updatedAt: NOW });
function view(o: DesiredRecord, live?: number, tasks: TaskSpec[] = [], statuses = new Map<string, SyncRecord>()): ClusterView {
  return {
    desired: new Map([[o.key, o]]), tasks: new Map(tasks.map((t) => [t.id, t])), statuses: new Map(), nodes: [node('n1')], objectStatuses: statuses,
    ...(live !== undefined ? { autoscale: new Map([['default.web', record(live)]]) } : {}),
  };
}

test('liveReplicas: Git without a block; the record within the bounds Git has now; the start before a decision', () => {
  assert.equal(liveReplicas({ replicas: 3 }), 3);
  assert.equal(liveReplicas({ replicas: 3, autoscale }, record(5)), 5);
  assert.equal(liveReplicas({ replicas: 3, autoscale: { ...autoscale, maxReplicas: 4 } }, record(5)), 4);
  assert.equal(liveReplicas({ replicas: 1, autoscale }), 2);
});

test('controllers run the live count, and a new count wakes a Job at rest', () => {
  const o = rec(job({ autoscale }));
  const fp = new Map<string, string>();
  const r1 = controllerPass(view(o, 4), { now: T0 }, new Map(), fp);
  assert.equal(r1.createTasks.length, 4, 'the autoscaler said 4, Git says 2: 4 run');
  const statuses = new Map(r1.putStatuses.map((s) => [s.key, s.value]));
  // At rest with the same inputs: skipped; with a new live count: decided again.
  const rest = { ...statuses.get('object.Job.default.web')!, rollout: { ...(statuses.get('object.Job.default.web') as { rollout: object }).rollout, phase: 'Complete' } } as SyncRecord;
  const at = new Map([['object.Job.default.web', rest]]);
  controllerPass(view(o, 4, r1.createTasks, at), { now: T0 + 1 }, new Map(), fp);
  assert.equal(controllerPass(view(o, 4, r1.createTasks, at), { now: T0 + 2 }, new Map(), fp).deleteTasks.length, 0);
  const down = controllerPass(view(o, 3, r1.createTasks, at), { now: T0 + 3 }, new Map(), fp);
  assert.equal(down.deleteTasks.length, 1, 'the live count went 4 -> 3');
  // The block removed: Git's 2 again.
  const gitOnly = controllerPass(view(rec(job()), 4, r1.createTasks, at), { now: T0 + 4 }, new Map(), fp);
  assert.equal(gitOnly.deleteTasks.length, 2);
});

test('plan: a commit changing replicas of an autoscaled Job says the autoscaler keeps its count', () => {
  const current = [rec(job({ autoscale }))];
  const plan = (spec: Partial<Job['spec']>, live?: number) =>
    computeRevisionPlan({ ref: { name: 'HEAD', commit: 'c2' }, base: { name: 'live' }, objects: [job(spec)], problems: [], current, ...(live ? { autoscale: new Map([['default.web', record(live)]]) } : {}), now: T0 }).rollout;
  assert.deepEqual(plan({ replicas: 5, autoscale }, 4), [{ key: 'Job/default/web', action: 'autoscaled', summary: 'replicas 2 -> 5 in Git changes nothing while autoscaled (used again only if autoscale is removed); the autoscaler keeps 4 tasks (bounds 2..6)' }]);
  assert.match(plan({ replicas: 2, autoscale: { ...autoscale, maxReplicas: 3 } }, 4)[0]!.summary, /bounds now 2\.\.3: the live count goes from 4 to 3/);
  assert.match(plan({ replicas: 2 }, 4)[0]!.summary, /autoscale removed: back to the Git replicas, from 4 to 2 tasks/);
  // A template change rolls the live count, not Git's.
  assert.match(plan({ replicas: 2, autoscale, template: { image: 'web:2' } }, 5)[0]!.summary, /rolling update of 5 tasks/);
});

test('scale-down removes what the job would miss least: unplaced, not running, unready, then the most crowded node, restarts, newest', () => {
  const spec = (i: number) => ({ id: `default.web.${i}-h`, index: i, templateHash: 'h' }) as TaskSpec;
  const st = (i: number, node: string, state: 'running' | 'starting', ready: boolean, restarts = 0) => ({ spec: spec(i), status: { taskId: spec(i).id, node, templateHash: 'h', state, ready, restarts, updatedAt: NOW } });
  const order = scaleDownOrder([
    st(0, 'n1', 'running', true), st(1, 'n1', 'running', true), st(2, 'n2', 'running', true), st(3, 'n2', 'running', true, 2), st(4, 'n1', 'running', true),
    st(5, 'n2', 'running', false), st(6, 'n2', 'starting', false), { spec: spec(7) },
  ]).map((t) => t.spec.index);
  // 7 has no status, 6 is starting, 5 is unready; then the ready ones of n2 (4 tasks of the job) before
  // n1's (3): 3 (2 restarts), 2; then n1's newest first: 4, 1, 0.
  assert.deepEqual(order, [7, 6, 5, 3, 2, 4, 1, 0]);
});
