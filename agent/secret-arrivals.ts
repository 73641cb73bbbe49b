// A task whose start failed because a Secret had not reached this node yet (the reconciler re-seals
// each Secret to a node's key once the node registered: on a new cluster the scheduler can bind a
// task first) would wait out its start backoff, 10 s the first time. A Secret re-sealed for this
// node is a put in its own secrets bucket: on one, every start-failed task is due again at once.
//
//   secrets bucket put ─► each task in backoff after a failed start (no container), or busy (once its
//     operation ends): journal restartAt 0 (under its lock) ─► lock released ─► kick ─► convergence starts it
import type { NodeSecretRecord } from '../api/cluster.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Watch, WatchOptions } from '../store/index.ts';
import type { AgentContext } from './context.ts';
import type { LocalTask } from './journal.ts';
import { save } from './report.ts';
import { changed, usesSecrets } from './transitions.ts';

/** SecretArrivals is the part of a node's secrets bucket this needs: its watch. */
export interface SecretArrivals {
  watch(opts?: WatchOptions): Watch<NodeSecretRecord>;
}

/** startFailed tells whether a journal entry waits after a start that failed (no container ran). Pure. */
export function startFailed(t: { phase: string; containerId?: string; message?: string }): boolean {
  return t.phase === 'backoff' && t.containerId === undefined && (t.message?.startsWith('start failed') ?? false);
}

/**
 * retryStartsOnSecretArrival follows the node's secrets bucket until `signal` aborts; each put makes
 * every start-failed task due now. A watch that fails ends this quietly: the backoff still retries.
 */
export function retryStartsOnSecretArrival(ctx: AgentContext, bucket: SecretArrivals, signal: AbortSignal): void {
  const arrivals = (ctx.secretArrivals = new Set());
  void (async () => {
    try {
      for await (const ev of bucket.watch({ signal })) {
        if (ev.type !== 'put') continue;
        for (const wake of [...arrivals]) wake();
        // A start in flight may be failing for want of this very Secret: it is judged once it ends
        // (runWhenFree), or it would wait out its backoff (seen: 10 s of a 3-task rollout in the e2e bench).
        for (const t of [...ctx.state.records.values()].filter((r) => startFailed(r) || ctx.locks.busy.has(r.taskId))) {
          ctx.locks.runWhenFree(t.taskId, async () => {
            const now = ctx.state.records.get(t.taskId);
            if (now && startFailed(now)) await save(ctx, changed(now, { restartAt: 0 }), false);
          });
        }
      }
    } catch (err) {
      if (!signal.aborted) ctx.log.warn({ err: errorMessage(err) }, 'agent: the watch of this node\'s Secrets ended; failed starts wait out their backoff');
    } finally {
      if (ctx.secretArrivals === arrivals) delete ctx.secretArrivals;
      for (const wake of [...arrivals]) wake();
    }
  })();
}

/**
 * awaitSecrets holds a start (under its task's lock) until every Secret of `t` reached this node, at
 * most `maxMs` (AgentOptions.secretWaitMs, default SECRET_WAIT_MS), woken by the puts the arrival
 * watch sees; it says so in the task's status while it waits. The reconciler re-seals a Secret to a node once a task using it is bound there, so on a new
 * cluster the first start often comes first: without the wait it failed ("has not reached node"),
 * went to backoff and was retried on the arrival (~1.5 s of a web task's start in a gitcell up at
 * load 59, and a FailedStart event per task). Past the wait, or without the watch, the start goes on
 * and fails as before.
 */
export async function awaitSecrets(ctx: AgentContext, t: LocalTask, maxMs = ctx.o.secretWaitMs): Promise<void> {
  const { volumes } = ctx;
  if (!volumes || maxMs <= 0 || !usesSecrets(t.spec)) return;
  const deadline = Date.now() + maxMs;
  let told = false;
  for (;;) {
    const arrivals = ctx.secretArrivals;
    if (!arrivals || ctx.state.stopped) return;
    let wake!: () => void;
    const arrived = new Promise<void>((r) => (wake = r));
    arrivals.add(wake); // before the check: a put between the check and the wait still wakes it
    let timer: NodeJS.Timeout | undefined;
    try {
      const missing = await volumes.missing(t.spec).catch(() => undefined); // a failed read: prepare reports it
      const left = deadline - Date.now();
      if (missing === undefined || left <= 0) return;
      if (!told) {
        told = true;
        await save(ctx, changed(t, { message: `waiting for Secret ${missing} to reach this node` }));
      }
      await new Promise<void>((r) => {
        timer = setTimeout(r, left);
        void arrived.then(r);
      });
    } finally {
      clearTimeout(timer);
      arrivals.delete(wake);
    }
  }
}
