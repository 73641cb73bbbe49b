// The core end to end: equivalence classes, caching, sampling, bad input, snapshots from records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, naiveSchedule, previewPlacement, schedule, Scheduling, type SchedTask } from '../../../scheduler/index.ts';
import type { NodeRecord, TaskSpec } from '../../../api/index.ts';
import { Cluster, Gi, MakeNode, MakeTask, nodeRecord, taskSpec, tasksOf } from './builders.ts';
import { FilterInsufficientMemory } from '../../../scheduler/index.ts';

const nodes = (n: number) => Array.from({ length: n }, (_, i) => MakeNode(`n${String(i).padStart(3, '0')}`).Obj());

test('equivalence classes: one class per job and template, shared by its tasks', () => {
  const tasks = [...tasksOf('web', 30), ...tasksOf('db', 5), ...tasksOf('web2', 3, (b) => b.Job('Job/default/web').Template('h2'))];
  const r = schedule(Cluster(nodes(20)), tasks, { seed: 1 });
  assert.equal(r.placements.length, 38);
  assert.equal(r.stats.classes, 3);
});

test('score caching: unchanged candidate nodes are not scored again', () => {
  const r = schedule(Cluster(nodes(50)), tasksOf('web', 200), { seed: 1 });
  assert.equal(r.placements.length, 200);
  assert.ok(r.stats.cacheHits > r.stats.nodesScored, JSON.stringify(r.stats));
});

test('relaxed randomisation: a sample of the nodes is examined, not all of them per task', () => {
  const tasks = tasksOf('web', 100);
  const r = schedule(Cluster(nodes(500)), tasks, { seed: 1, sampleSize: 8, explore: 1 });
  assert.equal(r.placements.length, 100);
  // Naive work would be 100 tasks x 500 nodes = 50,000 filter passes.
  assert.ok(r.stats.nodesFiltered < 2_000, JSON.stringify(r.stats));
});

test('sampling never misses the one feasible node', () => {
  const all = nodes(300).map((n, i) => (i === 217 ? { ...n, labels: { gpu: 'yes' } } : n));
  const r = schedule(Cluster(all), [MakeTask('g-0').Selector('gpu', 'yes').Obj()], { seed: 9, sampleSize: 2, scanBudget: 3 });
  assert.equal(r.placements[0]?.node, 'n217');
});

test('a class that fits nowhere is explained once and the same for its other tasks', () => {
  const r = schedule(Cluster(nodes(3)), tasksOf('big', 4, (b) => b.Req(100, 32 * Gi)), { seed: 1 });
  assert.equal(r.unplaced.length, 4);
  for (const u of r.unplaced) assert.equal(u.message, `0/3 nodes fit: 3 ${FilterInsufficientMemory}`);
  assert.deepEqual(r.unplaced[0]!.reasons, [{ filter: 'resources', reason: FilterInsufficientMemory, nodes: 3 }]);
});

test('core agrees with the naive baseline on feasibility', () => {
  const ns = nodes(10);
  const tasks = [...tasksOf('a', 25, (b) => b.Req(700, 3 * Gi)), ...tasksOf('b', 20, (b) => b.Req(300, 1 * Gi).Priority(50))];
  const core = schedule(Cluster(ns), tasks, { seed: 2 });
  const naive = naiveSchedule(Cluster(ns), tasks, { seed: 2 });
  assert.equal(core.placements.length, naive.placements.length);
});

test('preempted tasks are pending again, not re-placed in the same pass', () => {
  const running = [MakeTask('low-0').Priority(10).Req(4000, 1 * Gi).Running('n000')];
  const r = schedule(Cluster(nodes(1), running), [MakeTask('hi-0').Priority(500).Req(4000, 1 * Gi).Obj()], { seed: 1 });
  assert.deepEqual(r.preemptions.map((p) => [p.taskId, p.node, p.preemptor]), [['low-0', 'n000', 'hi-0']]);
  assert.ok(!r.placements.some((p) => p.taskId === 'low-0'));
});

test('bad input is reported, never thrown', () => {
  const bad = [
    { ...MakeTask('neg-0').Obj(), template: { ...MakeTask('x').Obj().template, resources: { requests: { cpuMillis: -1, memoryBytes: 1 } } } },
    { ...MakeTask('pri-0').Obj(), priority: 5000 },
    { ...MakeTask('noreq-0').Obj(), template: {} },
    { ...MakeTask('noid-0').Obj(), id: '' },
  ] as unknown as SchedTask[];
  const r = schedule(Cluster(nodes(2)), [...bad, MakeTask('ok-0').Obj()], { seed: 1 });
  assert.equal(r.placements.length, 1);
  assert.equal(r.unplaced.length, 4);
  const msgs = r.unplaced.map((u) => u.message).sort();
  assert.deepEqual(msgs, [
    'invalid task: field id: must be a non-empty string',
    'invalid task: field priority: must be an integer 0..1000',
    'invalid task: field template.resources.requests.cpuMillis: must be a number >= 0',
    'invalid task: field template.resources.requests: missing',
  ]);
});

test('an empty cluster says so', () => {
  const r = schedule(Cluster([]), [MakeTask('t-0').Obj()], { seed: 1 });
  assert.equal(r.unplaced[0]!.message, '0/0 nodes fit: the cluster has no nodes');
});

test('previewPlacement touches nothing and gives the same answer as schedule', () => {
  const snap = Cluster(nodes(5), [MakeTask('r-0').Running('n001')]);
  const before = JSON.stringify(snap);
  const tasks = tasksOf('new', 7);
  const a = previewPlacement(snap, tasks, { seed: 4 });
  assert.equal(JSON.stringify(snap), before);
  assert.deepEqual(a.placements, schedule(snap, tasks, { seed: 4 }).placements);
});

test('buildSnapshot: spec labels/taints merge, cordon and drain, heartbeat grace, bindings split pending', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const rec = (name: string, beat: string): NodeRecord => nodeRecord(name, beat, { labels: { zone: 'a' }, runtime: { runc: '1.1.5', kernel: '6', agentVersion: '0' } });
  const task = (id: string): TaskSpec => taskSpec(MakeTask(id));
  const { snapshot, pending } = buildSnapshot(
    {
      nodes: [rec('live', '2026-01-01T00:00:50Z'), rec('dead', '2026-01-01T00:00:00Z'), rec('drained', '2026-01-01T00:00:59Z')],
      nodeSpecs: new Map([
        ['live', { cordoned: false, draining: false, labels: { disk: 'ssd' }, taints: [{ key: 'k', effect: 'NoSchedule' as const }] }],
        ['drained', { cordoned: false, draining: true }],
      ]),
      tasks: [task('a-0'), task('b-0')],
      bindings: new Map([['a-0', { taskId: 'a-0', node: 'live', boundAt: '', schedulerTerm: 1 }]]),
    },
    now,
    30_000,
  );
  const byName = new Map(snapshot.nodes.map((n) => [n.name, n]));
  assert.deepEqual(byName.get('live')!.labels, { zone: 'a', disk: 'ssd' });
  assert.equal(byName.get('live')!.taints.length, 1);
  assert.equal(byName.get('live')!.ready, true);
  assert.equal(byName.get('dead')!.ready, false);
  assert.equal(byName.get('drained')!.cordoned, true);
  assert.deepEqual(snapshot.running.map((r) => r.task.id), ['a-0']);
  assert.deepEqual(pending.map((t) => t.id), ['b-0']);
});

test('capacity freed by a preemption is offered again to classes that had found nothing', () => {
  // Both nodes are full of low tasks. hi-0 evicts low-a (the cheapest: one victim) and leaves
  // 3000m free on that node; hi-1 and hi-2 then fit there without evicting anything more.
  const running = [MakeTask('lowa-0').Priority(10).Req(4000, 1 * Gi).Running('n000'), MakeTask('lowb-0').Priority(20).Req(4000, 1 * Gi).Running('n001')];
  const r = schedule(Cluster(nodes(2), running), tasksOf('hi', 3, (b) => b.Priority(500).Req(1000, 1 * Gi)), { seed: 1 });
  assert.deepEqual(r.preemptions.map((p) => p.taskId), ['lowa-0']);
  assert.deepEqual(r.placements.map((p) => [p.taskId, p.node]), [['hi-0', 'n000'], ['hi-1', 'n000'], ['hi-2', 'n000']]);
});

test('Scheduling decides the same however it is sliced: placements, preemptions and reasons', () => {
  // A cell with room for some, preemption for others, and a class that fits nowhere.
  const running = [MakeTask('low-0').Priority(10).Req(4000, 1 * Gi).Running('n000')];
  const pending = [
    ...tasksOf('a', 30, (b) => b.Req(700, 3 * Gi)),
    ...tasksOf('hi', 2, (b) => b.Priority(500).Req(4000, 1 * Gi)),
    ...tasksOf('huge', 3, (b) => b.Req(100, 64 * Gi)),
  ];
  const whole = schedule(Cluster(nodes(8), running), pending, { seed: 'slices' });
  for (const n of [1, 7]) {
    const s = new Scheduling(Cluster(nodes(8), running), pending, { seed: 'slices' });
    let steps = 0;
    while (s.step(n)) steps++;
    assert.ok(steps >= Math.floor(pending.length / n) - 1, `sliced in ${n}s`);
    const r = s.result();
    assert.deepEqual(r.placements, whole.placements, `placements, slices of ${n}`);
    assert.deepEqual(r.preemptions, whole.preemptions, `preemptions, slices of ${n}`);
    assert.deepEqual(r.unplaced, whole.unplaced, `reasons, slices of ${n}`);
  }
  assert.ok(whole.placements.length > 0 && whole.preemptions.length > 0 && whole.unplaced.length > 0, 'every kind of outcome is covered');
});
