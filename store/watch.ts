/**
 * Watches on a KV bucket, built on a JetStream push consumer that gitcell manages itself, because
 * the watcher must survive a server restart or a stream-leader failover without missing or
 * duplicating an update, and notice a dead consumer within seconds (nats.js' ordered consumer
 * waits two 30 s heartbeats). The rules:
 *   - a watch starts with a snapshot (the last value of every matching key, as `put`/`delete`
 *     events in revision order, then one `synced` event) unless it resumes after a revision;
 *   - every event carries the stream revision; the watcher remembers the last one it handled and
 *     drops anything at or below it, so a restarted consumer may overlap but never duplicates;
 *   - any sign of trouble (a gap in delivery sequence, no heartbeat for 3 periods, a reconnect, a
 *     deleted consumer) restarts the consumer after the last handled revision.
 */
import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../lib/index.ts';
import { decodeRecord, keyFilter, validateKey, type InvalidRecord, type RecordCodec } from './record.ts';

/** WatchEvent is one change seen by a watch (or the end of its initial snapshot). */
export type WatchEvent<T> =
  | { type: 'put'; key: string; value: T; revision: number; created: Date }
  | { type: 'delete'; key: string; revision: number; purged: boolean; created: Date }
  | { type: 'synced'; revision: number };

/** WatchOptions selects what a watch sees and how it ends. */
export interface WatchOptions {
  /** watch keys below this prefix ("a.b" -> "a.b.*..."); "" or omitted: every key */
  prefix?: string;
  /** watch exactly this key (instead of a prefix) */
  key?: string;
  /** resume: deliver only revisions after this one, with no snapshot and no `synced` event */
  afterRevision?: number;
  /** aborting ends the watch like close() */
  signal?: AbortSignal;
  /** called for each record that cannot be decoded (it is also logged and skipped) */
  onInvalid?: (record: InvalidRecord) => void;
  /** idle heartbeat period asked of the server; no traffic for 3 periods restarts the consumer */
  heartbeatMs?: number;
}

/** Watch is a running watch: iterate it for events; close() (or the signal) ends the iteration. */
export interface Watch<T> extends AsyncIterable<WatchEvent<T>> {
  /** revision is the last revision this watch handled (pass it as afterRevision to resume) */
  readonly revision: number;
  /** restarts counts consumer re-creations (after reconnects, failovers, gaps) */
  readonly restarts: number;
  /** close ends the watch and releases its consumer; pending events are dropped */
  close(): Promise<void>;
  /** closed resolves once the watch has ended */
  readonly closed: Promise<void>;
}

/** WatchContext is what a watch needs from its bucket. */
export interface WatchContext<T> {
  nc: NatsConnection;
  jsm: JetStreamManager;
  bucket: string;
  stream: string;
  codec: RecordCodec<T>;
  log: Logger;
  reportInvalid: (record: InvalidRecord) => void;
}

/** AckInfo is what a JetStream delivery's reply subject says about the message. */
export interface AckInfo {
  streamSeq: number;
  deliverySeq: number;
  pending: number;
  timestampNanos: bigint;
}

/**
 * parseAckSubject reads a JetStream reply subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.
 * <dseq>.<ts>.<pending>` (9 tokens) or the 2.10+ form with domain and account hash (11-12 tokens).
 */
export function parseAckSubject(reply: string | undefined): AckInfo | undefined {
  if (!reply || !reply.startsWith('$JS.ACK.')) return undefined;
  const t = reply.split('.');
  let base: number;
  if (t.length === 9) base = 4;
  else if (t.length >= 11) base = 6;
  else return undefined;
  const streamSeq = Number(t[base + 1]);
  const deliverySeq = Number(t[base + 2]);
  const pending = Number(t[base + 4]);
  if (!Number.isSafeInteger(streamSeq) || !Number.isSafeInteger(deliverySeq) || !Number.isSafeInteger(pending)) return undefined;
  let timestampNanos = 0n;
  try {
    timestampNanos = BigInt(t[base + 3] ?? '0');
  } catch {
    // keep 0: the timestamp is informational
  }
  return { streamSeq, deliverySeq, pending, timestampNanos };
}

/** startWatch starts a watch on a bucket; see WatchOptions. */
export function startWatch<T>(ctx: WatchContext<T>, opts: WatchOptions = {}): Watch<T> {
  return new Watcher(ctx, opts);
}

class Watcher<T> implements Watch<T> {
  revision: number;
  restarts = 0;
  readonly closed: Promise<void>;

  private readonly filter: string;
  private readonly subjectPrefix: string;
  private readonly heartbeatMs: number;
  private synced: boolean;
  private snapshotFloor = 0;
  private gen = 0;
  private sub: Subscription | undefined;
  private consumerName: string | undefined;
  private expectDelivery = 1;
  private lastActivity = Date.now();
  private done = false;
  private resolveClosed!: () => void;
  private readonly queue: WatchEvent<T>[] = [];
  private wake: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private restarting = false;
  private statusIter: { stop?: () => void } | undefined;
  private readonly onAbort = (): void => void this.close();

  constructor(
    private readonly ctx: WatchContext<T>,
    private readonly opts: WatchOptions,
  ) {
    if (opts.key !== undefined) validateKey(opts.key);
    const keyPart = opts.key ?? keyFilter(opts.prefix ?? '');
    this.subjectPrefix = `$KV.${ctx.bucket}.`;
    this.filter = this.subjectPrefix + keyPart;
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.revision = opts.afterRevision ?? 0;
    this.synced = opts.afterRevision !== undefined;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    if (opts.signal?.aborted) {
      this.finish();
      return;
    }
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.watchdog = setInterval(() => this.checkIdle(), this.heartbeatMs);
    void this.followConnection();
    void this.restart('start');
  }

  private async followConnection(): Promise<void> {
    const iter = this.ctx.nc.status();
    // nats.js hands out a QueuedIterator; stop() ends it so a closed watch leaves no listener.
    this.statusIter = iter as unknown as { stop?: () => void };
    for await (const s of iter) {
      if (this.done) break;
      if (s.type === 'reconnect') void this.restart('reconnect');
    }
  }

  private checkIdle(): void {
    if (this.done || this.restarting) return;
    if (Date.now() - this.lastActivity > 3 * this.heartbeatMs) void this.restart('no heartbeat');
  }

  /** restart (re)creates the consumer after the last handled revision, retrying until it works. */
  private async restart(reason: string): Promise<void> {
    if (this.done || this.restarting) return;
    this.restarting = true;
    const gen = ++this.gen;
    if (reason !== 'start') {
      this.restarts++;
      this.ctx.log.debug({ bucket: this.ctx.bucket, filter: this.filter, reason, revision: this.revision }, 'watch: restarting consumer');
    }
    this.dropConsumer();
    for (let attempt = 0; !this.done && gen === this.gen; attempt++) {
      try {
        await this.createConsumer(gen);
        break;
      } catch (err) {
        this.dropConsumer();
        const delay = Math.min(50 * 2 ** attempt, 2000);
        this.ctx.log.debug({ bucket: this.ctx.bucket, err: String(err), attempt }, 'watch: consumer create failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.lastActivity = Date.now();
    this.restarting = false;
  }

  private dropConsumer(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    const name = this.consumerName;
    this.consumerName = undefined;
    if (name && !this.ctx.nc.isClosed()) {
      // Best effort: an ephemeral consumer also goes away by itself after inactive_threshold.
      this.ctx.jsm.consumers.delete(this.ctx.stream, name).catch(() => undefined);
    }
  }

  private async createConsumer(gen: number): Promise<void> {
    const snapshot = !this.synced;
    if (snapshot) {
      // Everything at or below the stream's last sequence now is covered by the snapshot, so after
      // `synced` a resume must start above it even if no matching key was delivered.
      const info = await this.ctx.jsm.streams.info(this.ctx.stream);
      this.snapshotFloor = info.state.last_seq;
    }
    const inbox = createInbox();
    this.expectDelivery = 1;
    this.sub = this.ctx.nc.subscribe(inbox, { callback: (err, msg) => this.onMessage(gen, err, msg) });
    const cfg: Partial<ConsumerConfig> = {
      deliver_subject: inbox,
      ack_policy: AckPolicy.None,
      filter_subject: this.filter,
      flow_control: true,
      idle_heartbeat: nanos(this.heartbeatMs),
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(Math.max(30_000, 10 * this.heartbeatMs)),
      ...(snapshot
        ? { deliver_policy: DeliverPolicy.LastPerSubject }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.revision + 1 }),
    };
    const ci = await this.ctx.jsm.consumers.add(this.ctx.stream, cfg);
    if (gen !== this.gen || this.done) {
      this.ctx.jsm.consumers.delete(this.ctx.stream, ci.name).catch(() => undefined);
      return;
    }
    this.consumerName = ci.name;
    this.lastActivity = Date.now();
    if (snapshot && ci.num_pending === 0 && this.expectDelivery === 1) this.markSynced();
  }

  private onMessage(gen: number, err: Error | null, msg: Msg): void {
    if (gen !== this.gen || this.done) return;
    if (err) {
      void this.restart(`subscription error: ${err.message}`);
      return;
    }
    this.lastActivity = Date.now();
    const code = msg.headers?.code ?? 0;
    if (code !== 0) {
      this.onStatus(code, msg);
      return;
    }
    const ack = parseAckSubject(msg.reply);
    if (!ack) return;
    if (ack.deliverySeq !== this.expectDelivery) {
      void this.restart(`delivery gap: got ${ack.deliverySeq}, expected ${this.expectDelivery}`);
      return;
    }
    this.expectDelivery++;
    if (ack.streamSeq > this.revision) {
      this.revision = ack.streamSeq;
      const ev = this.toEvent(msg, ack);
      if (ev) this.push(ev);
    }
    if (!this.synced && ack.pending === 0) this.markSynced();
  }

  private onStatus(code: number, msg: Msg): void {
    if (code === 100) {
      if (msg.reply) {
        msg.respond(); // flow control request
        return;
      }
      const stalled = msg.headers?.get('Nats-Consumer-Stalled');
      if (stalled) this.ctx.nc.publish(stalled);
      const lastDelivered = Number(msg.headers?.get('Nats-Last-Consumer') ?? '0');
      if (lastDelivered >= this.expectDelivery) void this.restart('heartbeat reports undelivered messages');
      return;
    }
    void this.restart(`consumer status ${code} ${msg.headers?.description ?? ''}`);
  }

  private toEvent(msg: Msg, ack: AckInfo): WatchEvent<T> | undefined {
    const key = msg.subject.substring(this.subjectPrefix.length);
    const created = new Date(Number(ack.timestampNanos / 1_000_000n));
    const op = msg.headers?.get('KV-Operation');
    if (op === 'DEL' || op === 'PURGE') return { type: 'delete', key, revision: ack.streamSeq, purged: op === 'PURGE', created };
    const decoded = decodeRecord(this.ctx.codec, msg.data);
    if (!decoded.ok) {
      const bad: InvalidRecord = { bucket: this.ctx.bucket, key, revision: ack.streamSeq, reason: decoded.reason };
      this.ctx.reportInvalid(bad);
      try {
        this.opts.onInvalid?.(bad);
      } catch (err) {
        this.ctx.log.error({ err: String(err) }, 'watch: onInvalid callback threw');
      }
      return undefined;
    }
    return { type: 'put', key, value: decoded.value, revision: ack.streamSeq, created };
  }

  private markSynced(): void {
    this.synced = true;
    if (this.snapshotFloor > this.revision) this.revision = this.snapshotFloor;
    this.push({ type: 'synced', revision: this.revision });
  }

  private push(ev: WatchEvent<T>): void {
    this.queue.push(ev);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.gen++;
    if (this.watchdog) clearInterval(this.watchdog);
    this.statusIter?.stop?.();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.dropConsumer();
    this.queue.length = 0;
    const w = this.wake;
    this.wake = undefined;
    w?.();
    this.resolveClosed();
  }

  async close(): Promise<void> {
    this.finish();
    await this.closed;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent<T>> {
    try {
      while (!this.done) {
        const ev = this.queue.shift();
        if (ev) {
          yield ev;
          continue;
        }
        await new Promise<void>((r) => (this.wake = r));
      }
    } finally {
      this.finish();
    }
  }
}
