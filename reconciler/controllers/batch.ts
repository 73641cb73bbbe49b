import type { BatchFields } from '../../api/index.ts';
import { isTerminal, shortHash, taskId } from './tasks.ts';
import type { BatchPhase, ControllerEvent, ControllerResult, TaskView, WorkloadStatus } from './types.ts';
import { condition, controllerResult, makeTask, type ControllerOptions, type WorkloadSpec, workloadStatus } from './workload.ts';

/** DEFAULT_BACKOFF_LIMIT is Kubernetes' default number of retries before a batch Job fails. */
export const DEFAULT_BACKOFF_LIMIT = 6;

/** BatchJobInput is the state a batch Job's controller decides from. */
export interface BatchJobInput {
  job: WorkloadSpec;
  batch: BatchFields;
  tasks: readonly TaskView[];
  prev?: WorkloadStatus;
}

/**
 * computeBatchJob runs a batch Job to completion, as Kubernetes' indexed Job: indexes
 * 0..completions-1 must each succeed once, at most `parallelism` tasks run at once, and the Job
 * fails when failures (failed tasks plus in-place restarts) exceed `backoffLimit` or it runs past
 * `activeDeadlineSeconds`. Complete and Failed are final: the status is written first, then every
 * remaining task is deleted (they no longer need a node). Retries of an index get ids with an
 * attempt suffix. Pure.
 */
export function computeBatchJob(input: BatchJobInput, opts: ControllerOptions): ControllerResult {
  const { job } = input;
  const completions = input.batch.completions ?? 1;
  const parallelism = input.batch.parallelism ?? 1;
  const backoffLimit = input.batch.backoffLimit ?? DEFAULT_BACKOFF_LIMIT;
  const nowIso = new Date(opts.now).toISOString();
  const prevBatch = input.prev?.batch;
  const startedAt = prevBatch?.startedAt ?? nowIso;
  const events: ControllerEvent[] = [];

  const succeededIdx = new Set(input.tasks.filter((t) => t.status?.state === 'succeeded').map((t) => t.spec.index));
  const failedTasks = input.tasks.filter((t) => t.status?.state === 'failed' || t.status?.state === 'stopped');
  const failures = failedTasks.length + input.tasks.reduce((n, t) => n + (t.status?.restarts ?? 0), 0);
  const active = input.tasks.filter((t) => !isTerminal(t));

  let phase: BatchPhase = prevBatch?.phase ?? 'Running';
  let reason = prevBatch?.reason;
  const create: ReturnType<typeof makeTask>[] = [];
  let del: string[] = [];
  if (phase === 'Running') {
    const deadline = input.batch.activeDeadlineSeconds;
    if (succeededIdx.size >= completions) {
      phase = 'Complete';
      reason = 'Completed';
      events.push({ type: 'Normal', reason: 'Completed', message: `${completions}/${completions} completions succeeded` });
    } else if (failures > backoffLimit) {
      phase = 'Failed';
      reason = 'BackoffLimitExceeded';
      events.push({ type: 'Warning', reason, message: `${failures} failures exceed backoffLimit ${backoffLimit}` });
    } else if (deadline !== undefined && opts.now - Date.parse(startedAt) > deadline * 1000) {
      phase = 'Failed';
      reason = 'DeadlineExceeded';
      events.push({ type: 'Warning', reason, message: `running longer than activeDeadlineSeconds ${deadline}` });
    }
  }
  if (phase !== 'Running') {
    del = input.tasks.map((t) => t.spec.id);
  } else {
    const busy = new Set(active.map((t) => t.spec.index));
    const attempts = new Map<number, number>();
    for (const t of failedTasks) attempts.set(t.spec.index, (attempts.get(t.spec.index) ?? 0) + 1);
    const hash = shortHash(job.templateHash, job.generation);
    const slots = Math.max(0, parallelism - active.length);
    for (let index = 0; index < completions && create.length < slots; index++) {
      if (succeededIdx.has(index) || busy.has(index)) continue;
      const attempt = attempts.get(index) ?? 0;
      create.push(makeTask(job, taskId(job.namespace, job.name, index, hash, attempt > 0 ? String(attempt) : undefined), index, opts.now));
    }
  }

  const activeCount = phase === 'Running' ? active.length + create.length : 0;
  const batch: NonNullable<WorkloadStatus['batch']> = {
    phase,
    succeeded: Math.min(succeededIdx.size, completions),
    failed: failures,
    active: activeCount,
    startedAt,
    ...(phase !== 'Running' ? { finishedAt: prevBatch?.finishedAt ?? nowIso } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
  // A finished Job keeps its counts: its tasks are gone, the status is the record.
  if (prevBatch && prevBatch.phase !== 'Running') Object.assign(batch, { succeeded: prevBatch.succeeded, failed: prevBatch.failed });
  const status = workloadStatus('Job', job, {
    desired: completions,
    current: activeCount,
    ready: 0,
    updated: activeCount,
    batch,
    conditions: [
      condition(input.prev, 'Complete', phase === 'Complete' ? 'True' : 'False', phase === 'Complete' ? 'Completed' : 'NotComplete', `${batch.succeeded}/${completions} succeeded`, opts.now),
      condition(input.prev, 'Failed', phase === 'Failed' ? 'True' : 'False', phase === 'Failed' ? (reason ?? 'Failed') : 'NotFailed', `${batch.failed} failures (backoffLimit ${backoffLimit})`, opts.now),
    ],
  }, opts.now);
  return controllerResult(create, del.sort(), status, prevBatch?.phase === phase && phase !== 'Running' ? [] : events);
}

