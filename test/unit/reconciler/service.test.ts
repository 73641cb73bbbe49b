import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeServiceJob, type WorkloadSpec, type WorkloadStatus } from '../../../reconciler/controllers/index.ts';
import { Cluster, T0, workload } from './builders.ts';
import { Rng } from './rng.ts';

function run(c: Cluster, job: WorkloadSpec, replicas: number, prev: WorkloadStatus | undefined, now: number) {
  const r = computeServiceJob({ job, replicas, tasks: c.views(), prev }, { now });
  c.apply(r.create, r.delete);
  return r;
}

// Bring a job up to `replicas` ready tasks of `job`'s template.
function steady(replicas: number, job: WorkloadSpec): { c: Cluster; prev: WorkloadStatus } {
  const c = new Cluster();
  let r = run(c, job, replicas, undefined, T0);
  for (const t of c.views()) c.set(t.spec.id, 'running', true);
  r = run(c, job, replicas, r.status, T0 + 1000);
  assert.equal(r.status.rollout?.phase, 'Complete');
  return { c, prev: r.status };
}

test('service job: creates replicas tasks with stable DNS-label ids and nothing more once ready', () => {
  const job = workload('img:1');
  const c = new Cluster();
  const r = computeServiceJob({ job, replicas: 3, tasks: [], prev: undefined }, { now: T0 });
  assert.equal(r.create.length, 3);
  assert.deepEqual(r.create.map((t) => t.index), [0, 1, 2]);
  for (const t of r.create) assert.match(t.id, /^default\.web\.[0-9]+-[0-9a-f]{10}$/);
  // Same input, same ids: the decision is deterministic.
  assert.deepEqual(computeServiceJob({ job, replicas: 3, tasks: [] }, { now: T0 }).create.map((t) => t.id), r.create.map((t) => t.id));
  c.apply(r.create, r.delete);
  for (const t of c.views()) c.set(t.spec.id, 'running', true);
  const again = computeServiceJob({ job, replicas: 3, tasks: c.views(), prev: r.status }, { now: T0 + 1 });
  assert.deepEqual([again.create.length, again.delete.length], [0, 0]);
  assert.equal(again.status.ready, 3);
  assert.equal(again.status.rollout?.phase, 'Complete');
});

test('service job: scales down unready tasks first, highest index first', () => {
  const job = workload('img:1');
  const { c, prev } = steady(4, job);
  const ids = c.views().map((t) => t.spec).sort((a, b) => a.index - b.index).map((t) => t.id);
  c.set(ids[1]!, 'running', false);
  const r = computeServiceJob({ job, replicas: 2, tasks: c.views(), prev }, { now: T0 + 5000 });
  // Remove 2: the unready index 1 first, then the highest ready index 3.
  assert.deepEqual(r.delete.sort(), [ids[1]!, ids[3]!].sort());
  assert.equal(r.create.length, 0);
});

test('service job: a count change is one Scaled event per step (up: queued by priority; down: the least missed first), none at rest', () => {
  const job = workload('img:1');
  const { c, prev } = steady(3, job);
  const up = run(c, job, 6, prev, T0 + 5000);
  assert.deepEqual(up.events.filter((e) => e.reason === 'Scaled').map((e) => e.message), ['scaled from 3 to 6 tasks: 3 new tasks queued for the scheduler by priority']);
  const rest = run(c, job, 6, up.status, T0 + 6000);
  assert.deepEqual(rest.events.filter((e) => e.reason === 'Scaled'), []);
  const down = run(c, job, 2, rest.status, T0 + 7000);
  assert.equal(down.delete.length, 4);
  assert.deepEqual(down.events.filter((e) => e.reason === 'Scaled').map((e) => e.message), ['scaled from 6 to 2 tasks: 4 removed, the ones the job would miss least first']);
});

test('service job: a task that ended for good is replaced under a fresh id', () => {
  const job = workload('img:1');
  const { c, prev } = steady(2, job);
  const victim = c.views()[0]!.spec;
  c.set(victim.id, 'failed', false, { exitCode: 1 });
  const r = computeServiceJob({ job, replicas: 2, tasks: c.views(), prev }, { now: T0 + 9000 });
  assert.deepEqual(r.delete, [victim.id]);
  assert.equal(r.create.length, 1);
  assert.equal(r.create[0]!.index, victim.index);
  assert.notEqual(r.create[0]!.id, victim.id);
});

// The rolling update table: [replicas, maxSurge, maxUnavailable] and the expected step bounds.
const rollingCases: { replicas: number; maxSurge?: number | string; maxUnavailable?: number | string; minReady: number; maxTotal: number }[] = [
  { replicas: 4, maxSurge: 1, maxUnavailable: 1, minReady: 3, maxTotal: 5 },
  { replicas: 4, maxSurge: 0, maxUnavailable: 1, minReady: 3, maxTotal: 4 },
  { replicas: 4, maxSurge: 2, maxUnavailable: 0, minReady: 4, maxTotal: 6 },
  { replicas: 10, minReady: 8, maxTotal: 13 }, // defaults 25%: unavailable floor(2.5)=2, surge ceil(2.5)=3
  { replicas: 5, maxSurge: '40%', maxUnavailable: '20%', minReady: 4, maxTotal: 7 }, // 40% of 5 = 2, 20% of 5 = 1
  { replicas: 3, maxSurge: 0, maxUnavailable: 0, minReady: 2, maxTotal: 3 }, // both 0: unavailable becomes 1
  { replicas: 1, maxSurge: 1, maxUnavailable: 0, minReady: 1, maxTotal: 2 },
  { replicas: 6, maxSurge: 0, maxUnavailable: 6, minReady: 0, maxTotal: 6 },
];

for (const tc of rollingCases) {
  test(`rolling update replicas=${tc.replicas} surge=${tc.maxSurge ?? 'default'} unavailable=${tc.maxUnavailable ?? 'default'} keeps >=${tc.minReady} ready, <=${tc.maxTotal} tasks at every step`, () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Rng(seed);
      const strategy = { ...(tc.maxSurge !== undefined ? { maxSurge: tc.maxSurge } : {}), ...(tc.maxUnavailable !== undefined ? { maxUnavailable: tc.maxUnavailable } : {}) };
      const v1 = workload('img:1', { strategy });
      const v2 = workload('img:2', { strategy, generation: 2, revision: 'c2' });
      let { c, prev } = steady(tc.replicas, v1);
      let now = T0 + 10_000;
      for (let step = 0; step < 200; step++) {
        const r = run(c, v2, tc.replicas, prev, now);
        prev = r.status;
        // The controller only ever deletes while the bound holds.
        assert.ok(c.readyCount() >= tc.minReady, `seed ${seed} step ${step}: ${c.readyCount()} ready < ${tc.minReady}`);
        assert.ok(c.tasks.size <= tc.maxTotal, `seed ${seed} step ${step}: ${c.tasks.size} tasks > ${tc.maxTotal}`);
        if (r.status.rollout?.phase === 'Complete') break;
        // The "agents": each pending new task starts, then becomes ready, at random steps.
        for (const t of c.views()) {
          if (t.spec.templateHash !== v2.templateHash) continue;
          if (!t.status && rng.chance(0.6)) c.set(t.spec.id, 'running', false);
          else if (t.status && !t.status.ready && rng.chance(0.5)) c.set(t.spec.id, 'running', true);
        }
        now += 1000;
      }
      assert.equal(prev.rollout?.phase, 'Complete', `seed ${seed}: rollout did not complete`);
      const tasks = c.views();
      assert.equal(tasks.length, tc.replicas);
      assert.ok(tasks.every((t) => t.spec.templateHash === v2.templateHash));
      assert.deepEqual(tasks.map((t) => t.spec.index).sort((a, b) => a - b), [...Array(tc.replicas).keys()]);
    }
  });
}

test('rolling update advances only as new tasks become ready', () => {
  const v1 = workload('img:1', { strategy: { maxSurge: 1, maxUnavailable: 0 } });
  const v2 = workload('img:2', { strategy: { maxSurge: 1, maxUnavailable: 0 }, generation: 2 });
  const { c, prev } = steady(3, v1);
  const r1 = run(c, v2, 3, prev, T0 + 10_000);
  // surge 1, unavailable 0: one new task, no old task may go yet.
  assert.deepEqual([r1.create.length, r1.delete.length], [1, 0]);
  const r2 = run(c, v2, 3, r1.status, T0 + 11_000);
  assert.deepEqual([r2.create.length, r2.delete.length], [0, 0], 'nothing moves while the new task is not ready');
  c.set(r1.create[0]!.id, 'running', true);
  const r3 = run(c, v2, 3, r2.status, T0 + 12_000);
  // The new task is ready: one old task may go (4 ready - 1 >= 3); the surge slot is taken until it has.
  assert.deepEqual([r3.create.length, r3.delete.length], [0, 1]);
  const r4 = run(c, v2, 3, r3.status, T0 + 13_000);
  assert.deepEqual([r4.create.length, r4.delete.length], [1, 0]);
});

test('a rollout with no progress past the deadline fails once, names tasks and errors, and holds', () => {
  const strategy = { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 60 };
  const v1 = workload('img:1', { strategy });
  const v2 = workload('img:2', { strategy, generation: 2, revision: 'c2' });
  const { c, prev } = steady(2, v1);
  const r1 = run(c, v2, 2, prev, T0 + 10_000);
  const newId = r1.create[0]!.id;
  c.set(newId, 'running', false, { message: 'readiness probe failed: connection refused' });
  const r2 = run(c, v2, 2, r1.status, T0 + 10_000 + 60_000);
  assert.equal(r2.failedRollout, undefined, 'exactly at the deadline is not past it');
  const r3 = run(c, v2, 2, r2.status, T0 + 10_000 + 61_000);
  assert.ok(r3.failedRollout);
  assert.equal(r3.failedRollout.reason, 'ProgressDeadlineExceeded');
  assert.equal(r3.failedRollout.revision, 'c2');
  assert.deepEqual(r3.failedRollout.object, { kind: 'Job', namespace: 'default', name: 'web' });
  assert.deepEqual(r3.failedRollout.tasks.map((t) => t.id), [newId]);
  assert.match(r3.failedRollout.tasks[0]!.lastError, /readiness probe failed/);
  assert.equal(r3.status.rollout?.phase, 'Failed');
  assert.equal(r3.status.conditions.find((x) => x.type === 'Progressing')?.status, 'False');
  // Held: nothing more is created or deleted, and the failure is not reported again.
  const r4 = run(c, v2, 2, r3.status, T0 + 200_000);
  assert.deepEqual([r4.create.length, r4.delete.length, r4.failedRollout], [0, 0, undefined]);
  // The revert (template back to v1, a new generation) starts a new rollout that removes the new task.
  const back = workload('img:1', { strategy, generation: 3, revision: 'c3' });
  const r5 = run(c, back, 2, r4.status, T0 + 201_000);
  assert.deepEqual(r5.delete, [newId]);
  assert.equal(r5.create.length, 0);
  const r6 = run(c, back, 2, r5.status, T0 + 202_000);
  assert.equal(r6.status.rollout?.phase, 'Complete');
});

test('a crash-looping new task fails the rollout before the deadline', () => {
  const v1 = workload('img:1');
  const v2 = workload('img:2', { generation: 2, revision: 'c2' });
  const { c, prev } = steady(4, v1);
  const r1 = run(c, v2, 4, prev, T0 + 10_000);
  const id = r1.create[0]!.id;
  c.set(id, 'backoff', false, { restarts: 2, exitCode: 1 });
  assert.equal(run(c, v2, 4, r1.status, T0 + 11_000).failedRollout, undefined);
  c.set(id, 'backoff', false, { restarts: 3, exitCode: 1, message: 'panic: no config' });
  const r3 = computeServiceJob({ job: v2, replicas: 4, tasks: c.views(), prev: r1.status }, { now: T0 + 12_000 });
  assert.equal(r3.failedRollout?.reason, 'CrashLoop');
  assert.match(r3.failedRollout!.tasks.find((t) => t.id === id)!.lastError, /panic: no config .*exit code 1.*3 restarts/);
});

test('progress (a new task becoming ready) resets the deadline clock', () => {
  const strategy = { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 60 };
  const v1 = workload('img:1', { strategy });
  const v2 = workload('img:2', { strategy, generation: 2 });
  const { c, prev } = steady(2, v1);
  const r1 = run(c, v2, 2, prev, T0);
  c.set(r1.create[0]!.id, 'running', true);
  const r2 = run(c, v2, 2, r1.status, T0 + 50_000);
  assert.equal(r2.status.rollout?.lastProgressAt, new Date(T0 + 50_000).toISOString());
  const r3 = run(c, v2, 2, r2.status, T0 + 100_000);
  assert.equal(r3.failedRollout, undefined, '50 s since the last progress is within the deadline');
});

test('time with no controller watching never counts against the progress deadline: a new leader gives the rollout a full deadline', () => {
  const strategy = { maxSurge: 1, maxUnavailable: 1, progressDeadlineSeconds: 60 };
  const v1 = workload('img:1', { strategy });
  const v2 = workload('img:2', { strategy, generation: 2, revision: 'c2' });
  const { c, prev } = steady(3, v1);
  // The rollout starts at T0+10 s; its new tasks are never placed (the scheduler died too), and the
  // reconciler dies right after: nothing progresses while both are down.
  let r1 = run(c, v2, 3, prev, T0 + 10_000);
  assert.ok(r1.create.length > 0);
  // A few passes take every step possible without readiness: 2 new (unplaced) beside 2 old.
  for (let i = 1; r1.create.length + r1.delete.length > 0; i++) r1 = run(c, v2, 3, r1.status, T0 + 10_000 + i * 100);
  assert.deepEqual([r1.status.updated, r1.status.current], [2, 4]);
  const down = T0 + 10_000 + 200_000; // back 200 s later: 140 s past the deadline as the wall clock goes
  // Without knowing when it began watching, the new leader fails the rollout on sight (and would revert it).
  const blind = computeServiceJob({ job: v2, replicas: 3, tasks: c.views(), prev: r1.status }, { now: down });
  assert.equal(blind.failedRollout?.reason, 'ProgressDeadlineExceeded');
  // Knowing it, the stall counts from its first look: 60 s later not yet past the deadline, 61 s later past it.
  const at = (now: number) => computeServiceJob({ job: v2, replicas: 3, tasks: c.views(), prev: r1.status }, { now, watchingSince: down });
  assert.equal(at(down).failedRollout, undefined);
  assert.equal(at(down).status.rollout?.phase, 'Progressing');
  assert.equal(at(down + 60_000).failedRollout, undefined, 'exactly a deadline after the first look is not past it');
  const late = at(down + 61_000).failedRollout;
  assert.equal(late?.reason, 'ProgressDeadlineExceeded', 'a rollout that stays stuck under the new leader still fails');
  assert.match(late!.message, /no progress for 61s \(deadline 60s\)/);
  // Progress recorded after the first look is what counts then.
  for (const t of c.views()) if (t.spec.templateHash === v2.templateHash) c.set(t.spec.id, 'running', true);
  const r2 = computeServiceJob({ job: v2, replicas: 3, tasks: c.views(), prev: r1.status }, { now: down + 30_000, watchingSince: down });
  assert.equal(r2.status.rollout?.lastProgressAt, new Date(down + 30_000).toISOString());
});
