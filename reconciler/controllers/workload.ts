import type { RolloutResult, RollingStrategy, SpreadLimit, TaskSpec, TaskTemplate } from '../../api/index.ts';
import { jobKeyOf } from '../../api/index.ts';
import { DEFAULT_CRASH_LOOP_RESTARTS, DEFAULT_PROGRESS_DEADLINE_SECONDS, trackRollout, type RolloutDecision, type RolloutObservation } from './rollout.ts';
import type { Condition, ControllerEvent, ControllerResult, RolloutState, TaskView, WorkloadStatus } from './types.ts';

/**
 * WorkloadSpec is a Job or DaemonSet as its controller needs it: identity, generation, the Git
 * revision that last changed it, and its resolved template (see reconciler/template).
 */
export interface WorkloadSpec {
  kind: 'Job' | 'DaemonSet';
  namespace: string;
  name: string;
  generation: number;
  revision: string;
  type: 'service' | 'batch';
  priority: number;
  template: TaskTemplate;
  templateHash: string;
  strategy?: RollingStrategy;
  spread?: SpreadLimit;
}

/** ControllerOptions are the knobs shared by the controllers. */
export interface ControllerOptions {
  /** now is the controller's clock in ms; pure computes never read the clock themselves. */
  now: number;
  /** crashLoopRestarts: restarts of a new task that fail its rollout (default 3). */
  crashLoopRestarts?: number;
  /** watchingSince: when this controller began watching; progress deadlines count from no earlier (see trackRollout). */
  watchingSince?: number;
}

/** makeTask builds the TaskSpec of one task of a workload. */
export function makeTask(w: WorkloadSpec, id: string, index: number, now: number, nodeName?: string): TaskSpec {
  return {
    id,
    namespace: w.namespace,
    owner: { kind: w.kind, name: w.name },
    jobKey: jobKeyOf(w.kind, w.namespace, w.name),
    index,
    priority: w.priority,
    type: w.type,
    templateHash: w.templateHash,
    template: w.template,
    ...(nodeName !== undefined ? { nodeName } : {}),
    ...(w.spread !== undefined ? { spread: w.spread } : {}),
    generation: w.generation,
    createdAt: new Date(now).toISOString(),
  };
}

/** condition builds a Condition, keeping the previous transition time when the status did not change. */
export function condition(prev: WorkloadStatus | undefined, type: string, status: Condition['status'], reason: string, message: string, now: number): Condition {
  const old = prev?.conditions.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : new Date(now).toISOString();
  return { type, status, reason, message, lastTransitionTime };
}

/** rolloutConditions renders a rollout state as the Progressing/Available conditions. */
export function rolloutConditions(prev: WorkloadStatus | undefined, r: RolloutState, ready: number, desired: number, now: number): Condition[] {
  const progressing =
    r.phase === 'Failed'
      ? condition(prev, 'Progressing', 'False', r.failed?.reason ?? 'RolloutFailed', r.failed?.message ?? 'rollout failed', now)
      : r.phase === 'Complete'
        ? condition(prev, 'Progressing', 'True', 'RolloutComplete', `template ${r.templateHash.slice(0, 10)} rolled out`, now)
        : condition(prev, 'Progressing', 'True', 'RollingUpdate', `rolling out template ${r.templateHash.slice(0, 10)}`, now);
  const available = condition(prev, 'Available', ready >= desired ? 'True' : 'False', ready >= desired ? 'AllReady' : 'NotAllReady', `${ready}/${desired} tasks ready`, now);
  return [available, progressing];
}

/**
 * trackWorkloadRollout advances the rollout of `w` (see trackRollout): the workload supplies its
 * identity, template, revision and progress deadline, the options the clock and crash-loop
 * threshold, and the controller what it saw of its tasks.
 */
export function trackWorkloadRollout(
  kind: WorkloadSpec['kind'],
  w: WorkloadSpec,
  prev: WorkloadStatus | undefined,
  seen: Pick<RolloutObservation, 'desired' | 'newTasks' | 'oldCount'>,
  opts: ControllerOptions,
): RolloutDecision {
  return trackRollout(prev?.rollout, {
    object: { kind, namespace: w.namespace, name: w.name },
    templateHash: w.templateHash,
    revision: w.revision,
    generation: w.generation,
    ...seen,
    progressDeadlineSeconds: w.strategy?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
    crashLoopRestarts: opts.crashLoopRestarts ?? DEFAULT_CRASH_LOOP_RESTARTS,
    now: opts.now,
    ...(opts.watchingSince !== undefined ? { watchingSince: opts.watchingSince } : {}),
  });
}

/** partitionByTemplate splits tasks into those of the current template and the rest. */
export function partitionByTemplate(tasks: readonly TaskView[], templateHash: string): { current: TaskView[]; old: TaskView[] } {
  const current: TaskView[] = [];
  const old: TaskView[] = [];
  for (const t of tasks) (t.spec.templateHash === templateHash ? current : old).push(t);
  return { current, old };
}

/** WorkloadCounts is the part of a WorkloadStatus that each controller computes for itself. */
export type WorkloadCounts = Omit<WorkloadStatus, 'kind' | 'namespace' | 'name' | 'observedGeneration' | 'templateHash' | 'updatedAt'>;

/**
 * workloadStatus builds the WorkloadStatus of `w` as controller `kind` saw it at `now`: the
 * workload's identity, the generation and template it observed, then the controller's own counts.
 */
export function workloadStatus(kind: WorkloadStatus['kind'], w: WorkloadSpec, counts: WorkloadCounts, now: number): WorkloadStatus {
  return {
    kind,
    namespace: w.namespace,
    name: w.name,
    observedGeneration: w.generation,
    templateHash: w.templateHash,
    ...counts,
    updatedAt: new Date(now).toISOString(),
  };
}

/**
 * controllerResult assembles a ControllerResult: each task is deleted once however many reasons a
 * controller found for it, and `failedRollout` is present only when a rollout just failed.
 */
export function controllerResult(create: TaskSpec[], del: readonly string[], status: WorkloadStatus, events: ControllerEvent[], failedRollout?: RolloutResult): ControllerResult {
  return {
    create,
    delete: [...new Set(del)],
    status,
    events,
    ...(failedRollout ? { failedRollout } : {}),
  };
}
