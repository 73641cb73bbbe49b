// judgeCommit: what a forge is told about a commit, from what the store says about it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterEvent, RolloutResult } from '../../../api/index.ts';
import { emptySyncStatus, judgeCommit, type ChangedWorkload, type SyncStatus, type WorkloadStatus } from '../../../reconciler/index.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const R = 'c'.repeat(40);
const now = '2026-12-04T16:00:00.000Z';

function status(over: Partial<SyncStatus>): SyncStatus {
  return { ...emptySyncStatus('main'), ...over };
}
const entry = (revision: string, result: 'Applied' | 'Unchanged' | 'Stalled' | 'Failed', message = '') => ({ revision, result, message, startedAt: now, durationMs: 5, phases: [] });
function workload(over: Partial<WorkloadStatus>): WorkloadStatus {
  return { kind: 'Job', namespace: 'default', name: 'web', observedGeneration: 2, templateHash: 'h', desired: 3, current: 3, ready: 3, updated: 3, conditions: [], updatedAt: now, ...over };
}
const web = (st?: WorkloadStatus, type: ChangedWorkload['type'] = 'service'): ChangedWorkload => ({ kind: 'Job', namespace: 'default', name: 'web', generation: 2, type, ...(st ? { status: st } : {}) });
const failed = (revision: string): RolloutResult => ({
  revision, object: { kind: 'Job', namespace: 'default', name: 'web' }, generation: 2, templateHash: 'h', reason: 'CrashLoop', message: 'task default.web.0 restarted 5 times',
  tasks: [], failedAt: now,
});
const rolledBack = (revision: string, revert: string): ClusterEvent => ({
  time: now, type: 'Normal', reason: 'RolledBack', object: { kind: 'Source', name: 'main' }, source: 'reconciler',
  message: `rollout of Job default/web at ${revision.slice(0, 12)} failed: committed revert ${revert.slice(0, 12)} on main`,
});

test('a commit the reconciler has not seen has no status', () => {
  assert.equal(judgeCommit({ revision: A, source: status({ lastAttemptedRevision: B }), rollbacks: [] }), undefined);
});

test('seen and reconciling is pending, whatever the phase (a forge keeps every status posted)', () => {
  const v = judgeCommit({ revision: A, source: status({ lastAttemptedRevision: A, phase: 'apply' }), rollbacks: [] });
  assert.deepEqual(v, { revision: A, state: 'pending', description: 'reconciling' });
  assert.deepEqual(judgeCommit({ revision: A, source: status({ lastAttemptedRevision: A, phase: 'health' }), rollbacks: [] }), v);
});

test('applied while its workloads roll out is pending; all rolled out is success', () => {
  const s = status({ lastAttemptedRevision: A, lastAppliedRevision: A, history: [entry(A, 'Applied')] });
  const rolling = judgeCommit({ revision: A, source: s, rollbacks: [], changed: [web(workload({ updated: 1, ready: 2, current: 4, rollout: { phase: 'Progressing' } as WorkloadStatus['rollout'] }))] });
  assert.equal(rolling?.state, 'pending');
  assert.equal(rolling!.description, 'applied; rolling out Job default/web');
  const stale = judgeCommit({ revision: A, source: s, rollbacks: [], changed: [web(workload({ observedGeneration: 1 }))] });
  assert.deepEqual(stale, rolling, 'not yet observed is rolling out too');
  const done = judgeCommit({ revision: A, source: s, rollbacks: [], changed: [web(workload({}))] });
  assert.deepEqual(done, { revision: A, state: 'success', description: 'applied and rolled out (1 workload)' });
  assert.equal(judgeCommit({ revision: A, source: s, rollbacks: [], changed: [] })?.state, 'success', 'a commit changing no workload');
});

test('a batch job counts once its tasks are out; a failed one fails the commit', () => {
  const s = status({ lastAttemptedRevision: A, lastAppliedRevision: A, history: [entry(A, 'Applied')] });
  const running = workload({ batch: { phase: 'Running' as never, succeeded: 0, failed: 0, active: 3, startedAt: now } });
  assert.equal(judgeCommit({ revision: A, source: s, rollbacks: [], changed: [web(running, 'batch')] })?.state, 'success');
  const bad = workload({ batch: { phase: 'Failed', succeeded: 0, failed: 3, active: 0, startedAt: now, reason: 'BackoffLimitExceeded' } });
  const v = judgeCommit({ revision: A, source: s, rollbacks: [], changed: [web(bad, 'batch')] });
  assert.equal(v?.state, 'failure');
  assert.match(v!.description, /job failed: BackoffLimitExceeded/);
});

test('a failed rollout is a failure with the reason, and gains the revert once one is committed', () => {
  const s = status({ lastAttemptedRevision: A, lastAppliedRevision: A, failedRollouts: [failed(A)], history: [entry(A, 'Applied')] });
  const first = judgeCommit({ revision: A, source: s, rollbacks: [] });
  assert.deepEqual(first, { revision: A, state: 'failure', description: 'rollout failed: Job default/web: CrashLoop: task default.web.0 restarted 5 times' });
  const withEvent = judgeCommit({ revision: A, source: s, rollbacks: [rolledBack(A, R)] });
  assert.equal(withEvent?.revert, R.slice(0, 12));
  assert.match(withEvent!.description, /^rollout failed, reverted by cccccccccccc: Job default\/web: CrashLoop/);
  // After the revert applied, failedRollouts is empty: the event (or Git) still says what happened.
  const later = status({ lastAttemptedRevision: R, lastAppliedRevision: R, history: [entry(R, 'Applied'), entry(A, 'Applied')] });
  const fromGit = judgeCommit({ revision: A, source: later, rollbacks: [], revert: R });
  assert.equal(fromGit?.state, 'failure', 'never "success, superseded" for a reverted commit');
  assert.equal(fromGit?.revert, R);
  assert.equal(judgeCommit({ revision: A, source: later, rollbacks: [rolledBack(A, R)] })?.state, 'failure');
});

test('a rollback that could not revert still fails the commit and says why', () => {
  const ev: ClusterEvent = { ...rolledBack(A, R), reason: 'RevertConflict', message: `rollout of Job default/web at ${A.slice(0, 12)} failed; holding at the last good revision: reverting conflicts` };
  const v = judgeCommit({ revision: A, source: status({ lastAttemptedRevision: B }), rollbacks: [ev] });
  assert.equal(v?.state, 'failure');
  assert.equal(v?.revert, undefined);
  assert.match(v!.description, /^rollout failed, RevertConflict: /);
});

test('a refused commit fails; a retried one stays pending; a superseded applied one succeeded', () => {
  const stalled = status({ lastAttemptedRevision: B, lastAppliedRevision: A, history: [entry(B, 'Stalled', 'jobs/web.yaml:3:1 E_SCHEMA ...'), entry(A, 'Applied')] });
  assert.deepEqual(judgeCommit({ revision: B, source: stalled, rollbacks: [] }), { revision: B, state: 'failure', description: 'not applied: jobs/web.yaml:3:1 E_SCHEMA ...' });
  const retrying = status({ lastAttemptedRevision: B, history: [entry(B, 'Failed', 'store unavailable')] });
  assert.equal(judgeCommit({ revision: B, source: retrying, rollbacks: [] })?.state, 'pending');
  const superseded = status({ lastAttemptedRevision: B, lastAppliedRevision: B, history: [entry(B, 'Applied'), entry(A, 'Applied')] });
  assert.deepEqual(judgeCommit({ revision: A, source: superseded, rollbacks: [] }), { revision: A, state: 'success', description: 'applied; superseded by bbbbbbbbbbbb' });
});
