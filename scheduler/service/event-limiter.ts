
/** EventLimiterOptions bound the events. */
export interface EventLimiterOptions {
  /** repeat an unchanged reason after this long (default 60 s) */
  intervalMs: number;
  /** a changed reason waits at least this long after the last event (default 5 s) */
  minMs: number;
  /** events per pass at most (default 100) */
  perPass: number;
}

/**
 * EventLimiter keeps "task X cannot be scheduled" events from flooding the events stream: one per
 * task per interval (sooner when the reason changes, but never more than one per `minMs`), and at
 * most `perPass` per scheduling pass. Pure: the caller passes the time.
 */
export class EventLimiter {
  private readonly last = new Map<string, { at: number; message: string }>();
  private budget: number;

  constructor(private readonly opts: EventLimiterOptions = { intervalMs: 60_000, minMs: 5_000, perPass: 100 }) {
    this.budget = opts.perPass;
  }

  /** newPass restores the per-pass budget. */
  newPass(): void {
    this.budget = this.opts.perPass;
  }

  /** allow tells whether to write an event for `key` with `message` now, and records it if so. */
  allow(key: string, message: string, now: number): boolean {
    if (this.budget <= 0) return false;
    const prev = this.last.get(key);
    if (prev) {
      const since = now - prev.at;
      const due = since >= this.opts.intervalMs || (prev.message !== message && since >= this.opts.minMs);
      if (!due) return false;
    }
    this.last.set(key, { at: now, message });
    this.budget--;
    return true;
  }

  /** forget drops a key (its task got placed or deleted). */
  forget(key: string): void {
    this.last.delete(key);
  }
}
