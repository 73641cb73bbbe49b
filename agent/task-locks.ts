/**
 * One operation per task at a time. Every step the agent takes on a task (start, stop, adopt, forget,
 * the restart policy after an exit, a probe kill) runs under the task's lock, so a task's journal
 * entry never has two writers and a container is never started twice. A convergence pass skips busy
 * tasks (it comes back on the next pass); an exit or a probe kill must not be lost, so it waits for
 * the lock instead (`runWhenFree`, the one place that waits: it replaced two 50 ms retry loops).
 */

/** TaskLocksOptions: how the locks learn that the agent stopped, and whom they tell. */
export interface TaskLocksOptions {
  /** stopped: no new operation starts, and queued ones are dropped */
  stopped: () => boolean;
  /** onError hears an operation that failed (the agent logs it) */
  onError: (taskId: string, err: unknown) => void;
  /** onRelease runs after each operation on a task (the agent asks for a pass over it when one could act: Convergence.released) */
  onRelease: (taskId: string) => void;
}

/** TaskLocks serialises the operations on each task: `run` skips a busy task, `runWhenFree` waits for it. */
export class TaskLocks {
  private readonly held = new Set<string>();
  private readonly waiting = new Map<string, (() => Promise<void>)[]>();
  private readonly ops = new Set<Promise<unknown>>();

  constructor(private readonly o: TaskLocksOptions) {}

  /** busy is the set of tasks with an operation in flight (read-only view). */
  get busy(): ReadonlySet<string> {
    return this.held;
  }

  /** run starts `fn` under the task's lock; false (and nothing runs) when the task is busy or the agent stopped. */
  run(taskId: string, fn: () => Promise<void>): boolean {
    if (this.held.has(taskId) || this.o.stopped()) return false;
    this.held.add(taskId);
    this.track(this.locked(taskId, fn));
    return true;
  }

  /** locked runs `fn`, the task's lock held, and releases it however `fn` ends (one promise, not a chain of three per operation). */
  private async locked(taskId: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.o.onError(taskId, err);
    } finally {
      this.release(taskId);
    }
  }

  /** runWhenFree runs `fn` under the task's lock as soon as the operation holding it ends, in arrival order. */
  runWhenFree(taskId: string, fn: () => Promise<void>): void {
    if (this.o.stopped()) return;
    if (this.run(taskId, fn)) return;
    const queue = this.waiting.get(taskId) ?? [];
    queue.push(fn);
    this.waiting.set(taskId, queue);
  }

  /** track keeps a promise the agent must let settle before it stops (an operation, a probe). */
  track(p: Promise<unknown>): void {
    this.ops.add(p);
    void p.finally(() => this.ops.delete(p));
  }

  /** settle waits for every tracked promise (on stop). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.ops]);
  }

  private release(taskId: string): void {
    this.held.delete(taskId);
    const queue = this.waiting.get(taskId);
    const next = queue?.shift();
    if (!queue?.length || this.o.stopped()) this.waiting.delete(taskId);
    if (next) this.runWhenFree(taskId, next);
    this.o.onRelease(taskId);
  }
}
