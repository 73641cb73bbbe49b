import { createLogger, errorMessage, type Logger } from '../lib/index.ts';
import type { Bucket } from './bucket.ts';

/** Mirrored is a key's latest value and the revision to compare-and-set against. */
export interface Mirrored<T> {
  value: T;
  revision: number;
}

/** MirrorOptions: what to follow and whom to tell. */
export interface MirrorOptions {
  prefix?: string;
  /** the mirror follows until this aborts */
  signal: AbortSignal;
  /** called after the snapshot and after every change once synced (debounce it yourself) */
  onChange?: (key: string | undefined) => void;
  log?: Logger;
  /** wait this long before re-watching after a failure (default 500 ms) */
  retryMs?: number;
}

/**
 * Mirror keeps an in-memory copy of a bucket (or a prefix of it), like a Kubernetes informer: a
 * watch delivers the snapshot, then every change. `synced` resolves once the snapshot is in, so a
 * controller never acts on a partial view (that would delete what was merely not seen yet). A
 * failed watch is restarted from scratch and the copy rebuilt, so it never drifts.
 */
export class Mirror<T> {
  readonly entries = new Map<string, Mirrored<T>>();
  readonly synced: Promise<void>;
  readonly done: Promise<void>;
  private markSynced!: () => void;
  private isSynced = false;
  private seen = 0;
  private waiters = new Set<() => void>();

  constructor(
    readonly bucket: Bucket<T>,
    private readonly opts: MirrorOptions,
  ) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    this.done = this.follow();
  }

  /** hasSynced tells whether the snapshot has been delivered (and not lost since). */
  get hasSynced(): boolean {
    return this.isSynced;
  }

  /**
   * revision is the newest bucket revision the live copy reflects (0 before the snapshot). For an
   * unprefixed mirror, revision >= bucket.lastRevision() means the copy holds every write made so far.
   */
  get revision(): number {
    return this.isSynced ? this.seen : 0;
  }

  /**
   * caughtUp resolves true once the live copy reflects `revision` (see `revision`), false if that
   * takes longer than `timeoutMs` or the mirror stops: the caller then reads the bucket instead.
   */
  caughtUp(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    if (this.opts.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const check = () => {
        if (this.revision < revision && !this.opts.signal.aborted) return;
        done(this.revision >= revision);
      };
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        this.opts.signal.removeEventListener('abort', check);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(check);
      this.opts.signal.addEventListener('abort', check, { once: true });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** get returns a key's mirrored value. */
  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  /** values lists the mirrored values. */
  values(): T[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  private async follow(): Promise<void> {
    const { signal } = this.opts;
    const log = this.opts.log ?? createLogger('mirror');
    while (!signal.aborted) {
      const watch = this.bucket.watch({ ...(this.opts.prefix ? { prefix: this.opts.prefix } : {}), signal });
      const fresh = new Map<string, Mirrored<T>>();
      let live = false;
      try {
        for await (const ev of watch) {
          if (ev.type === 'synced') {
            // Swap in the rebuilt copy at once, so readers never see it half-filled.
            this.entries.clear();
            for (const [k, v] of fresh) this.entries.set(k, v);
            live = true;
            this.seen = ev.revision;
            for (const e of fresh.values()) this.seen = Math.max(this.seen, e.revision);
            this.isSynced = true;
            this.markSynced();
            this.wake();
            this.opts.onChange?.(undefined);
            continue;
          }
          const target = live ? this.entries : fresh;
          if (ev.type === 'put') target.set(ev.key, { value: ev.value, revision: ev.revision });
          else target.delete(ev.key);
          if (live) {
            this.seen = Math.max(this.seen, ev.revision);
            this.opts.onChange?.(ev.key);
            this.wake();
          }
        }
        return;
      } catch (err) {
        if (signal.aborted) return;
        log.warn({ err: errorMessage(err), bucket: this.bucket.name }, 'mirror: watch failed, rebuilding');
        await new Promise((r) => setTimeout(r, this.opts.retryMs ?? 500));
      } finally {
        await watch.close().catch(() => undefined);
      }
    }
  }
}
