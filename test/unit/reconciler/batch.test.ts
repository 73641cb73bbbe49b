import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeBatchJob, type WorkloadStatus } from '../../../reconciler/controllers/index.ts';
import type { BatchFields } from '../../../api/index.ts';
import { Cluster, T0, workload } from './builders.ts';

const job = workload('job:1', { type: 'batch', name: 'etl' });
function step(c: Cluster, batch: BatchFields, prev: WorkloadStatus | undefined, now = T0) {
  const r = computeBatchJob({ job, batch, tasks: c.views(), prev }, { now });
  c.apply(r.create, r.delete);
  return r;
}

test('batch job: runs completions with at most parallelism tasks, then Complete and cleans up', () => {
  const c = new Cluster();
  const batch = { completions: 5, parallelism: 2 };
  let r = step(c, batch, undefined);
  assert.deepEqual(r.create.map((t) => t.index), [0, 1]);
  assert.equal(r.create[0]!.type, 'batch');
  assert.equal(r.create[0]!.template.restartPolicy, 'OnFailure');
  let guard = 0;
  while (r.status.batch?.phase === 'Running' && guard++ < 20) {
    for (const t of c.views()) if (!t.status) c.set(t.spec.id, 'succeeded', false, { exitCode: 0 });
    r = step(c, batch, r.status);
    assert.ok(c.views().filter((t) => !t.status).length <= 2, 'never more than parallelism running');
  }
  assert.equal(r.status.batch?.phase, 'Complete');
  assert.equal(r.status.batch?.succeeded, 5);
  assert.equal(c.tasks.size, 0, 'finished tasks are deleted after the status is written');
  assert.equal(r.status.conditions.find((x) => x.type === 'Complete')?.status, 'True');
  // Final: a later run changes nothing and reports nothing new.
  const again = step(c, batch, r.status);
  assert.deepEqual([again.create.length, again.delete.length, again.events.length, again.status.batch?.succeeded], [0, 0, 0, 5]);
});

test('batch job: failed tasks are retried with attempt ids until backoffLimit is exceeded', () => {
  const c = new Cluster();
  const batch = { completions: 1, backoffLimit: 2 };
  let r = step(c, batch, undefined);
  const ids: string[] = [];
  // Attempts 0, 1, 2 fail: failures 1, 2 (<= limit, retried), 3 (> 2: Failed).
  for (let attempt = 0; attempt < 3; attempt++) {
    const t = c.views().find((v) => !v.status)!;
    ids.push(t.spec.id);
    c.set(t.spec.id, 'failed', false, { exitCode: 2 });
    r = step(c, batch, r.status);
  }
  assert.match(ids[1]!, /-1$/);
  assert.match(ids[2]!, /-2$/);
  assert.equal(new Set(ids).size, 3);
  assert.equal(r.status.batch?.phase, 'Failed');
  assert.equal(r.status.batch?.reason, 'BackoffLimitExceeded');
  assert.equal(r.status.batch?.failed, 3);
  assert.equal(c.tasks.size, 0);
});

test('batch job: in-place restarts count against backoffLimit', () => {
  const c = new Cluster();
  let r = step(c, { backoffLimit: 3 }, undefined);
  const id = c.views()[0]!.spec.id;
  c.set(id, 'backoff', false, { restarts: 4 });
  r = step(c, { backoffLimit: 3 }, r.status);
  assert.equal(r.status.batch?.phase, 'Failed');
});

test('batch job: activeDeadlineSeconds fails a job that runs too long', () => {
  const c = new Cluster();
  let r = step(c, { activeDeadlineSeconds: 30 }, undefined, T0);
  c.set(c.views()[0]!.spec.id, 'running', true);
  r = step(c, { activeDeadlineSeconds: 30 }, r.status, T0 + 30_000);
  assert.equal(r.status.batch?.phase, 'Running');
  r = step(c, { activeDeadlineSeconds: 30 }, r.status, T0 + 31_000);
  assert.deepEqual([r.status.batch?.phase, r.status.batch?.reason], ['Failed', 'DeadlineExceeded']);
  assert.equal(c.tasks.size, 0, 'the running task is stopped');
});
