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
 * entry is `t` with every field of LocalTask, in one order (the absent ones undefined): every entry
 * this module makes goes through it, so entries share one hidden class. V8 (Node 20) gives an
 * object spread followed by a field its source lacks (`{ ...t, pid, startedAt }`) a hidden class of
 * its own, made field by field: runningRecord so took 13-30 µs per call (a scratch bench: 0.2 µs
 * as a literal), 1.4 s self of a hollow process's 42.8 busy s in a 10,000-node commit, plus the
 * maps it left to the garbage collector. JSON leaves the undefined fields out of the journal line.
 */
export function entry(t: LocalTask): LocalTask {
  return {
    taskId: t.taskId, templateHash: t.templateHash, spec: t.spec, phase: t.phase, state: t.state, attempt: t.attempt,
    containerId: t.containerId, pid: t.pid, ip: t.ip, restarts: t.restarts, startedAt: t.startedAt, finishedAt: t.finishedAt,
    exitCode: t.exitCode, oomKilled: t.oomKilled, message: t.message, ready: t.ready, backoffMs: t.backoffMs, restartAt: t.restartAt,
    stopReason: t.stopReason, stopDeadline: t.stopDeadline,
  };
}

/** changed is `t` with the fields of each of `cs` in turn (undefined clears one), as an `entry`. */
export function changed(t: LocalTask, ...cs: Partial<LocalTask>[]): LocalTask {
  let out = t;
  for (const c of cs) out = { ...out, ...c };
  return entry(out);
}

/**
 * startingRecord is the entry of a new attempt of `spec` after `previous` (if any): the attempt
 * number goes up, and restarts and backoff carry over only within one template.
 */
export function startingRecord(spec: TaskSpec, previous: LocalTask | undefined): LocalTask {
  const sameTemplate = previous !== undefined && previous.templateHash === spec.templateHash;
  const attempt = (previous?.attempt ?? 0) + 1;
  return entry({
    taskId: spec.id,
    templateHash: spec.templateHash,
    spec,
    phase: 'starting',
    attempt,
    containerId: containerName(spec.id, attempt),
    restarts: sameTemplate ? previous.restarts : 0,
    backoffMs: sameTemplate ? previous.backoffMs : undefined,
    ip: previous?.ip || undefined,
  });
}

/** startFailedRecord: a start that failed waits (startFailureBackoff) and is tried again; no restart is counted. */
export function startFailedRecord(t: LocalTask, backoff: BackoffOptions, reason: string, now: number): LocalTask {
  const delay = startFailureBackoff(backoff, t.backoffMs);
  return changed(t, { phase: 'backoff', containerId: undefined, backoffMs: delay, restartAt: now + delay, message: `start failed: ${reason}` });
}

/** runningRecord: the container runs (pid, address); what an earlier attempt left in the entry is cleared. */
export function runningRecord(t: LocalTask, pid: number, ip: string | undefined, nowIso: string): LocalTask {
  // Written out (in `entry`'s order): one per start, where `changed` costs a copy more.
  return {
    taskId: t.taskId, templateHash: t.templateHash, spec: t.spec, phase: 'running', state: undefined, attempt: t.attempt,
    containerId: t.containerId, pid, ip: ip || t.ip, restarts: t.restarts, startedAt: nowIso, finishedAt: undefined,
    exitCode: undefined, oomKilled: undefined, message: undefined, ready: false, backoffMs: t.backoffMs, restartAt: undefined,
    stopReason: t.stopReason, stopDeadline: t.stopDeadline,
  };
}

/** adoptedRecord is the entry of a running container found without one (a lost journal entry). */
export function adoptedRecord(spec: TaskSpec, c: ContainerView, ip: string | undefined): LocalTask {
  return entry({
    taskId: spec.id, templateHash: spec.templateHash, spec, phase: 'running', attempt: Number(c.id.split('_').pop()) || 1,
    containerId: c.id, pid: c.pid, ip: ip || undefined, restarts: 0,
    startedAt: new Date(c.createdAt).toISOString(),
  });
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
  const base: Partial<LocalTask> = {
    exitCode, oomKilled: info.oomKilled, finishedAt: new Date(now).toISOString(), pid: undefined, stopReason: undefined, stopDeadline: undefined,
  };
  const why = killedBy ? `${killedBy} probe failed` : info.oomKilled ? 'OOM killed' : `exited with ${exitCode}`;
  if (outcome.action === 'restart') {
    const d = outcome.delayMs;
    return {
      next: changed(t, base, { phase: 'backoff', restarts: t.restarts + 1, backoffMs: d, restartAt: now + d, message: `${why}; restarting in ${Math.round(d / 100) / 10} s` }),
      event: { type: 'Warning', reason: 'BackOff', message: `${why}; restarting in ${d} ms` },
      restartInMs: d,
    };
  }
  const succeeded = outcome.state === 'succeeded';
  return {
    next: changed(t, base, { phase: 'finished', state: outcome.state, message: why }),
    event: { type: succeeded ? 'Normal' : 'Warning', reason: succeeded ? 'Completed' : 'Failed', message: why },
  };
}

/** stoppingRecord: the stop begins; the SIGKILL deadline is journaled so a restarted agent keeps it. */
export function stoppingRecord(t: LocalTask, reason: StopCause, now: number): LocalTask {
  const graceMs = t.spec.template.terminationGracePeriodSeconds * 1000;
  return changed(t, { phase: 'stopping', stopReason: reason, stopDeadline: now + graceMs, message: stopMessage(reason) });
}

/** stoppedRecord: the container is gone after a stop. */
export function stoppedRecord(t: LocalTask, info: ExitInfo, nowIso: string): LocalTask {
  return changed(t, { phase: 'stopped', exitCode: info.exitCode, oomKilled: info.oomKilled, finishedAt: nowIso, pid: undefined, stopDeadline: undefined });
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

/**
 * runRequest is the container to run for an attempt of `spec`, with its Secrets, resolver and the
 * hook that attaches its network (at onCreated): one literal, the absent fields undefined (see `entry`).
 */
export function runRequest(spec: TaskSpec, containerId: string, secrets: TaskSecrets, extra: Pick<RunRequest, 'dns' | 'onCreated'> = {}): RunRequest {
  const tpl = spec.template;
  return {
    id: containerId,
    image: tpl.image,
    command: tpl.command,
    args: tpl.args,
    env: tpl.env,
    secretEnv: secrets.env.length ? secrets.env : undefined,
    mounts: secrets.mounts.length ? secrets.mounts : undefined,
    workingDir: tpl.workingDir || undefined,
    user: tpl.user || undefined,
    securityContext: tpl.securityContext,
    hostname: spec.id.slice(0, 63),
    memoryBytes: tpl.resources.limits.memoryBytes || undefined,
    cpuMillis: tpl.resources.limits.cpuMillis || undefined,
    annotations: { [ANNOTATION_TASK]: spec.id, [ANNOTATION_HASH]: spec.templateHash },
    dns: extra.dns,
    onCreated: extra.onCreated,
  };
}
