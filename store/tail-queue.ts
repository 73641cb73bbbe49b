/**
 * TailQueue: the reader's side of a StreamTail (tail.ts). The consumer's callback pushes what it
 * accepts (a delivery, or an event of the tail's own: synced, reset); the reader takes everything
 * queued at once, each delivery decoded then, when the reader is ready for it (its own writes are
 * known by then: watch.ts `known`; see arrival), and waits when there is nothing:
 *
 *   nats.js callback ─► push(Delivery | E) ─► [queue] ─► take(): E[] (decoded now) ─► batches / events
 *
 * One asynchronous step per batch, not per event: an async generator yielding one event per
 * message cost a promise and a few microtasks each (the informer handles a batch synchronously).
 */
import type { Msg } from '@nats-io/transport-node';
import type { AckInfo } from './ack-subject.ts';

/** Delivery: a message counted as handled, decoded (or skipped) when the reader takes it. */
export class Delivery {
  constructor(readonly msg: Msg, readonly ack: AckInfo) {}
}

/** TailQueue holds what arrived until the reader takes it; see the file comment. */
export class TailQueue<E> {
  private items: (E | Delivery)[] = [];
  private wake: (() => void) | undefined;

  /** decode turns a delivery into its event (undefined: skipped) */
  constructor(private readonly decode: (d: Delivery) => E | undefined) {}

  get length(): number {
    return this.items.length;
  }

  push(item: E | Delivery): void {
    this.items.push(item);
    this.ready();
  }

  /** clear drops everything queued and wakes the reader (the tail ended). */
  clear(): void {
    this.items.length = 0;
    this.ready();
  }

  /**
   * arrival resolves at the next push or clear, once the turn that pushed is over (setImmediate):
   * the acknowledgements of the reader's own writes read in the same turn have been handled by then
   * (their continuations are microtasks), so their echoes are known (watch.ts `known`) when taken.
   */
  arrival(): Promise<void> {
    return new Promise<void>((r) => (this.wake = () => setImmediate(r)));
  }

  /** take empties the queue into events, decoding each delivery now. */
  take(): E[] {
    const items = this.items;
    this.items = [];
    const events: E[] = [];
    for (const item of items) {
      const ev = item instanceof Delivery ? this.decode(item) : item;
      if (ev !== undefined) events.push(ev);
    }
    return events;
  }

  private ready(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
