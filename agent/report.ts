/**
 * What the agent tells others about its tasks: the journal entry (saved before the status, so the
 * local truth leads), the task's status record (its key `<node>.<taskId>` in the `status` bucket;
 * only this agent writes it), the per-state task counts (read by the gauge at each scrape), and
 * cluster events (best effort).
 */
import { errorMessage } from '../lib/index.ts';
import { statusKey, type TaskState, type TaskStatus } from '../api/index.ts';
import { appendEvent } from '../store/index.ts';
import { buildStatus, stateOf } from './status.ts';
import { isReady } from './probe.ts';
import type { LocalTask } from './journal.ts';
import type { AgentContext, Live } from './context.ts';

/** taskStatus is the status record of `t` given what is followed of its container, pure. */
export function taskStatus(node: string, t: LocalTask, live: Live | undefined, held: boolean, now: number): TaskStatus {
  return buildStatus(node, t, { ready: !!live?.health && isReady(live.health), usage: live?.usage, unclaimed: held }, now);
}

/** stateCounts counts tasks per reported state, pure (the `gitcell_agent_tasks` gauge). */
export function stateCounts(records: Iterable<LocalTask>): Map<TaskState, number> {
  const counts = new Map<TaskState, number>();
  for (const t of records) counts.set(stateOf(t), (counts.get(stateOf(t)) ?? 0) + 1);
  return counts;
}

/** writeStatus writes a task's status; a failed write is remembered and retried by the next pass. */
export async function writeStatus(ctx: AgentContext, t: LocalTask): Promise<void> {
  const { state } = ctx;
  try {
    await ctx.d.store.status.put(statusKey(ctx.o.node, t.taskId), taskStatus(ctx.o.node, t, state.live.get(t.taskId), state.held.has(t.taskId), Date.now()));
    state.unsent.delete(t.taskId);
  } catch (err) {
    // Retried by the next pass: the status must not stay wrong because NATS was busy once.
    state.unsent.add(t.taskId);
    ctx.log.warn({ task: t.taskId, err: errorMessage(err) }, 'agent: status write failed, will retry');
  }
}

/** resendUnsent retries the status writes that failed, for tasks no operation holds. */
export async function resendUnsent(ctx: AgentContext): Promise<void> {
  const { state } = ctx;
  for (const taskId of [...state.unsent]) {
    const t = state.records.get(taskId);
    if (t && !ctx.locks.busy.has(taskId)) await writeStatus(ctx, t);
    else if (!t) state.unsent.delete(taskId);
  }
}

/** save records a task's new journal entry, in memory and on disk, then (by default) its status. */
export async function save(ctx: AgentContext, t: LocalTask, status = true): Promise<void> {
  ctx.state.records.set(t.taskId, t);
  await ctx.journal.save(t);
  if (status) await writeStatus(ctx, t);
}

/** recordEvent records a cluster event about a task; losing one is not worth failing an operation. */
export function recordEvent(ctx: AgentContext, type: 'Normal' | 'Warning', reason: string, taskId: string, message: string): void {
  void appendEvent(ctx.d.store.events, {
    time: new Date().toISOString(), type, reason, object: { kind: 'Task', name: taskId }, message, source: `agent/${ctx.o.node}`,
  }).catch((err) => ctx.log.debug({ err: errorMessage(err) }, 'agent: event not recorded'));
}
