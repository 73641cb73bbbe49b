/**
 * The task lifecycle's decisions, pure: each function takes a journal entry (and what happened) and
 * returns the next entry, so lifecycle.ts only does the I/O around them (runtime, network, journal,
 * status). Times are passed in, never read here.
 *
 *   starting ──run ok──► running ──exit──► backoff (restart policy says again) ──restartAt──► starting
 *      │                    │         └──► finished (succeeded | failed)
 *      └─start failed──► backoff         └──stop──► stopping ──exit or grace──► stopped
 */
import type { TaskSpec } from '../api/index.ts';
import { usesSecrets } from '../secrets/delivery.ts';
import { decideExit, startFailureBackoff, type BackoffOptions } from './backoff.ts';
import type { LocalTask } from './journal.ts';
import type { StopReason } from './converge.ts';
import { ANNOTATION_HASH, ANNOTATION_TASK, containerName, type ContainerView, type ExitInfo, type RunRequest } from './port.ts';

/** StopCause is why the agent stops a container: a convergence decision or a failed probe. */
export type StopCause = StopReason | 'liveness' | 'startup';

export { usesSecrets } from '../secrets/delivery.ts';

/**
 * startingRecord is the entry of a new attempt of `spec` after `previous` (if any): the attempt
 * number goes up, and restarts and backoff carry over only within one template.
 */
export function startingRecord(spec: TaskSpec, previous: LocalTask | undefined): LocalTask {
  const sameTemplate = previous !== undefined && previous.templateHash === spec.templateHash;
  const attempt = (previous?.attempt ?? 0) + 1;
  return {
    taskId: spec.id,
    templateHash: spec.templateHash,
    spec,
    phase: 'starting',
    attempt,
    containerId: containerName(spec.id, attempt),
    restarts: sameTemplate ? previous.restarts : 0,
    ...(sameTemplate && previous.backoffMs !== undefined ? { backoffMs: previous.backoffMs } : {}),
    ...(previous?.ip ? { ip: previous.ip } : {}),
  };
}

/** startFailedRecord: a start that failed waits (startFailureBackoff) and is tried again; no restart is counted. */
export function startFailedRecord(t: LocalTask, backoff: BackoffOptions, reason: string, now: number): LocalTask {
  const delay = startFailureBackoff(backoff, t.backoffMs);
  return { ...t, phase: 'backoff', containerId: undefined, backoffMs: delay, restartAt: now + delay, message: `start failed: ${reason}` };
}

/** runningRecord: the container runs (pid, address); what an earlier attempt left in the entry is cleared. */
export function runningRecord(t: LocalTask, pid: number, ip: string | undefined, nowIso: string): LocalTask {
  return {
    ...t, phase: 'running', pid, ...(ip ? { ip } : {}), startedAt: nowIso, ready: false,
    message: undefined, exitCode: undefined, oomKilled: undefined, finishedAt: undefined, restartAt: undefined, state: undefined,
  };
}

/** adoptedRecord is the entry of a running container found without one (a lost journal entry). */
export function adoptedRecord(spec: TaskSpec, c: ContainerView, ip: string | undefined): LocalTask {
  return {
    taskId: spec.id, templateHash: spec.templateHash, spec, phase: 'running', attempt: Number(c.id.split('_').pop()) || 1,
    containerId: c.id, ...(c.pid !== undefined ? { pid: c.pid } : {}), ...(ip ? { ip } : {}), restarts: 0,
    startedAt: new Date(c.createdAt).toISOString(),
  };
}

/** ExitTransition is what an exit means: the next entry, the event to record, and a restart delay if one is due. */
export interface ExitTransition {
  next: LocalTask;
  event: { type: 'Normal' | 'Warning'; reason: 'BackOff' | 'Completed' | 'Failed'; message: string };
  /** set when the task restarts: kick a pass after this long */
  restartInMs?: number;
}

/**
 * exitTransition applies the restart policy to a container's exit (kubelet's shape: backoff.ts). A
 * probe kill that ended with 0 counts as 137, so OnFailure restarts it.
 */
export function exitTransition(t: LocalTask, info: ExitInfo, backoff: BackoffOptions, now: number): ExitTransition {
  const killedBy = t.stopReason === 'liveness' || t.stopReason === 'startup' ? t.stopReason : undefined;
  const exitCode = killedBy && info.exitCode === 0 ? 137 : info.exitCode;
  const ranFor = t.startedAt ? now - Date.parse(t.startedAt) : 0;
  const outcome = decideExit(t.spec.template.restartPolicy, exitCode, backoff, t.backoffMs, ranFor);
  const base: LocalTask = {
    ...t, exitCode, oomKilled: info.oomKilled, finishedAt: new Date(now).toISOString(), pid: undefined, stopReason: undefined, stopDeadline: undefined,
  };
  const why = killedBy ? `${killedBy} probe failed` : info.oomKilled ? 'OOM killed' : `exited with ${exitCode}`;
  if (outcome.action === 'restart') {
    const d = outcome.delayMs;
    return {
      next: { ...base, phase: 'backoff', restarts: t.restarts + 1, backoffMs: d, restartAt: now + d, message: `${why}; restarting in ${Math.round(d / 100) / 10} s` },
      event: { type: 'Warning', reason: 'BackOff', message: `${why}; restarting in ${d} ms` },
      restartInMs: d,
    };
  }
  const succeeded = outcome.state === 'succeeded';
  return {
    next: { ...base, phase: 'finished', state: outcome.state, message: why },
    event: { type: succeeded ? 'Normal' : 'Warning', reason: succeeded ? 'Completed' : 'Failed', message: why },
  };
}

/** stoppingRecord: the stop begins; the SIGKILL deadline is journaled so a restarted agent keeps it. */
export function stoppingRecord(t: LocalTask, reason: StopCause, now: number): LocalTask {
  const graceMs = t.spec.template.terminationGracePeriodSeconds * 1000;
  return { ...t, phase: 'stopping', stopReason: reason, stopDeadline: now + graceMs, message: stopMessage(reason) };
}

/** stoppedRecord: the container is gone after a stop. */
export function stoppedRecord(t: LocalTask, info: ExitInfo, nowIso: string): LocalTask {
  return { ...t, phase: 'stopped', exitCode: info.exitCode, oomKilled: info.oomKilled, finishedAt: nowIso, pid: undefined, stopDeadline: undefined };
}

/** stopMessage is the status message of a stop. */
export function stopMessage(reason: StopCause): string {
  switch (reason) {
    case 'unbound': return 'stopping: no longer bound to this node';
    case 'draining': return 'stopping: node is draining';
    case 'replaced': return 'stopping: replaced by a new template';
    case 'duplicate': return 'stopping: duplicate instance';
    default: return `stopping: ${reason} probe failed`;
  }
}

/** TaskSecrets is what a start hands the container of a task that uses Secrets. */
export interface TaskSecrets {
  mounts: { source: string; destination: string }[];
  env: { name: string; value: string }[];
}

/** runRequest is the container to run for an attempt of `spec`, with its Secrets (its network is attached at onCreated). */
export function runRequest(spec: TaskSpec, containerId: string, secrets: TaskSecrets): RunRequest {
  const tpl = spec.template;
  return {
    id: containerId,
    image: tpl.image,
    ...(tpl.command ? { command: tpl.command } : {}),
    ...(tpl.args ? { args: tpl.args } : {}),
    env: tpl.env,
    ...(secrets.env.length ? { secretEnv: secrets.env } : {}),
    ...(secrets.mounts.length ? { mounts: secrets.mounts } : {}),
    ...(tpl.workingDir ? { workingDir: tpl.workingDir } : {}),
    ...(tpl.user ? { user: tpl.user } : {}),
    ...(tpl.securityContext ? { securityContext: tpl.securityContext } : {}),
    hostname: spec.id.slice(0, 63),
    ...(tpl.resources.limits.memoryBytes ? { memoryBytes: tpl.resources.limits.memoryBytes } : {}),
    ...(tpl.resources.limits.cpuMillis ? { cpuMillis: tpl.resources.limits.cpuMillis } : {}),
    annotations: { [ANNOTATION_TASK]: spec.id, [ANNOTATION_HASH]: spec.templateHash },
  };
}
