import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CronJobSpec } from '../../../api/index.ts';
import { computeCronJob, cronJobRunName, type CronChild, type CronJobStatus } from '../../../reconciler/controllers/index.ts';

const created = '2026-03-01T00:00:00.000Z';
const at = (iso: string) => Date.parse(iso);
const spec = (over: Partial<CronJobSpec> = {}): CronJobSpec => ({ schedule: '*/10 * * * *', jobTemplate: { template: { image: 'backup:1' } }, ...over });
const cron = (s: CronJobSpec, now: string, jobs: CronChild[] = [], prev?: CronJobStatus) =>
  computeCronJob({ namespace: 'ops', name: 'backup', generation: 1, spec: s, createdAt: created, jobs, ...(prev ? { prev } : {}), now: at(now) });

test('cronjob: creates one batch Job for the latest tick, idempotently', () => {
  const r = cron(spec(), '2026-03-01T00:25:00.000Z');
  assert.equal(r.createJobs.length, 1);
  const job = r.createJobs[0]!;
  assert.equal(job.metadata.name, cronJobRunName('backup', new Date('2026-03-01T00:20:00Z')));
  assert.equal(job.metadata.name, `backup-${at('2026-03-01T00:20:00Z') / 60000}`);
  assert.equal(job.spec.type, 'batch');
  assert.equal(job.metadata.annotations?.['gitcell.io/created-by'], 'CronJob/ops/backup');
  assert.equal(r.status.lastScheduleTime, '2026-03-01T00:20:00.000Z');
  assert.equal(r.status.nextScheduleTime, '2026-03-01T00:30:00.000Z');
  // Same tick again (status saved): nothing new.
  const again = cron(spec(), '2026-03-01T00:26:00.000Z', [{ name: job.metadata.name, scheduledAt: '2026-03-01T00:20:00.000Z' }], r.status);
  assert.equal(again.createJobs.length, 0);
  // Status lost after the Job was written: the name already exists, no second Job.
  const lost = cron(spec(), '2026-03-01T00:26:00.000Z', [{ name: job.metadata.name, scheduledAt: '2026-03-01T00:20:00.000Z' }]);
  assert.equal(lost.createJobs.length, 0);
});

test('cronjob: time zone aware', () => {
  // 02:00 in New York in March 2026 before DST (starts March 8) is 07:00 UTC.
  const s = spec({ schedule: '0 2 * * *', timeZone: 'America/New_York' });
  assert.equal(cron(s, '2026-03-01T06:59:00.000Z').createJobs.length, 0);
  const r = cron(s, '2026-03-01T07:00:30.000Z');
  assert.equal(r.status.lastScheduleTime, '2026-03-01T07:00:00.000Z');
  assert.equal(r.createJobs.length, 1);
});

test('cronjob: concurrency policies', () => {
  const running: CronChild[] = [{ name: 'backup-1', scheduledAt: '2026-03-01T00:10:00.000Z', phase: 'Running' }];
  const prev: CronJobStatus = { namespace: 'ops', name: 'backup', observedGeneration: 1, lastScheduleTime: '2026-03-01T00:10:00.000Z', active: ['backup-1'], updatedAt: created };
  const allow = cron(spec(), '2026-03-01T00:21:00.000Z', running, prev);
  assert.deepEqual([allow.createJobs.length, allow.deleteJobs], [1, []]);
  assert.deepEqual(allow.status.active, ['backup-1', allow.createJobs[0]!.metadata.name].sort());
  const forbid = cron(spec({ concurrencyPolicy: 'Forbid' }), '2026-03-01T00:21:00.000Z', running, prev);
  assert.deepEqual([forbid.createJobs.length, forbid.status.lastScheduleTime], [0, '2026-03-01T00:10:00.000Z']);
  assert.equal(forbid.events[0]?.reason, 'JobAlreadyActive');
  const forbidAgain = cron(spec({ concurrencyPolicy: 'Forbid' }), '2026-03-01T00:22:00.000Z', running, forbid.status);
  assert.equal(forbidAgain.events.length, 0, 'a skip is reported once');
  const replace = cron(spec({ concurrencyPolicy: 'Replace' }), '2026-03-01T00:21:00.000Z', running, prev);
  assert.deepEqual([replace.createJobs.length, replace.deleteJobs], [1, ['backup-1']]);
});

test('cronjob: startingDeadlineSeconds, suspend, invalid schedule', () => {
  const late = cron(spec({ startingDeadlineSeconds: 60 }), '2026-03-01T00:22:00.000Z');
  assert.equal(late.createJobs.length, 0);
  assert.equal(late.events[0]?.reason, 'MissedSchedule');
  assert.equal(cron(spec({ startingDeadlineSeconds: 180 }), '2026-03-01T00:22:00.000Z').createJobs.length, 1);
  const suspended = cron(spec({ suspend: true }), '2026-03-01T00:22:00.000Z');
  assert.deepEqual([suspended.createJobs.length, suspended.status.lastScheduleTime], [0, undefined]);
  const bad = cron(spec({ schedule: 'every tuesday' }), '2026-03-01T00:22:00.000Z');
  assert.equal(bad.createJobs.length, 0);
  assert.match(bad.status.error ?? '', /schedule "every tuesday"/);
  assert.equal(bad.events[0]?.reason, 'InvalidSchedule');
});

test('cronjob: history limits delete the oldest finished runs', () => {
  const jobs: CronChild[] = [];
  for (let i = 0; i < 5; i++) jobs.push({ name: `ok-${i}`, scheduledAt: new Date(at(created) + i * 60_000).toISOString(), phase: 'Complete' });
  for (let i = 0; i < 3; i++) jobs.push({ name: `bad-${i}`, scheduledAt: new Date(at(created) + i * 60_000).toISOString(), phase: 'Failed' });
  const r = cron(spec({ successfulJobsHistoryLimit: 2 }), '2026-03-01T00:05:00.000Z', jobs);
  // 5 successful keep 2 -> delete ok-0..2; 3 failed keep the default 1 -> delete bad-0, bad-1.
  assert.deepEqual(r.deleteJobs, ['bad-0', 'bad-1', 'ok-0', 'ok-1', 'ok-2']);
});

test('cronjob: long names are cut to stay a DNS label', () => {
  const name = cronJobRunName('a'.repeat(63), new Date('2026-03-01T00:00:00Z'));
  assert.ok(name.length <= 63);
  assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
});

test('cronjob: a seconds-field schedule names runs by the second', () => {
  const s = spec({ schedule: '*/10 * * * * *' });
  const a = cron(s, '2026-03-01T00:25:05.000Z');
  const b = cron(s, '2026-03-01T00:25:15.000Z', [{ name: a.createJobs[0]!.metadata.name, scheduledAt: '2026-03-01T00:25:00.000Z', phase: 'Complete' }], a.status);
  assert.equal(b.createJobs.length, 1);
  assert.notEqual(b.createJobs[0]!.metadata.name, a.createJobs[0]!.metadata.name);
});
