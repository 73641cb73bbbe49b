/**
 * Informer<T>: the one in-memory copy of a bucket (or a prefix of it, or one key) that gitcell's
 * components read instead of the store, like a Kubernetes informer. Its contract, checked for every
 * user by the conformance suite in test/helpers/informer-suite.ts:
 *
 *   - synced: `hasSynced` / `synced` once the initial snapshot is in, never before (a controller
 *     acting on a partial copy would delete what it merely has not seen yet);
 *   - restart: a watch that ends or fails while the signal is live is started again after a bounded
 *     exponential backoff, resuming after the last revision it handled, so the copy catches up
 *     with every change made meanwhile (deletes too) and never freezes; a closed connection ends
 *     the informer (`done`), as it ends every watch on it;
 *   - revision guard: every key remembers the newest revision applied to it, deletes included, so
 *     an older event still in flight never rolls back a newer one, and a component's own write can
 *     be applied at once with its revision (`apply`) without being undone by a late watch event;
 *   - read-only view: readers get an `InformerView<T>`; only the owner applies writes.
 *
 *   bucket.watch ──snapshot──► pending ──synced──► entries ──► get / values / entries (InformerView)
 *        ▲                                            ▲  (each key: newest revision wins)
 *        └─ ended/failed: backoff, resume after revision   └── apply(key, value, revision): own writes
 */
import { Backoff, createLogger, errorMessage, sleep, type BackoffOptions, type Logger } from '../lib/index.ts';
import type { Watch, WatchEvent, WatchOptions, WatchReset } from './watch.ts';
import { LazyChange, LazyEntry } from './lazy.ts';

/** InformerEntry is a key's latest value and the revision to compare-and-set against. */
export interface InformerEntry<T> {
  readonly value: T;
  readonly revision: number;
  /** when the server stored this revision (epoch ms); kept only with the `times` option, from watch events */
  readonly created?: number;
}

/** InformerSource is what an informer needs of a bucket: its name and a watch (a RoBucket has both). */
export interface InformerSource<T> {
  readonly name: string;
  watch(opts?: WatchOptions<T>): Watch<T>;
  /** the connection: once it is closed for good, a watch that ended is not restarted */
  readonly nc?: { isClosed(): boolean };
}

/**
 * InformerChange tells `onChange` what changed once synced: a key with its value before and after
 * (undefined = absent), or `undefined` for "everything may have changed" (the snapshot is in).
 */
export type InformerChange<T> = { key: string; prev: T | undefined; next: T | undefined } | undefined;

/** InformerOptions: what to follow, until when, and whom to tell. */
export interface InformerOptions<T> {
  /** the informer follows until this aborts */
  signal: AbortSignal;
  /** follow keys below this prefix (default: every key) */
  prefix?: string;
  /** follow exactly this key (instead of a prefix) */
  key?: string;
  /**
   * called once after the snapshot (with undefined) and after every change a watch delivers once
   * synced; not for `apply` (the writer knows). Debounce it yourself.
   */
  onChange?: (change: InformerChange<T>) => void;
  log?: Logger;
  /** delays between watch restarts (default 100 ms doubling to 5 s) */
  backoff?: BackoffOptions;
  /** keep each entry's server time (`created`): for buckets whose entries' time is their meaning (node leases) */
  times?: boolean;
  /**
   * for buckets kept in memory (node leases), whose stream a server restart empties and numbers
   * again from 1: every watch restart takes a new snapshot that replaces the copy (keys it lacks are
   * gone, revisions may go down), and `snapshotAt` says when, instead of resuming after a revision
   * that may never come again. onChange is told `undefined` again after each replacement.
   */
  resnapshot?: boolean;
  /** follow in batches every this many ms (WatchOptions `batchMs`): for often-written buckets whose readers can wait */
  batchMs?: number;
  /**
   * decode each value when first read, not when it arrives (WatchOptions `lazy`): for a copy of a
   * whole bucket whose reader reads only some keys (the task specs of a process of hollow nodes).
   * onChange's `prev` and `next` are then read on demand too. A value that cannot be decoded is
   * reported when read and reads as the key's value before it (as an eager informer skips it), or
   * undefined if it had none: meant for readers that `get` by key.
   */
  lazy?: boolean;
}

/**
 * ChangeListeners are the readers of a view's changes: its owner's onChange and those that `listen`
 * (the one implementation for Informer and NodeInformer).
 */
export class ChangeListeners<T> {
  private readonly fns = new Set<(change: InformerChange<T>) => void>();

  constructor(private readonly onChange: ((change: InformerChange<T>) => void) | undefined) {}

  /** listen adds a reader; returns the function that removes it. */
  listen(fn: (change: InformerChange<T>) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  /** tell tells onChange, then every reader. */
  tell(change: InformerChange<T>): void {
    this.onChange?.(change);
    for (const fn of this.fns) fn(change);
  }
}

/** Pending is a snapshot entry not yet installed (undefined entry: deleted). */
interface Pending<T> {
  entry: InformerEntry<T> | undefined;
  revision: number;
}

/** defaultInformerBackoff: watch restarts wait 100 ms, doubling to 5 s. */
export const defaultInformerBackoff: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/** InformerView is the read-only face of an informer: what a reader of the copy may do. */
export interface InformerView<T> {
  /** the bucket followed */
  readonly name: string;
  /** hasSynced tells whether the initial snapshot is in */
  readonly hasSynced: boolean;
  /** synced resolves once the initial snapshot is in (never, if the signal aborts first) */
  readonly synced: Promise<void>;
  /**
   * revision is the newest bucket revision the copy reflects through its watch (0 before synced).
   * For an informer of a whole bucket, revision >= bucket.lastRevision() means it holds every write
   * acknowledged before that call.
   */
  readonly revision: number;
  /** entries are the live keys with value and revision (read-only; deleted keys are absent) */
  readonly entries: ReadonlyMap<string, InformerEntry<T>>;
  /** get returns a key's value, undefined when absent */
  get(key: string): T | undefined;
  /** entry returns a key's value with its revision, undefined when absent */
  entry(key: string): InformerEntry<T> | undefined;
  /** values lists the live values */
  values(): T[];
  /** caughtUp resolves true once `revision` reaches the given one, false after timeoutMs or a stop */
  caughtUp(revision: number, timeoutMs: number): Promise<boolean>;
}

/** Informer keeps the copy under the contract above; it starts following at construction and `done` resolves once the signal ended it. */
export class Informer<T> implements InformerView<T> {
  readonly name: string;
  readonly synced: Promise<void>;
  /** done resolves once the informer has stopped (the signal aborted) */
  readonly done: Promise<void>;
  /** restarts counts watch restarts after a failure or an unexpected end */
  restarts = 0;
  /**
   * snapshotAt is when (epoch ms, this process's clock) the copy was last filled from a snapshot: the
   * first sync, or a replacement (`resnapshot`); 0 before. What the copy lacks, it lacks since then.
   */
  snapshotAt = 0;

  private readonly live = new Map<string, InformerEntry<T>>();
  /** revision of each deleted key, kept until the watch has passed it (guards against resurrection) */
  private readonly tombstones = new Map<string, number>();
  private markSynced!: () => void;
  private isSynced = false;
  private seen = 0;
  private readonly waiters = new Set<() => void>();
  private readonly listeners: ChangeListeners<T>;

  constructor(
    private readonly source: InformerSource<T>,
    private readonly opts: InformerOptions<T>,
  ) {
    this.name = source.name;
    this.listeners = new ChangeListeners(opts.onChange);
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    this.done = this.follow();
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  get revision(): number {
    return this.isSynced ? this.seen : 0;
  }

  get entries(): ReadonlyMap<string, InformerEntry<T>> {
    return this.live;
  }

  get(key: string): T | undefined {
    return this.live.get(key)?.value;
  }

  entry(key: string): InformerEntry<T> | undefined {
    return this.live.get(key);
  }

  values(): T[] {
    return [...this.live.values()].map((e) => e.value);
  }

  /**
   * apply records the caller's own successful write (a value, or undefined for a delete) at the
   * revision the store returned, unless the copy already holds that key at a newer revision.
   * Returns whether the copy changed. Does not call onChange.
   */
  apply(key: string, value: T | undefined, revision: number, created?: number): boolean {
    if (value === undefined) return this.put(key, undefined, revision);
    return this.put(key, created !== undefined && this.opts.times ? { value, revision, created } : { value, revision }, revision);
  }

  /** put installs an entry (undefined: a delete) at `revision` unless the key holds a newer one (`prev`: its entry now); see apply. */
  private put(key: string, entry: InformerEntry<T> | undefined, revision: number, prev = this.live.get(key)): boolean {
    const known = prev?.revision ?? (this.tombstones.size > 0 ? this.tombstones.get(key) : undefined) ?? 0;
    if (known >= revision) return false;
    if (entry === undefined) {
      this.live.delete(key);
      // Until the watch passes this revision, an older put of the key may still be in flight.
      if (revision > this.seen) this.tombstones.set(key, revision);
      else this.tombstones.delete(key);
    } else {
      this.live.set(key, entry);
      this.tombstones.delete(key);
    }
    return true;
  }

  /** entryOf makes a put event's entry: its value as delivered, or decoded when first read (lazy; `prior`: the key's entry now). */
  private entryOf(ev: Extract<WatchEvent<T>, { type: 'put' }>, prior: InformerEntry<T> | undefined): InformerEntry<T> {
    if (ev.lazy) return new LazyEntry(ev.lazy, prior, ev.revision);
    return this.opts.times ? { value: ev.value, revision: ev.revision, created: ev.created.getTime() } : { value: ev.value, revision: ev.revision };
  }

  /**
   * listen adds a reader told what onChange is told (the snapshot only if it has not come yet), so
   * several loops of one process share one watch of a bucket; returns the function that removes it.
   */
  listen(fn: (change: InformerChange<T>) => void): () => void {
    return this.listeners.listen(fn);
  }

  private tell(change: InformerChange<T>): void {
    this.listeners.tell(change);
  }

  caughtUp(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    const { signal } = this.opts;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.revision < revision && !signal.aborted) return;
        finish(this.revision >= revision);
      };
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal.removeEventListener('abort', check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(check);
      signal.addEventListener('abort', check, { once: true });
    });
  }

  private async follow(): Promise<void> {
    const { signal } = this.opts;
    const log = this.opts.log ?? createLogger('informer');
    const backoff = new Backoff(this.opts.backoff ?? defaultInformerBackoff);
    while (!signal.aborted) {
      const resnapshot = this.opts.resnapshot === true;
      const watch = this.source.watch({
        ...(this.opts.key !== undefined ? { key: this.opts.key } : this.opts.prefix ? { prefix: this.opts.prefix } : {}),
        // Resume after what was handled: the copy stays complete (and synced) across the restart.
        // (resnapshot: a new snapshot instead, which replaces the copy; see the option)
        ...(this.isSynced && !resnapshot ? { afterRevision: this.seen } : {}),
        ...(resnapshot ? { resnapshot } : {}),
        ...(this.opts.batchMs !== undefined ? { batchMs: this.opts.batchMs } : {}),
        ...(this.opts.lazy ? { lazy: true } : {}),
        // The echo of an own write (apply) at the very revision: the value is the one held.
        known: (key, revision) => {
          const e = this.live.get(key);
          return e !== undefined && e.revision === revision ? e.value : undefined;
        },
        signal,
      }) as Watch<T, WatchEvent<T> | WatchReset>;
      let why = 'the watch ended';
      try {
        let pending = this.isSynced && !resnapshot ? undefined : new Map<string, Pending<T>>();
        for await (const batch of watch.batches()) { // all that arrived, handled in one synchronous run
          backoff.reset();
          for (const ev of batch) {
            if (signal.aborted) break;
            if (ev.type === 'reset') {
              pending = new Map();
              continue;
            }
            if (ev.type === 'synced') {
              if (pending) this.install(pending, ev.revision);
              pending = undefined;
              continue;
            }
            const prev = this.live.get(ev.key);
            const entry = ev.type === 'put' ? this.entryOf(ev, prev) : undefined;
            if (pending) pending.set(ev.key, { entry, revision: ev.revision });
            else this.observe(ev.key, entry, ev.revision, prev);
          }
        }
      } catch (err) {
        why = errorMessage(err);
      } finally {
        await watch.close().catch(() => undefined);
      }
      // A closed connection never comes back: restarting would spin (and keep the process alive).
      if (signal.aborted || this.source.nc?.isClosed()) break;
      this.restarts++;
      const delay = backoff.next();
      log.warn({ bucket: this.name, reason: why, retryInMs: delay, revision: this.seen }, 'informer: watch stopped; restarting');
      await sleep(delay, signal);
    }
    this.wake();
  }

  /**
   * install swaps the snapshot in at once, so readers never see a half-filled copy. A snapshot taken
   * once synced (resnapshot) replaces the copy: its revisions may be below the old ones.
   */
  private install(pending: Map<string, Pending<T>>, syncedAt: number): void {
    if (this.isSynced) {
      this.live.clear();
      this.tombstones.clear();
      this.seen = 0;
    }
    this.snapshotAt = Date.now();
    let top = syncedAt;
    for (const [key, e] of pending) {
      // put() keeps an own write made before the snapshot arrived if it is newer.
      this.put(key, e.entry, e.revision);
      top = Math.max(top, e.revision);
    }
    this.seen = Math.max(this.seen, top);
    this.pruneTombstones();
    this.isSynced = true;
    this.markSynced();
    this.wake();
    this.tell(undefined);
  }

  /** observe folds one live watch event in (`prev`: the key's entry now), guarded by revision, and tells onChange. */
  private observe(key: string, entry: InformerEntry<T> | undefined, revision: number, prev: InformerEntry<T> | undefined): void {
    const changed = this.put(key, entry, revision, prev);
    this.seen = Math.max(this.seen, revision);
    if (this.tombstones.size > 0) this.pruneTombstones();
    this.wake();
    if (changed) this.tell(this.opts.lazy ? new LazyChange(key, prev, entry) : { key, prev: prev?.value, next: entry?.value });
  }

  /** pruneTombstones drops delete marks the watch has passed: no older event can arrive any more. */
  private pruneTombstones(): void {
    for (const [key, rev] of this.tombstones) if (rev <= this.seen) this.tombstones.delete(key);
  }

  private wake(): void {
    if (this.waiters.size > 0) for (const w of [...this.waiters]) w();
  }
}

/**
 * valueView is a live, read-only map of an informer's values, without a copy: a reader that runs
 * synchronously (a controller pass) sees one state; hold it no longer than that. Copying every task
 * and status per pass was a large share of the reconciler's CPU at 10,000 tasks.
 */
export function valueView<T>(view: InformerView<T>): ReadonlyMap<string, T> {
  return new ValueView(view.entries);
}

class ValueView<T> implements ReadonlyMap<string, T> {
  constructor(private readonly m: ReadonlyMap<string, InformerEntry<T>>) {}
  get size(): number {
    return this.m.size;
  }
  get(key: string): T | undefined {
    return this.m.get(key)?.value;
  }
  has(key: string): boolean {
    return this.m.has(key);
  }
  forEach(fn: (value: T, key: string, map: ReadonlyMap<string, T>) => void): void {
    for (const [k, e] of this.m) fn(e.value, k, this);
  }
  *entries(): MapIterator<[string, T]> {
    for (const [k, e] of this.m) yield [k, e.value];
  }
  keys(): MapIterator<string> {
    return this.m.keys();
  }
  *values(): MapIterator<T> {
    for (const e of this.m.values()) yield e.value;
  }
  [Symbol.iterator](): MapIterator<[string, T]> {
    return this.entries();
  }
}
