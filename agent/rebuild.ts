/**
 * Recovery after a store rebuild, the I/O around recovery.ts's decisions. On start the agent compares
 * the store's incarnation with `<state>/store-incarnation`; when they differ NATS lost its data, and
 * every task it was running (or had finished) is held until a binding decides or the hold ends. The
 * new incarnation is recorded only once nothing is held, so an agent restarted mid-recovery holds again.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { errorMessage, writeFileAtomic } from '../lib/index.ts';
import { heldAfterRebuild, keepCompleted, releaseHeld } from './recovery.ts';
import type { AgentContext } from './context.ts';
import { writeStatus } from './report.ts';

function incarnationFile(ctx: AgentContext): string {
  return join(ctx.o.stateDir, 'store-incarnation');
}

/**
 * holdAfterRebuild compares the store's incarnation with the one this node last served. A change
 * means NATS lost its data: every running task is held until a binding decides its fate.
 */
export async function holdAfterRebuild(ctx: AgentContext): Promise<void> {
  const { state } = ctx;
  const current = ctx.o.storeIncarnation;
  if (!current) return;
  const known = (await readFile(incarnationFile(ctx), 'utf8').catch(() => '')).trim();
  if (known === current) return;
  const completed = await ctx.completed.load((file, err) => ctx.log.warn({ file, err: errorMessage(err) }, 'agent: skipping unreadable completed-task entry'));
  const recent = keepCompleted(completed.values(), Date.now());
  for (const t of completed.values()) if (!recent.has(t.taskId)) await ctx.completed.remove(t.taskId);
  if (known) {
    // A batch task that ran to completion must not run again because the store forgot it did.
    for (const t of recent.values()) {
      if (state.records.has(t.taskId)) continue;
      state.records.set(t.taskId, t);
      await ctx.journal.save(t);
      await ctx.completed.remove(t.taskId);
    }
    for (const id of heldAfterRebuild(state.records.values())) state.held.add(id);
    state.holdUntil = Date.now() + ctx.o.recoveryHoldMs;
    ctx.log.warn({ was: known, now: current, held: state.held.size, holdSeconds: ctx.o.recoveryHoldMs / 1000 }, 'agent: the store was rebuilt; keeping this node\'s tasks running until bindings claim them');
  }
  if (state.held.size === 0) await recordIncarnation(ctx);
}

async function recordIncarnation(ctx: AgentContext): Promise<void> {
  if (!ctx.o.storeIncarnation) return;
  await writeFileAtomic(incarnationFile(ctx), `${ctx.o.storeIncarnation}\n`);
}

/** releaseHeldTasks lets go of held tasks a binding now decides (or whose hold ended). */
export async function releaseHeldTasks(ctx: AgentContext): Promise<void> {
  const { state } = ctx;
  if (state.held.size === 0) return;
  const released = releaseHeld(state.held, {
    now: Date.now(),
    until: state.holdUntil,
    // Bound here decides only once the spec is in too: binding and spec come on separate watches, and
    // a task released with its binding but not yet its spec is not desired, so its container (the one
    // the hold kept running) would be stopped. A finished task has no container to keep: its binding
    // alone decides. (Else a batch task whose Job completed and was deleted between the binding and
    // the next pass stayed held for the whole hold, its run not filed as completed: e2e/up, CI 37, 39.)
    boundHere: (id) => (state.bindings.has(id) || state.decided.get(id) === 'here') && (state.specs.get(id) !== undefined || state.records.get(id)?.phase === 'finished'),
    boundElsewhere: (id) => state.boundElsewhere.has(id) || state.decided.get(id) === 'elsewhere',
    // Its spec deleted by the rebuilt control plane (watches.ts applySpecDeleted): nobody wants it.
    known: (id) => state.records.has(id) && state.decided.get(id) !== 'gone',
  });
  for (const r of released) {
    state.held.delete(r.taskId);
    state.decided.delete(r.taskId);
    ctx.log.info({ task: r.taskId, why: r.why }, 'agent: held task released');
    const t = state.records.get(r.taskId);
    if (t && r.why === 'bound here') await writeStatus(ctx, t);
  }
  if (released.length && state.held.size === 0) {
    await recordIncarnation(ctx);
    ctx.log.info('agent: recovery after the store rebuild complete');
  }
}
