/**
 * Delivery of notifications to one receiver: a bounded queue and one sender, so a receiver that
 * answers 500 or hangs delays only its own notifications, never a reconcile. Each request has a
 * timeout; network errors, 5xx and 429 are retried with backoff (the queue keeps its order: a
 * commit's "pending" never lands after its "success"); other 4xx are logged and dropped (a wrong
 * token will not fix itself). When the queue is full the oldest notification is dropped, and a
 * newer verdict for a commit replaces one still queued for it.
 */
import { Backoff, errorMessage, sleep, type BackoffOptions, type Logger } from '../../lib/index.ts';
import type { HttpRequest } from './requests.ts';

/** DeliveryOptions tune one receiver's queue. */
export interface DeliveryOptions {
  /** receiver names the receiver in logs */
  receiver: string;
  timeoutMs: number;
  /** queued notifications at most (default 100) */
  capacity?: number;
  backoff?: BackoffOptions;
  /** a notification not delivered after this long is dropped (default 1 hour) */
  maxAgeMs?: number;
  log: Logger;
  /** onResult is told what happened to each notification (tests and metrics) */
  onResult?: (r: DeliveryResult) => void;
}

/** DeliveryResult is what happened to one notification (tests and metrics watch these). */
export interface DeliveryResult {
  key: string;
  outcome: 'delivered' | 'refused' | 'dropped';
  status?: number;
  attempts: number;
  error?: string;
}

interface Item {
  /** key identifies what a newer item replaces (a commit's status) */
  key: string;
  request: HttpRequest;
  queuedAt: number;
}

/** DEFAULT_DELIVERY_BACKOFF: 1 s doubling to 1 min. */
export const DEFAULT_DELIVERY_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 60_000, jitter: 'full' };

/** Delivery is one receiver's queue and sender; close() ends it (queued items are dropped). */
export class Delivery {
  private readonly items: Item[] = [];
  private readonly ac = new AbortController();
  private wake: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(private readonly o: DeliveryOptions) {
    this.done = this.run();
  }

  /** enqueue adds a request (replacing a queued one with the same key); it never waits. */
  enqueue(key: string, request: HttpRequest): void {
    if (this.ac.signal.aborted) return;
    const same = this.items.findIndex((i) => i.key === key);
    // The first item may be in flight: replace only items behind it.
    if (same > 0) this.items.splice(same, 1);
    if (this.items.length >= (this.o.capacity ?? 100)) {
      const dropped = this.items.splice(1, 1)[0] ?? this.items.shift();
      if (dropped) this.report({ key: dropped.key, outcome: 'dropped', attempts: 0, error: 'queue full' });
    }
    this.items.push({ key, request, queuedAt: Date.now() });
    this.wake?.();
  }

  /** pending is the number of queued notifications. */
  get pending(): number {
    return this.items.length;
  }

  async close(): Promise<void> {
    this.ac.abort();
    this.wake?.();
    await this.done;
  }

  private report(r: DeliveryResult): void {
    const fields = { receiver: this.o.receiver, key: r.key, status: r.status, attempts: r.attempts, err: r.error };
    if (r.outcome === 'delivered') this.o.log.debug(fields, 'notification delivered');
    else this.o.log.warn(fields, `notification ${r.outcome}`);
    this.o.onResult?.(r);
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.o.backoff ?? DEFAULT_DELIVERY_BACKOFF);
    while (!this.ac.signal.aborted) {
      const item = this.items[0];
      if (!item) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const result = await this.send(item.request);
      if (this.ac.signal.aborted) return;
      const attempts = backoff.failures + 1;
      if (result.ok || result.permanent || Date.now() - item.queuedAt > (this.o.maxAgeMs ?? 3_600_000)) {
        if (this.items[0] === item) this.items.shift();
        backoff.reset();
        this.report({ key: item.key, outcome: result.ok ? 'delivered' : result.permanent ? 'refused' : 'dropped', attempts, ...(result.status ? { status: result.status } : {}), ...(result.error ? { error: result.error } : {}) });
        continue;
      }
      const wait = backoff.next();
      this.o.log.warn({ receiver: this.o.receiver, key: item.key, status: result.status, err: result.error, retryInMs: Math.round(wait) }, 'notification not delivered; will retry');
      await sleep(wait, this.ac.signal);
    }
  }

  private async send(r: HttpRequest): Promise<{ ok: boolean; permanent: boolean; status?: number; error?: string }> {
    const signal = AbortSignal.any([this.ac.signal, AbortSignal.timeout(this.o.timeoutMs)]);
    try {
      const res = await fetch(r.url, { method: r.method, headers: r.headers, body: r.body, signal, redirect: 'error' });
      const text = await res.text().catch(() => '');
      if (res.ok) return { ok: true, permanent: false, status: res.status };
      const permanent = res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408;
      return { ok: false, permanent, status: res.status, error: `HTTP ${res.status}: ${text.slice(0, 200)}` };
    } catch (err) {
      return { ok: false, permanent: false, error: errorMessage(err) };
    }
  }
}
