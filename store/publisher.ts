/**
 * Publisher: the store's JetStream write path. nats.js' `js.publish` is a full request per message
 * (its own timer, mux entry, and parsing), which costs about 100 µs of client CPU per write and
 * caps pipelined writes on a small machine. This sends plain publishes with a reply subject under
 * one inbox subscription per connection and matches the PubAcks by token; one sweep timer enforces
 * deadlines. A disconnect fails every pending write at once (nats.js would wait out the timeout),
 * so a writer retries on another server immediately; such a write may or may not have happened.
 */
import { type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { StoreErrorCodes, storeError } from './errors.ts';
import { connectionInbox } from './connect.ts';

interface Pending {
  resolve: (seq: number) => void;
  reject: (err: unknown) => void;
  deadline: number;
  subject: string;
  /** its key in `pending` (the reply subject's last token) */
  token: string;
}

/** JetStreamPubError is a PubAck error from the server, shaped like nats.js' API errors (code = err_code). */
class JetStreamPubError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly status: number,
  ) {
    super(message);
    this.name = 'JetStreamPubError';
  }
}

const decoder = new TextDecoder();

/** SWEEP_MS is how often pending writes are checked against their deadlines. */
const SWEEP_MS = 100;

class Publisher {
  private readonly inbox: string;
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private readonly sub: Subscription;
  private sweeper: NodeJS.Timeout | undefined;
  private lastSweep = 0;

  constructor(private readonly nc: NatsConnection) {
    this.inbox = connectionInbox(nc);
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => this.onReply(err, msg) });
    void this.followStatus();
    void nc.closed().then(() => this.failAll('NATS connection closed'));
  }

  private async followStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.failAll('NATS connection lost while waiting for the answer (the write may or may not have happened)');
      if (s.type === 'error') this.onPermissionError(s.error);
    }
  }

  /**
   * onPermissionError: the server refused a publish (or our inbox subscription) and said so on the
   * connection, not on the reply subject. A refused publish fails the oldest pending write to that
   * subject (each refusal answers one message); a refused inbox fails them all and the publisher is
   * replaced on next use.
   */
  private onPermissionError(err: unknown): void {
    const pe = err as { name?: string; operation?: string; subject?: string } | undefined;
    if (pe?.name !== 'PermissionViolationError') return;
    if (pe.operation === 'subscription' && pe.subject === `${this.inbox}.*`) {
      publishers.delete(this.nc);
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) p.reject(err);
      return;
    }
    if (pe.operation !== 'publish') return;
    for (const [token, p] of this.pending) {
      if (p.subject === pe.subject) {
        this.pending.delete(token);
        p.reject(err);
        return;
      }
    }
  }

  private failAll(why: string): void {
    if (this.pending.size === 0) return;
    const err = storeError(StoreErrorCodes.Unavailable, why, {});
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number): Promise<number> {
    if (this.nc.isClosed()) return Promise.reject(storeError(StoreErrorCodes.Unavailable, 'NATS connection closed', {}));
    const token = (this.next++).toString(36);
    return new Promise<number>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + timeoutMs, subject, token });
      try {
        this.nc.publish(subject, data, headers ? { reply: `${this.inbox}.${token}`, headers } : { reply: `${this.inbox}.${token}` });
      } catch (err) {
        this.pending.delete(token);
        reject(err);
        return;
      }
      if (!this.sweeper) {
        this.lastSweep = Date.now();
        this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      }
    });
  }

  private sweep(): void {
    const now = Date.now();
    // A late sweep means this process did not run for a while (a long synchronous stretch: a
    // controller pass, a scheduling decision): acknowledgements that came meanwhile are still unread
    // in the socket, and timers run before I/O, so judging now would fail writes that succeeded
    // (the reconciler's "timed out" task creates on a busy machine). The stall does not count.
    const stall = now - this.lastSweep - SWEEP_MS;
    this.lastSweep = now;
    if (stall > SWEEP_MS) {
      for (const p of this.pending.values()) p.deadline += stall;
      return;
    }
    // Over the values: an [token, write] pair per pending write and sweep was 1.6 % of a hollow process's allocations.
    for (const p of this.pending.values()) {
      if (p.deadline <= now) {
        this.pending.delete(p.token);
        p.reject(storeError(StoreErrorCodes.Unavailable, 'timeout waiting for the JetStream acknowledgement (the write may or may not have happened)', {}));
      }
    }
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) return; // subscription closed: failAll handles the pending writes
    const token = msg.subject.substring(this.inbox.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // already timed out
    this.pending.delete(token);
    const code = msg.headers?.code ?? 0;
    if (code === 503) {
      p.reject(storeError(StoreErrorCodes.Unavailable, 'no responders: no JetStream stream (leader) took the write', {}));
      return;
    }
    if (code >= 300) {
      p.reject(new JetStreamPubError(`${code} ${msg.headers?.description ?? ''}`.trim(), 0, code));
      return;
    }
    try {
      const ack = JSON.parse(decoder.decode(msg.data)) as { seq?: number; error?: { code?: number; err_code?: number; description?: string } };
      if (ack.error) p.reject(new JetStreamPubError(ack.error.description ?? 'JetStream error', ack.error.err_code ?? 0, ack.error.code ?? 0));
      else if (typeof ack.seq === 'number') p.resolve(ack.seq);
      else p.reject(new Error(`unexpected JetStream acknowledgement: ${decoder.decode(msg.data).slice(0, 200)}`));
    } catch (e) {
      p.reject(e);
    }
  }
}

const publishers = new WeakMap<NatsConnection, Publisher>();

/** jsPublish publishes to a JetStream subject through the connection's shared Publisher and resolves with the stream sequence. */
export function jsPublish(nc: NatsConnection, subject: string, data: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number): Promise<number> {
  let p = publishers.get(nc);
  if (!p) {
    p = new Publisher(nc);
    publishers.set(nc, p);
  }
  return p.publish(subject, data, headers, timeoutMs);
}
