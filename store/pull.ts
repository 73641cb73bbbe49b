/**
 * Puller: the batched delivery of a StreamTail (option `pullEveryMs`). Instead of a push consumer,
 * which nats-server wakes for and writes to its client once per message, the tail makes a pull
 * consumer and asks it every `everyMs` for everything new at once: the server answers with the
 * messages waiting, back to back in one write, then a 408 status (that was all; or, when nothing
 * was new, after PULL_WAIT_MS). For streams written often whose readers need no message at once: node
 * leases, renewed ~50 times a second whatever the cluster's size and judged against a grace of at
 * least 40 s, where per-message deliveries to each reader were most of what a renewal cost
 * nats-server (issue 17).
 *
 *   every everyMs ─► MSG.NEXT {batch, no_wait, expires} ─► messages ... ─► 404 / 408 ─► wait everyMs
 *                                                └ batch full ─► ask again at once (more waiting)
 *   no answer within the tail's deadline ─► the tail re-creates the consumer (a restarted server,
 *   a deleted consumer: a request to a consumer that is gone gets no answer at all)
 */
import type { NatsConnection } from '@nats-io/transport-node';

/** PULL_BATCH is the most messages one request asks for; a full batch is followed by another request at once. */
export const PULL_BATCH = 1000;

/** PULL_WAIT_MS is how long a request waits when nothing is new (then a 408 ends it). */
export const PULL_WAIT_MS = 100;

/**
 * REQUEST asks for up to PULL_BATCH messages, answered at once with what is waiting (`no_wait`), or
 * after PULL_WAIT_MS with a 408 when nothing is. `no_wait` alone is not enough on nats-server 2.9:
 * it answers 404 whenever the consumer's own count of pending messages says 0, and that count can
 * stay 0 with a message waiting (a create after a delete in a bucket keeping 4 values: the consumer
 * never delivered it; checked in the informer conformance suite). With `expires` the server reads
 * the stream itself.
 */
const REQUEST = JSON.stringify({ batch: PULL_BATCH, no_wait: true, expires: PULL_WAIT_MS * 1_000_000 });

/** Puller asks one pull consumer for its new messages every `everyMs`; see the file comment. */
export class Puller {
  /** when the request in flight was sent (0: none in flight) */
  private sentAt = 0;
  private got = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    /** `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` */
    private readonly subject: string,
    /** where the answers come (the tail's subscription) */
    private readonly inbox: string,
    private readonly everyMs: number,
  ) {}

  /** request asks for the next batch now, unless one is in flight. */
  request(): void {
    if (this.stopped || this.sentAt !== 0 || this.nc.isClosed()) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sentAt = Date.now();
    this.got = 0;
    this.nc.publish(this.subject, REQUEST, { reply: this.inbox });
  }

  /** delivered counts a message of the batch; a full batch asks for the next at once. */
  delivered(): void {
    if (++this.got < PULL_BATCH) return;
    this.sentAt = 0;
    this.request();
  }

  /** ended is the server's end of a batch (404, 408): the next request comes after everyMs. */
  ended(): void {
    this.sentAt = 0;
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.request(), this.everyMs);
  }

  /** unanswered tells whether the request in flight has waited longer than `ms` for its end. */
  unanswered(ms: number): boolean {
    return this.sentAt !== 0 && Date.now() - this.sentAt > ms;
  }

  /** stop asks for nothing more. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
