// ExitWatch: one watcher for the exits of every container a manager waits on. conmon writes each
// container's exit code to ROOT/exits/<id> too (--exit-dir: "helps if a daemon process wants to
// monitor all container exits using inotify"), so one inotify watch on that directory serves them
// all; one shared tick re-checks every waited container (a missed event, a container of the older
// sh shim, a monitor killed from outside). Before it, each waiting container cost an inotify watch
// re-made every second and a 100 ms timer: 1,000 checks a second at 100 tasks; now 50 (the tick).
//
//   wait(id) ─► waiters[id] ─┬─ fs.watch(ROOT/exits) event "<id>" ─► check(id)
//                            └─ tick every TICK_MS               ─► check(every waited id)
//   check: exited ─► resolve · lost (monitor gone, no exit file) ─► reject · else keep waiting
import * as fs from 'node:fs';

/** Verdict is what a check of one container says: done (with a value), failed, or still running. */
export type Verdict<T> = { done: T } | { failed: Error } | undefined;

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
}

/** TICK_MS: how often every waited container is re-checked without an inotify event. */
export const TICK_MS = 2000;

/** ExitWatch multiplexes container exit waits over one directory watch and one timer. */
export class ExitWatch<T> {
  private readonly waiters = new Map<string, Set<Waiter<T>>>();
  private watcher: fs.FSWatcher | undefined;
  private tick: NodeJS.Timeout | undefined;

  /** `dir` is conmon's exit directory; `check` reads one container's state (cheap, synchronous). */
  constructor(private readonly dir: string, private readonly check: (id: string) => Verdict<T>) {}

  /** wait resolves once `check(id)` says done, rejects when it says failed or after `timeoutMs`. */
  wait(id: string, timeoutMs: number | undefined, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject };
      if (timeoutMs !== undefined) w.timer = setTimeout(() => this.settle(id, w, { failed: onTimeout() }), timeoutMs);
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add(w);
      this.start();
      this.checkOne(id); // it may have exited already
    });
  }

  private checkOne(id: string): void {
    const set = this.waiters.get(id);
    if (!set) return;
    let v: Verdict<T>;
    try {
      v = this.check(id);
    } catch (err) {
      v = { failed: err as Error };
    }
    if (v) for (const w of [...set]) this.settle(id, w, v);
  }

  private settle(id: string, w: Waiter<T>, v: NonNullable<Verdict<T>>): void {
    const set = this.waiters.get(id);
    if (!set?.delete(w)) return;
    clearTimeout(w.timer);
    if (set.size === 0) this.waiters.delete(id);
    if ('done' in v) w.resolve(v.done);
    else w.reject(v.failed);
    if (this.waiters.size === 0) this.stop();
  }

  private start(): void {
    if (!this.tick) {
      // Referenced, as any wait's timer: a caller awaiting an exit keeps its process alive until it.
      this.tick = setInterval(() => { for (const id of [...this.waiters.keys()]) this.checkOne(id); }, TICK_MS);
    }
    if (this.watcher) return;
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.watcher = fs.watch(this.dir, (_event, name) => { if (name) this.checkOne(String(name)); });
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; }); // the tick still checks
    } catch {
      // the tick alone still sees every exit, a second later
    }
  }

  /** close drops every wait (their promises stay pending) and the watch and tick with them. */
  close(): void {
    for (const set of this.waiters.values()) for (const w of set) clearTimeout(w.timer);
    this.waiters.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.tick);
    this.tick = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }
}
