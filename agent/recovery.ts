/**
 * Recovery after a store rebuild, pure. When NATS lost its data, the bindings of this node are gone
 * until the reconciler re-creates the tasks from Git and the scheduler binds them again. Meanwhile
 * the agent must not take "no binding" for "stop it": it holds every task it was running, reports
 * them as unclaimed, and lets each go only when a binding decides (here: keep; elsewhere: stop) or
 * when the hold ends (nobody wants it any more).
 */
import type { LocalTask } from './journal.ts';

/** DEFAULT_RECOVERY_HOLD_MS bounds how long a task nobody claims is kept after a rebuild. */
export const DEFAULT_RECOVERY_HOLD_MS = 5 * 60_000;

/** COMPLETED_RETENTION_MS is how long the record of a task that ran to completion is kept (7 days). */
export const COMPLETED_RETENTION_MS = 7 * 24 * 3600_000;

/** keepCompleted selects the completed-task records still within retention, by task id. */
export function keepCompleted(records: Iterable<LocalTask>, now: number, retentionMs = COMPLETED_RETENTION_MS): Map<string, LocalTask> {
  const out = new Map<string, LocalTask>();
  for (const t of records) {
    const at = Date.parse(t.finishedAt ?? '');
    if (Number.isFinite(at) && now - at <= retentionMs) out.set(t.taskId, t);
  }
  return out;
}

/** heldAfterRebuild lists the journal's tasks to hold: those running, restarting or finished. */
export function heldAfterRebuild(records: Iterable<LocalTask>): Set<string> {
  const out = new Set<string>();
  for (const t of records) if (t.phase === 'running' || t.phase === 'backoff' || t.phase === 'finished') out.add(t.taskId);
  return out;
}

/** Release is one held task let go, with why. */
export interface Release {
  taskId: string;
  why: 'bound here' | 'bound elsewhere' | 'hold expired' | 'gone';
}

/** releaseHeld decides which held tasks are let go now; the rest stay held. */
export function releaseHeld(
  held: ReadonlySet<string>,
  o: { now: number; until: number; boundHere: (taskId: string) => boolean; boundElsewhere: (taskId: string) => boolean; known: (taskId: string) => boolean },
): Release[] {
  const out: Release[] = [];
  for (const taskId of held) {
    if (!o.known(taskId)) out.push({ taskId, why: 'gone' });
    else if (o.boundHere(taskId)) out.push({ taskId, why: 'bound here' });
    else if (o.boundElsewhere(taskId)) out.push({ taskId, why: 'bound elsewhere' });
    else if (o.now >= o.until) out.push({ taskId, why: 'hold expired' });
  }
  return out;
}
