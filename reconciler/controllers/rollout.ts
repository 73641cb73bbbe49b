import type { RolloutResult, TaskOwnerKind } from '../../api/index.ts';
import { isReady, lastError } from './tasks.ts';
import type { ControllerEvent, RolloutState, TaskView } from './types.ts';

/** DEFAULT_PROGRESS_DEADLINE_SECONDS is Kubernetes' default progress deadline (10 minutes). */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/** DEFAULT_CRASH_LOOP_RESTARTS is how many restarts of a new task count as a crash loop. */
export const DEFAULT_CRASH_LOOP_RESTARTS = 3;

/** RolloutObservation is what a controller saw of its tasks this run. */
export interface RolloutObservation {
  object: { kind: TaskOwnerKind; namespace: string; name: string };
  templateHash: string;
  revision: string;
  generation: number;
  /** Tasks wanted when the rollout is done (replicas or eligible nodes). */
  desired: number;
  /** Live tasks of the current template. */
  newTasks: readonly TaskView[];
  /** Live tasks of any other template. */
  oldCount: number;
  progressDeadlineSeconds: number;
  crashLoopRestarts: number;
  now: number;
  /**
   * watchingSince is when the deciding controller began watching (its leader's first pass): a stall
   * is counted from no earlier than this, so time with no controller running never counts.
   */
  watchingSince?: number;
}

/** RolloutDecision is the next rollout state, plus a failure to report when it just failed. */
export interface RolloutDecision {
  state: RolloutState;
  failed?: RolloutResult;
  events: ControllerEvent[];
}

/**
 * trackRollout advances the rollout memory of one template. A new template starts a rollout;
 * progress is more new tasks ready than ever before or fewer old tasks than ever before; the rollout
 * completes when no old task is left and `desired` new tasks are ready, and fails (once, for good)
 * when a new task crash-loops or fails, or when nothing progressed for the deadline as watched by
 * the current controller: a rollout whose reconciler was down (crash, failover) gets a full
 * deadline from the new leader's first look rather than failing, and being reverted, on sight for
 * progress nobody was there to make. Complete and
 * Failed are final for that template: a later change (or a revert) starts a new rollout. Pure.
 */
export function trackRollout(prev: RolloutState | undefined, o: RolloutObservation): RolloutDecision {
  const now = new Date(o.now).toISOString();
  const newReady = o.newTasks.filter(isReady).length;
  const events: ControllerEvent[] = [];
  let state: RolloutState;
  if (!prev || prev.templateHash !== o.templateHash) {
    state = {
      templateHash: o.templateHash,
      revision: o.revision,
      generation: o.generation,
      phase: 'Progressing',
      startedAt: now,
      lastProgressAt: now,
      bestNewReady: newReady,
      fewestOld: o.oldCount,
    };
    events.push({ type: 'Normal', reason: 'RolloutStarted', message: `rolling out template ${o.templateHash.slice(0, 10)} of revision ${o.revision || '(none)'} to ${o.desired} tasks` });
  } else {
    state = { ...prev };
    if (state.phase !== 'Progressing') return { state, events };
  }
  if (newReady > state.bestNewReady || o.oldCount < state.fewestOld) {
    state.bestNewReady = Math.max(state.bestNewReady, newReady);
    state.fewestOld = Math.min(state.fewestOld, o.oldCount);
    state.lastProgressAt = now;
  }
  if (o.oldCount === 0 && newReady >= o.desired) {
    state.phase = 'Complete';
    state.completedAt = now;
    events.push({ type: 'Normal', reason: 'RolloutComplete', message: `${newReady} tasks ready on template ${o.templateHash.slice(0, 10)}` });
    return { state, events };
  }
  const failure = judgeFailure(state, o);
  if (!failure) return { state, events };
  const failed: RolloutResult = {
    revision: state.revision,
    object: o.object,
    generation: state.generation,
    templateHash: o.templateHash,
    reason: failure.reason,
    message: failure.message,
    tasks: o.newTasks
      .filter((t) => !isReady(t))
      .map((t) => ({
        id: t.spec.id,
        ...(t.status ? { node: t.status.node, state: t.status.state, restarts: t.status.restarts } : {}),
        lastError: lastError(t),
      })),
    failedAt: now,
  };
  state.phase = 'Failed';
  state.failed = failed;
  events.push({ type: 'Warning', reason: 'RolloutFailed', message: failure.message });
  return { state, failed, events };
}

function judgeFailure(state: RolloutState, o: RolloutObservation): { reason: RolloutResult['reason']; message: string } | undefined {
  const name = `${o.object.kind} ${o.object.namespace}/${o.object.name}`;
  const crashing = o.newTasks.find((t) => t.status !== undefined && t.status.templateHash === o.templateHash && t.status.restarts >= o.crashLoopRestarts && t.status.state !== 'running');
  if (crashing) {
    return { reason: 'CrashLoop', message: `${name}: task ${crashing.spec.id} restarted ${crashing.status!.restarts} times: ${lastError(crashing)}` };
  }
  const failedTask = o.newTasks.find((t) => t.status?.state === 'failed' && t.status.templateHash === o.templateHash);
  if (failedTask) return { reason: 'TaskFailed', message: `${name}: task ${failedTask.spec.id} failed: ${lastError(failedTask)}` };
  const stalledMs = o.now - Math.max(Date.parse(state.lastProgressAt), o.watchingSince ?? -Infinity);
  if (stalledMs > o.progressDeadlineSeconds * 1000) {
    const ready = o.newTasks.filter(isReady).length;
    return {
      reason: 'ProgressDeadlineExceeded',
      message: `${name}: no progress for ${Math.round(stalledMs / 1000)}s (deadline ${o.progressDeadlineSeconds}s): ${ready}/${o.desired} new tasks ready, ${o.oldCount} old tasks left`,
    };
  }
  return undefined;
}
