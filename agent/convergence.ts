/**
 * The convergence loop: a pass compares what is desired (bindings to this node with their specs, and
 * tasks held after a store rebuild) with what runs, asks converge.ts what to do, and runs each task's
 * actions under its lock; then it starts the restarts whose backoff is over (`dueRestarts`). Passes
 * never overlap: a kick during a pass makes one more pass after it.
 *
 *   kick (watch change, operation done, resync timer, backoff over)
 *     └─► pass: release held ─► resend failed statuses ─► runtime.list ─► converge ─► actions per task
 *                                                                        └─► dueRestarts ─► runStart
 */
import { errorMessage } from '../lib/index.ts';
import type { TaskSpec } from '../api/index.ts';
import { converge, type Action, type ObservedContainer } from './converge.ts';
import type { LocalTask } from './journal.ts';
import { ANNOTATION_HASH, ANNOTATION_TASK, type ContainerView } from './port.ts';
import type { AgentContext, AgentState } from './context.ts';
import { resendUnsent } from './report.ts';
import { releaseHeldTasks } from './rebuild.ts';
import { adopt, forget, runStart, runStop } from './lifecycle.ts';

/** observedContainers turns the runtime's list into converge's view: only containers of a task count. */
export function observedContainers(containers: ContainerView[]): ObservedContainer[] {
  return containers.filter((c) => c.annotations[ANNOTATION_TASK]).map((c) => ({
    id: c.id,
    taskId: c.annotations[ANNOTATION_TASK]!,
    templateHash: c.annotations[ANNOTATION_HASH] ?? '',
    running: c.status !== 'stopped',
    createdAt: c.createdAt,
  }));
}

/** desiredSpecs is what this node should run: bound tasks with a spec, and held tasks as journaled. */
export function desiredSpecs(s: Pick<AgentState, 'bindings' | 'specs' | 'held' | 'records'>): Map<string, TaskSpec> {
  const out = new Map<string, TaskSpec>();
  for (const taskId of s.bindings.keys()) {
    const spec = s.specs.get(taskId);
    if (spec) out.set(taskId, spec);
  }
  // Held after a store rebuild: still wanted, as journaled, until a binding decides.
  for (const taskId of s.held) {
    const t = s.records.get(taskId);
    if (t && !out.has(taskId)) out.set(taskId, t.spec);
  }
  return out;
}

/** DueRestart is a task whose crash-loop (or start-failure) backoff is over. */
export interface DueRestart {
  task: LocalTask;
  spec: TaskSpec;
}

/**
 * dueRestarts is the restart-due check, pure: a task in backoff restarts once its `restartAt` has
 * passed, if it is still desired with the same template, no operation holds it and the node is not
 * draining. (A new template is converge's business: a replacement, not a restart.)
 */
export function dueRestarts(records: Iterable<LocalTask>, desired: ReadonlyMap<string, TaskSpec>, o: { now: number; busy: ReadonlySet<string>; draining: boolean }): DueRestart[] {
  if (o.draining) return [];
  const out: DueRestart[] = [];
  for (const t of records) {
    const spec = desired.get(t.taskId);
    if (t.phase === 'backoff' && (t.restartAt ?? 0) <= o.now && spec && spec.templateHash === t.templateHash && !o.busy.has(t.taskId)) out.push({ task: t, spec });
  }
  return out;
}

/** actionsByTask groups a pass's actions by task, in order (one lock per task runs them in sequence). */
export function actionsByTask(actions: Action[]): Map<string, Action[]> {
  const out = new Map<string, Action[]>();
  for (const a of actions) out.set(a.taskId, [...(out.get(a.taskId) ?? []), a]);
  return out;
}

/** Convergence runs the passes of one agent, one at a time: a kick during a pass makes one more pass after it. */
export class Convergence {
  private running = false;
  private again = false;

  constructor(private readonly ctx: AgentContext) {}

  /** kick asks for a convergence pass; passes never overlap, requests during one coalesce. */
  kick(): void {
    const { state } = this.ctx;
    if (state.stopped || !state.synced) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      do {
        this.again = false;
        const end = this.ctx.metrics.passes.startTimer();
        try {
          await this.pass();
        } catch (err) {
          this.ctx.log.error({ err: errorMessage(err) }, 'agent: convergence pass failed');
        }
        end();
        state.lastPassAt = Date.now();
      } while (this.again && !state.stopped);
      this.running = false;
    })();
  }

  private async pass(): Promise<void> {
    const { ctx } = this;
    const { state, locks } = ctx;
    await releaseHeldTasks(ctx);
    await resendUnsent(ctx);
    const containers = await ctx.d.runtime.list();
    const desired = desiredSpecs(state);
    const draining = state.nodeSpec?.draining === true;
    const actions = converge({
      desired: [...desired.values()].map((s) => ({ taskId: s.id, templateHash: s.templateHash })),
      containers: observedContainers(containers),
      records: [...state.records.values()],
      draining,
      busy: locks.busy,
    });
    for (const [taskId, list] of actionsByTask(actions)) locks.run(taskId, () => this.execute(list, desired.get(taskId), containers));
    // Restarts due after a backoff (the lifecycle part that converge leaves to us).
    for (const r of dueRestarts(state.records.values(), desired, { now: Date.now(), busy: locks.busy, draining })) {
      locks.run(r.task.taskId, () => runStart(ctx, r.spec, r.task));
    }
  }

  private async execute(actions: Action[], spec: TaskSpec | undefined, containers: ContainerView[]): Promise<void> {
    const { ctx } = this;
    for (const a of actions) {
      switch (a.type) {
        case 'start':
          if (spec) await runStart(ctx, spec, ctx.state.records.get(a.taskId));
          break;
        case 'stop':
          await runStop(ctx, a.taskId, a.reason, a.containerId);
          break;
        case 'removeContainer':
          await ctx.d.runtime.remove(a.containerId);
          break;
        case 'adopt': {
          const c = containers.find((x) => x.id === a.containerId);
          if (spec && c) await adopt(ctx, spec, c);
          break;
        }
        case 'forget':
          await forget(ctx, a.taskId, a.containerIds);
          break;
      }
    }
  }
}
