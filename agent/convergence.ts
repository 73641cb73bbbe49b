/**
 * The convergence loop: a pass compares what is desired (bindings to this node with their specs, and
 * tasks held after a store rebuild) with what runs, asks converge.ts what to do, and runs each task's
 * actions under its lock; then it starts the restarts whose backoff is over (`dueRestarts`). Passes
 * never overlap and kicks gather: the kicks of one event-loop turn make one pass, kicks during a pass
 * make one more after it.
 *
 * A kick names the task whose input changed (its binding, its spec, the end of an operation on it,
 * its backoff) or none (the resync timer, the node spec, a snapshot): the pass then looks only at the
 * named tasks, unless some kick named none. converge decides each task from that task's inputs alone,
 * so a pass over some tasks decides for them exactly what a pass over all would. A hollow process
 * runs 3,300 nodes: a pass over every task of a node on each lock release was 19 of 103 CPU-s in a
 * 10,000-node commit.
 *
 * The resync timer is the safety net for what no kick tells (a container that changed behind the
 * agent's back, a status write that failed). A quiet node skips it: after a pass over the whole node
 * that decided nothing (no action, no restart due, nothing busy, in backoff, held or unsent), and with
 * no kick since, a resync only lists the runtime; when that hands out the very same container views
 * (a view is replaced whenever its container changes: TaskRuntime.list), converge would decide
 * nothing again and the pass is skipped. A hollow process resyncs 4,750 nodes every 10 s: each of
 * those passes walked all of a node's tasks to decide nothing. A real node's runtime relists its
 * containers (fresh views) at most every second, so its 2-s resyncs stay full passes.
 *
 *   kick(task?) ─► PassScope ─► (end of the turn) pass: release held ─► resend failed statuses ─► runtime.list
 *                                                 ─► converge (the scope's tasks) ─► actions per task ─► dueRestarts ─► runStart
 *   resync() ─► quiet, and the runtime lists the same views? ─ yes ─► nothing but lastPassAt ; no ─► kick()
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

/** observedContainers turns the runtime's list into converge's view: only containers of a task count (of the tasks in `only`, if given). */
export function observedContainers(containers: readonly ContainerView[], only?: ReadonlySet<string>): ObservedContainer[] {
  return containers.filter((c) => { const t = c.annotations[ANNOTATION_TASK]; return t && (!only || only.has(t)); }).map((c) => ({
    id: c.id,
    taskId: c.annotations[ANNOTATION_TASK]!,
    templateHash: c.annotations[ANNOTATION_HASH] ?? '',
    running: c.status !== 'stopped',
    createdAt: c.createdAt,
  }));
}

/** desiredSpecs is what this node should run: bound tasks with a spec, and held tasks as journaled (of the tasks in `only`, if given). */
export function desiredSpecs(s: Pick<AgentState, 'bindings' | 'specs' | 'held' | 'records'>, only?: ReadonlySet<string>): Map<string, TaskSpec> {
  const out = new Map<string, TaskSpec>();
  for (const taskId of only ?? s.bindings.keys()) {
    const spec = !only || s.bindings.has(taskId) ? s.specs.get(taskId) : undefined;
    if (spec) out.set(taskId, spec);
  }
  // Held after a store rebuild: still wanted, as journaled, until a binding decides.
  for (const taskId of s.held) {
    if (only && !only.has(taskId)) continue;
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

/** recordsOf lists the journal entries of a pass: every task's, or those of the tasks in `only`. */
export function recordsOf(records: ReadonlyMap<string, LocalTask>, only?: ReadonlySet<string>): LocalTask[] {
  if (!only) return [...records.values()];
  const out: LocalTask[] = [];
  for (const id of only) {
    const t = records.get(id);
    if (t) out.push(t);
  }
  return out;
}

/** sameViews tells whether the runtime listed the very same container views (objects, in order) as before. Pure. */
export function sameViews(a: readonly ContainerView[], b: readonly ContainerView[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * decidedNothing tells whether a pass over the whole node left nothing that a later pass would do
 * without a kick, pure: no action, no restart due, no operation in flight, and no task in backoff
 * (its restart comes by time), held or with an unsent status.
 */
export function decidedNothing(p: { actions: number; restarts: number; busy: number; held: number; unsent: number; records: readonly LocalTask[] }): boolean {
  return p.actions === 0 && p.restarts === 0 && p.busy === 0 && p.held === 0 && p.unsent === 0 && !p.records.some((t) => t.phase === 'backoff');
}

/**
 * PassScope gathers what the next pass looks at: the tasks named by kicks since the last pass, or the
 * whole node once any kick named none.
 */
export class PassScope {
  private all = false;
  private ids = new Set<string>();

  /** add names one task whose input changed, or (no id) the whole node. */
  add(taskId?: string): void {
    if (this.all) return;
    if (taskId === undefined) {
      this.all = true;
      this.ids = new Set();
    } else this.ids.add(taskId);
  }

  /** take hands over what was gathered and starts afresh: undefined means the whole node. */
  take(): ReadonlySet<string> | undefined {
    const out = this.all ? undefined : this.ids;
    this.all = false;
    this.ids = new Set();
    return out;
  }

  /** restore gives back what a failed pass took, so its retry still looks at it. */
  restore(taken: ReadonlySet<string> | undefined): void {
    if (!taken) return this.add();
    for (const id of taken) this.add(id);
  }
}

/** Convergence runs the passes of one agent (see the file comment). */
export class Convergence {
  private readonly scope = new PassScope();
  private scheduled = false;
  private running = false;
  private again = false;
  /** tasks a pass had to skip because an operation held them: their release must kick them again */
  private readonly missed = new Set<string>();
  /** kicks so far: a pass that saw one arrive while it ran does not leave the node quiet */
  private kicks = 0;
  /** set by a pass over the whole node that decided nothing, with the views it listed; any kick clears it */
  private quiet: { views: readonly ContainerView[] } | undefined;
  /** passes completed (tests: kicks gather) */
  passes = 0;
  /** resyncs skipped because the node was quiet (tests) */
  quietResyncs = 0;

  constructor(private readonly ctx: AgentContext) {}

  /**
   * kick asks for a pass over `taskId` (its input changed), or over the whole node. The pass starts
   * once the current turn's synchronous work is done (a microtask), so the kicks of one turn (a batch
   * of watch messages) make one pass, and it still runs in that turn: passes never wait for a timer,
   * where thousands of hollow nodes' timers came due together and ran as one long turn that held
   * back the connection's reads (stale connections under load). Kicks during a pass make one more.
   */
  kick(taskId?: string): void {
    const { state } = this.ctx;
    if (state.stopped) return;
    this.kicks++;
    this.quiet = undefined;
    this.scope.add(taskId);
    if (!state.synced) return; // remembered: the first kick after the sync makes the pass
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.loop();
    });
  }

  /**
   * released is the end of an operation on `taskId` (task-locks.ts onRelease). It asks for a pass over
   * the task unless none can do anything for it: the operation left it running, no pass skipped it
   * while it was busy (its binding, spec or the node changed meanwhile) and its status went out. For
   * a task left running with the same inputs, converge decides nothing (its lifecycle owns it) and
   * no restart is due: that pass after every start was one of the two passes per task of a hollow
   * node's commit.
   */
  released(taskId: string): void {
    const missed = this.missed.delete(taskId);
    const { state } = this.ctx;
    if (missed || state.records.get(taskId)?.phase !== 'running' || state.unsent.has(taskId)) this.kick(taskId);
  }

  /**
   * resync is the resync timer's kick of the whole node, skipped while the node is quiet (see the
   * file comment): then it costs one listing of the runtime and a comparison.
   */
  resync(): void {
    const { state } = this.ctx;
    const quiet = this.quiet;
    if (!quiet || this.running || this.scheduled || state.held.size > 0 || state.unsent.size > 0) return this.kick();
    const kicks = this.kicks;
    this.ctx.d.runtime.list().then((views) => {
      if (state.stopped) return;
      if (this.quiet !== quiet || this.kicks !== kicks || !sameViews(views, quiet.views)) return this.kick();
      this.quietResyncs++;
      state.lastPassAt = Date.now();
    }, () => this.kick());
  }

  private async loop(): Promise<void> {
    const { state } = this.ctx;
    if (this.running || state.stopped) return;
    this.running = true;
    do {
      this.again = false;
      const only = this.scope.take();
      const end = this.ctx.metrics.passes.startTimer();
      try {
        await this.pass(only);
        this.passes++;
      } catch (err) {
        // Looked at again by the next pass (the next kick, or the resync).
        this.scope.restore(only);
        this.ctx.log.error({ err: errorMessage(err) }, 'agent: convergence pass failed');
      }
      end();
      state.lastPassAt = Date.now();
    } while (this.again && !state.stopped);
    this.running = false;
  }

  private async pass(only: ReadonlySet<string> | undefined): Promise<void> {
    const { ctx } = this;
    const { state, locks } = ctx;
    const kicks = this.kicks;
    // Awaited only when there is something to do: two async calls per pass otherwise.
    if (state.held.size > 0) await releaseHeldTasks(ctx);
    if (state.unsent.size > 0) await resendUnsent(ctx);
    if (only?.size === 0) return;
    const containers = await ctx.d.runtime.list();
    const desired = desiredSpecs(state, only);
    const records = recordsOf(state.records, only);
    const draining = state.nodeSpec?.draining === true;
    const actions = converge({
      desired: [...desired.values()].map((s) => ({ taskId: s.id, templateHash: s.templateHash })),
      containers: observedContainers(containers, only),
      records,
      draining,
      busy: locks.busy,
    });
    // Busy tasks were skipped (before this pass's actions take their locks): their release kicks them.
    for (const id of only ?? locks.busy) if (locks.busy.has(id)) this.missed.add(id);
    const due = dueRestarts(records, desired, { now: Date.now(), busy: locks.busy, draining });
    // Judged before the actions take their locks; a kick that came while the pass awaited counts.
    const nothing = !only && this.kicks === kicks && decidedNothing({ actions: actions.length, restarts: due.length, busy: locks.busy.size, held: state.held.size, unsent: state.unsent.size, records });
    for (const [taskId, list] of actionsByTask(actions)) locks.run(taskId, () => this.execute(list, desired.get(taskId), containers));
    // Restarts due after a backoff (the lifecycle part that converge leaves to us).
    for (const r of due) locks.run(r.task.taskId, () => runStart(ctx, r.spec, r.task));
    if (nothing) this.quiet = { views: containers };
  }

  private async execute(actions: Action[], spec: TaskSpec | undefined, containers: readonly ContainerView[]): Promise<void> {
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
