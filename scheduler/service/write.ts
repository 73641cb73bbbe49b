/**
 * Writing one scheduler pass, in phases whose order is the point (SchedulerService.pass calls
 * writePass with planPass's result):
 *
 *   unbindLapsed (lapsed nodes, gone tasks) ─► unbindVictims (preemption) ─► bindPlacements ─► reportUnplaced
 *
 * Deletions first: a task re-queued from a dead node may be bound again in the same pass. A
 * preemptor is bound only if all its victims were unbound. Every write is compare-and-set or
 * create-if-absent; a lost race is counted and re-checked next pass, never retried blindly. A phase
 * returns false when leadership is in doubt: the pass stops writing at once.
 */
import type { Binding, ClusterEvent, TaskSpec } from '../../api/index.ts';
import { isGitcellError, mapLimit, type Logger } from '../../lib/index.ts';
import { recordEvent, StoreErrorCodes, type ClusterStore, type Informer, type LeaderContext } from '../../store/index.ts';
import type { EventLimiter } from './event-limiter.ts';
import type { PassPlan } from './plan.ts';
import type { PassReport } from './service.ts';

/** PassWrite is what writing one pass needs: the store, the term, the bindings informer and the report to count into. */
export interface PassWrite {
  store: Pick<ClusterStore, 'bindings' | 'events'>;
  ctx: LeaderContext;
  log: Logger;
  /** the scheduler's identity, the source of its events */
  identity: string;
  writeConcurrency: number;
  tasks: ReadonlyMap<string, TaskSpec>;
  /** the bindings informer, or a view of it that also tells the cache of each own write */
  bindings: Pick<Informer<Binding>, 'entry' | 'apply'>;
  limiter: EventLimiter;
  now: number;
  report: PassReport;
}

/** writePass makes one pass's plan real; false when it stopped early (leadership in doubt). */
export async function writePass(w: PassWrite, plan: PassPlan): Promise<boolean> {
  if (!(await unbindLapsed(w, plan))) return false;
  const failedVictims = await unbindVictims(w, plan);
  if (!failedVictims) return false;
  if (!(await bindPlacements(w, plan, failedVictims))) return false;
  await reportUnplaced(w, plan);
  return true;
}

/** unbindLapsed deletes the bindings of lapsed or gone nodes and of gone tasks, each with its event, writeConcurrency at a time. */
async function unbindLapsed(w: PassWrite, plan: PassPlan): Promise<boolean> {
  return pipelined(w, plan.unbind, async (u) => {
    if (await unbind(w, u.taskId, u.revision)) {
      w.report.unbound++;
      await taskEvent(w, u.reason, u.reason === 'TaskGone' ? 'Normal' : 'Warning', u.taskId, u.message);
    } else w.report.lostRaces++;
  });
}

/** unbindVictims unbinds the preemption victims; returns those it could not unbind (their preemptors wait), or undefined when stopped. */
async function unbindVictims(w: PassWrite, plan: PassPlan): Promise<Set<string> | undefined> {
  const failedVictims = new Set<string>();
  const done = await pipelined(w, plan.result.preemptions, async (p) => {
    const b = w.bindings.entry(p.taskId);
    if (b && (await unbind(w, p.taskId, b.revision))) {
      w.report.preempted++;
      await taskEvent(w, 'Preempted', 'Warning', p.taskId, `preempted on ${p.node} by ${p.preemptor} (priority ${p.preemptorPriority} > ${p.priority}); back to pending`);
    } else {
      failedVictims.add(p.taskId);
      w.report.lostRaces++;
    }
  });
  return done ? failedVictims : undefined;
}

/** bindPlacements creates the bindings (create = only if absent), writeConcurrency at a time. */
async function bindPlacements(w: PassWrite, plan: PassPlan, failedVictims: ReadonlySet<string>): Promise<boolean> {
  const { ctx, report } = w;
  const placements = plan.result.placements.filter((p) => !(p.victims ?? []).some((v) => failedVictims.has(v)));
  report.lostRaces += plan.result.placements.length - placements.length;
  const unsure: string[] = [];
  const done = await pipelined(w, placements, async (p) => {
    const binding: Binding = { taskId: p.taskId, node: p.node, boundAt: new Date().toISOString(), schedulerTerm: ctx.term };
    try {
      const revision = await w.store.bindings.create(p.taskId, binding);
      w.bindings.apply(p.taskId, binding, revision);
      w.limiter.forget(p.taskId);
      report.bound++;
    } catch (err) {
      if (isGitcellError(err, StoreErrorCodes.Unavailable)) {
        unsure.push(p.taskId); // timed out: it may have happened
        return;
      }
      if (!isGitcellError(err, StoreErrorCodes.Exists)) throw err;
      // Someone bound it first (a previous leader, a racing scheduler): re-check next pass.
      report.lostRaces++;
    }
  });
  await settleUnsure(w, unsure);
  return done;
}

/**
 * pipelined runs one phase's writes through the one worker pool, `writeConcurrency` in flight: a
 * window, not one acknowledged write after another (a round trip each: the unbindings and events of
 * 500 dead nodes' tasks went one by one). Each write is still its own compare-and-set, its lost race
 * handled by `fn`; leadership is checked before each write starts. False when it stopped early.
 */
async function pipelined<T>(w: PassWrite, items: readonly T[], fn: (item: T) => Promise<void>): Promise<boolean> {
  let stopped = false;
  await mapLimit(items, w.writeConcurrency, async (item) => {
    if (stopped || !w.ctx.valid()) {
      stopped = true;
      return;
    }
    await fn(item);
  });
  return !stopped;
}

/**
 * settleUnsure reads back (from the stream leader) each binding whose create timed out, so the next
 * pass knows the capacity it took: a create that happened but that the informer had not delivered
 * yet let the next pass fill that node again (nodes overcommitted at 1,000 nodes on a loaded machine).
 * Each is counted as a lost race: the next pass checks again.
 */
async function settleUnsure(w: PassWrite, taskIds: string[]): Promise<void> {
  await mapLimit(taskIds, w.writeConcurrency, async (taskId) => {
    const rec = await w.store.bindings.get(taskId);
    if (rec) w.bindings.apply(taskId, rec.value, rec.revision);
    w.report.lostRaces++;
  });
}

/** reportUnplaced records FailedScheduling with the reasons, rate-limited per task, writeConcurrency at a time. */
async function reportUnplaced(w: PassWrite, plan: PassPlan): Promise<void> {
  w.limiter.newPass();
  const allowed = plan.result.unplaced.filter((u) => w.limiter.allow(u.taskId, u.message, w.now));
  await mapLimit(allowed, w.writeConcurrency, (u) => taskEvent(w, 'FailedScheduling', 'Warning', u.taskId, u.message));
}

/** unbind deletes a binding if it is still at `revision`; false when someone changed it first. */
async function unbind(w: PassWrite, taskId: string, revision: number): Promise<boolean> {
  try {
    const rev = await w.store.bindings.delete(taskId, { revision });
    w.bindings.apply(taskId, undefined, rev);
    return true;
  } catch (err) {
    if (isGitcellError(err, StoreErrorCodes.Conflict)) return false;
    throw err;
  }
}

/** taskEvent records an event about a task while this scheduler still leads. */
async function taskEvent(w: PassWrite, reason: string, type: ClusterEvent['type'], taskId: string, message: string): Promise<void> {
  const task = w.tasks.get(taskId);
  const ev: ClusterEvent = {
    time: new Date().toISOString(),
    type,
    reason,
    object: { kind: 'Task', ...(task ? { namespace: task.namespace } : {}), name: taskId },
    message,
    source: `scheduler/${w.identity}`,
  };
  if (await recordEvent(w.store.events, ev, { log: w.log, valid: w.ctx.valid })) w.report.events++;
}
