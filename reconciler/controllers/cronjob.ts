import { Cron } from 'croner';
import type { CronJobSpec, Job } from '../../api/index.ts';
import { API_VERSION } from '../../api/index.ts';
import { errorMessage } from '../../lib/index.ts';
import type { BatchPhase, ControllerEvent } from './types.ts';

/** CREATED_BY_ANNOTATION on a Job names the CronJob that created it (`CronJob/<ns>/<name>`). */
export const CREATED_BY_ANNOTATION = 'gitcell.io/created-by';
/** SCHEDULED_AT_ANNOTATION on a Job is the ISO time of the schedule tick it runs for. */
export const SCHEDULED_AT_ANNOTATION = 'gitcell.io/scheduled-at';

/** CronChild is one Job a CronJob created, as the controller sees it. */
export interface CronChild {
  name: string;
  scheduledAt: string;
  /** undefined until the Job's controller has written a status. */
  phase?: BatchPhase;
  finishedAt?: string;
}

/** CronJobStatus is the controller-owned status of a CronJob (in the `sync` bucket). */
export interface CronJobStatus {
  namespace: string;
  name: string;
  observedGeneration: number;
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
  /** Last tick skipped (Forbid, missed deadline), so the skip is reported once. */
  lastSkippedTime?: string;
  nextScheduleTime?: string;
  active: string[];
  error?: string;
  updatedAt: string;
}

/** CronJobInput is the state a CronJob's controller decides from. */
export interface CronJobInput {
  namespace: string;
  name: string;
  generation: number;
  spec: CronJobSpec;
  /** When the CronJob first appeared: ticks before it never run. */
  createdAt: string;
  jobs: readonly CronChild[];
  prev?: CronJobStatus;
  now: number;
}

/** CronJobResult is what the CronJob controller decides: Jobs to create and Job names to delete. */
export interface CronJobResult {
  createJobs: Job[];
  deleteJobs: string[];
  status: CronJobStatus;
  events: ControllerEvent[];
}

/**
 * computeCronJob creates a batch Job for the latest schedule tick (in `timeZone`, UTC by default)
 * not yet run, as Kubernetes' CronJob controller: a tick older than `startingDeadlineSeconds` is
 * missed, `concurrencyPolicy` Forbid skips while a run is active (and retries until the deadline),
 * Replace deletes the active runs first, Allow just adds; `suspend` stops new runs only; finished
 * runs beyond the history limits (3 successful, 1 failed by default) are deleted, oldest first.
 * Job names are `<name>-<minutes since epoch>` (seconds for 6-field schedules), so re-running a
 * tick never makes a second Job. Pure.
 */
export function computeCronJob(input: CronJobInput, now: number = input.now): CronJobResult {
  const { spec } = input;
  const nowIso = new Date(now).toISOString();
  const events: ControllerEvent[] = [];
  const active = input.jobs.filter((j) => j.phase === undefined || j.phase === 'Running');
  const status: CronJobStatus = {
    namespace: input.namespace,
    name: input.name,
    observedGeneration: input.generation,
    ...(input.prev?.lastScheduleTime ? { lastScheduleTime: input.prev.lastScheduleTime } : {}),
    ...(input.prev?.lastSkippedTime ? { lastSkippedTime: input.prev.lastSkippedTime } : {}),
    active: active.map((j) => j.name).sort(),
    updatedAt: nowIso,
  };
  const succeeded = input.jobs.filter((j) => j.phase === 'Complete').sort(byScheduledAt);
  const lastOk = succeeded.at(-1);
  if (lastOk) status.lastSuccessfulTime = lastOk.finishedAt ?? lastOk.scheduledAt;

  const createJobs: Job[] = [];
  const deleteJobs = historyOverflow(input.jobs, spec);
  let cron: Cron;
  try {
    cron = new Cron(spec.schedule, { timezone: spec.timeZone ?? 'UTC', paused: true });
  } catch (err) {
    status.error = `schedule "${spec.schedule}"${spec.timeZone ? ` in ${spec.timeZone}` : ''}: ${errorMessage(err)}`;
    if (input.prev?.error !== status.error) events.push({ type: 'Warning', reason: 'InvalidSchedule', message: status.error });
    return { createJobs, deleteJobs, status, events };
  }
  const next = cron.nextRun(new Date(now));
  if (next) status.nextScheduleTime = next.toISOString();
  if (spec.suspend) return { createJobs, deleteJobs, status, events };

  const since = Date.parse(input.prev?.lastScheduleTime ?? input.createdAt);
  const tick = cron.previousRuns(1, new Date(now))[0];
  if (!tick || tick.getTime() <= since) return { createJobs, deleteJobs, status, events };
  const tickIso = tick.toISOString();
  const skipOnce = (reason: string, message: string) => {
    if (input.prev?.lastSkippedTime !== tickIso) events.push({ type: 'Warning', reason, message });
    status.lastSkippedTime = tickIso;
  };

  const deadline = spec.startingDeadlineSeconds;
  if (deadline !== undefined && now - tick.getTime() > deadline * 1000) {
    skipOnce('MissedSchedule', `missed the ${tickIso} run by more than startingDeadlineSeconds ${deadline}`);
    status.lastScheduleTime = tickIso;
    return { createJobs, deleteJobs, status, events };
  }
  const name = cronJobRunName(input.name, tick, spec.schedule.trim().split(/\s+/).length > 5);
  const policy = spec.concurrencyPolicy ?? 'Allow';
  const others = active.filter((j) => j.name !== name);
  if (policy === 'Forbid' && others.length > 0) {
    // Not recording the tick as scheduled lets a later run still start it within the deadline.
    skipOnce('JobAlreadyActive', `skipped the ${tickIso} run: ${others.map((j) => j.name).join(', ')} still active (concurrencyPolicy Forbid)`);
    return { createJobs, deleteJobs, status, events };
  }
  if (policy === 'Replace') {
    for (const j of others) deleteJobs.push(j.name);
    if (others.length) events.push({ type: 'Normal', reason: 'JobReplaced', message: `replacing ${others.map((j) => j.name).join(', ')} (concurrencyPolicy Replace)` });
    status.active = status.active.filter((n) => !others.some((o) => o.name === n));
  }
  if (!input.jobs.some((j) => j.name === name)) {
    createJobs.push(cronRunJob(input, name, tickIso));
    events.push({ type: 'Normal', reason: 'SuccessfulCreate', message: `created Job ${name} for the ${tickIso} run` });
    status.active = [...status.active, name].sort();
  }
  status.lastScheduleTime = tickIso;
  return { createJobs, deleteJobs: [...new Set(deleteJobs)].sort(), status, events };
}

/**
 * cronJobRunName is `<name>-<minutes since epoch>` (Kubernetes' form), or seconds since epoch for a
 * schedule with a seconds field, cut so it stays a 63-character DNS label.
 */
export function cronJobRunName(name: string, tick: Date, seconds = false): string {
  const prefix = name.slice(0, 52).replace(/-+$/, '');
  return `${prefix}-${Math.floor(tick.getTime() / (seconds ? 1000 : 60_000))}`;
}

function cronRunJob(input: CronJobInput, name: string, tickIso: string): Job {
  const t = input.spec.jobTemplate;
  return {
    apiVersion: API_VERSION,
    kind: 'Job',
    metadata: {
      name,
      namespace: input.namespace,
      annotations: { [CREATED_BY_ANNOTATION]: `CronJob/${input.namespace}/${input.name}`, [SCHEDULED_AT_ANNOTATION]: tickIso },
    },
    spec: {
      type: 'batch',
      template: t.template,
      ...(t.owner !== undefined ? { owner: t.owner } : {}),
      ...(t.priority !== undefined ? { priority: t.priority } : {}),
      ...(t.completions !== undefined ? { completions: t.completions } : {}),
      ...(t.parallelism !== undefined ? { parallelism: t.parallelism } : {}),
      ...(t.backoffLimit !== undefined ? { backoffLimit: t.backoffLimit } : {}),
      ...(t.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: t.activeDeadlineSeconds } : {}),
    },
  };
}

function historyOverflow(jobs: readonly CronChild[], spec: CronJobSpec): string[] {
  const out: string[] = [];
  const trim = (phase: BatchPhase, keep: number) => {
    const done = jobs.filter((j) => j.phase === phase).sort(byScheduledAt);
    for (const j of done.slice(0, Math.max(0, done.length - keep))) out.push(j.name);
  };
  trim('Complete', spec.successfulJobsHistoryLimit ?? 3);
  trim('Failed', spec.failedJobsHistoryLimit ?? 1);
  return out.sort();
}

function byScheduledAt(a: CronChild, b: CronChild): number {
  return Date.parse(a.scheduledAt) - Date.parse(b.scheduledAt) || (a.name < b.name ? -1 : 1);
}
