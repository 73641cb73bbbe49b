/**
 * StreamTail: follows a JetStream stream (a KV bucket's or the events stream) through a push
 * consumer gitcell manages itself, because a follower must survive a server restart or a
 * stream-leader failover without missing or duplicating a message, and notice a dead consumer
 * within seconds (nats.js' ordered consumer waits two 30 s heartbeats). The rules:
 *   - start with the last message of every subject (a KV snapshot), or after a sequence;
 *   - optionally emit a `synced` marker once caught up with what existed at the start;
 *   - remember the last handled stream sequence and drop anything at or below it, so a
 *     re-created consumer may overlap but never duplicates;
 *   - any sign of trouble (a gap in delivery sequence, no heartbeat for 3 periods, a reconnect, a
 *     deleted consumer) re-creates the consumer after the last handled sequence.
 * Batched (`pullEveryMs`): a pull consumer asked for everything new every so often instead (pull.ts),
 * under the same rules; an unanswered request counts as a missing heartbeat.
 */
import { nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { backoffDelay, withDeadline, type Logger } from '../lib/index.ts';
import { connectionInbox } from './connect.ts';
import { Puller } from './pull.ts';
import { parseAck, type AckInfo } from './ack-subject.ts';
import { headerStatus, replyBytes } from './msg-headers.ts';
import { Delivery, TailQueue } from './tail-queue.ts';

/** Connections whose identity may not delete consumers (agents, viewers): found out once, not asked again. */
const mayNotDelete = new WeakSet<NatsConnection>();

/**
 * deleteConsumer removes a consumer this tail no longer uses, best effort. Restricted identities may
 * not delete consumers at all (one could delete another's); their ephemeral consumers go away by
 * themselves after inactive_threshold, so after the first refusal the connection stops asking.
 */
function deleteConsumer(nc: NatsConnection, jsm: JetStreamManager, stream: string, name: string): void {
  if (mayNotDelete.has(nc)) return;
  jsm.consumers.delete(stream, name).catch((err: unknown) => {
    if (/permission/i.test(String((err as Error)?.message ?? err))) mayNotDelete.add(nc);
  });
}

/** TailOptions configure a StreamTail: which messages, from where, and how they become events. */
export interface TailOptions<E> {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stream: string;
  /** subject filter (one: NATS 2.9 consumers take a single filter) */
  filter: string;
  log: Logger;
  /**
   * where to start: the last message of every subject (a KV snapshot), every message after a
   * sequence, or the messages from a sequence on
   */
  start: { lastPerSubject: true } | { afterSeq: number };
  /** emit the `synced` marker (via syncedEvent) once caught up with what existed at the start */
  emitSynced: boolean;
  /** decode turns a delivered message into an event; undefined skips it (it still counts as handled) */
  decode: (msg: Msg, ack: AckInfo) => E | undefined;
  /** syncedEvent builds the caught-up marker event for a revision */
  syncedEvent: (revision: number) => E;
  signal?: AbortSignal;
  heartbeatMs?: number;
  /**
   * given, every consumer after the first starts over from a new snapshot (the last message of every
   * subject, then `synced`), announced by this event, instead of resuming after the last sequence:
   * for streams that may lose their messages and number them again from 1 (memory storage across a
   * server restart), where resuming after an old sequence would skip everything written since
   */
  resetEvent?: () => E;
  /**
   * given, a pull consumer asked every this many ms for all that is new (pull.ts), delivered back to
   * back, instead of a push consumer that delivers each message as it comes: events come up to this
   * late, and nats-server writes to the reader once a batch instead of once a message. Needs the
   * right to publish `$JS.API.CONSUMER.MSG.NEXT.<stream>.*` (control-plane identities have it).
   */
  pullEveryMs?: number;
}

/**
 * StreamTail follows a JetStream stream through a push consumer it manages itself; see the file
 * comment for its rules. Iterate it for events (or `batches()` of them); close() or the signal ends it.
 */
export class StreamTail<E> implements AsyncIterable<E> {
  revision: number;
  restarts = 0;
  readonly closed: Promise<void>;

  private readonly filter: string;
  private readonly heartbeatMs: number;
  private lastPerSubject: boolean;
  private synced: boolean;
  private snapshotFloor = 0;
  /** the stream's last sequence just after the snapshot consumer was made (0: not known yet) */
  private snapshotCeiling = 0;
  private gen = 0;
  private sub: Subscription | undefined;
  private puller: Puller | undefined;
  private consumerName: string | undefined;
  private expectDelivery = 1;
  private lastActivity = Date.now();
  private done = false;
  private resolveClosed!: () => void;
  private readonly queue = new TailQueue<E>((d) => this.decoded(d));
  private watchdog: NodeJS.Timeout | undefined;
  private restarting = false;
  /** a PONG is awaited to tell a missing heartbeat from one not read yet (confirmSilence) */
  private probing = false;
  private statusIter: { stop?: () => void } | undefined;
  private readonly onAbort = (): void => void this.close();

  constructor(private readonly opts: TailOptions<E>) {
    this.filter = opts.filter;
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.lastPerSubject = 'lastPerSubject' in opts.start;
    this.revision = 'afterSeq' in opts.start ? opts.start.afterSeq : 0;
    this.synced = !opts.emitSynced;
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
    const iter = this.opts.nc.status();
    // nats.js hands out a QueuedIterator; stop() ends it so a closed watch leaves no listener.
    this.statusIter = iter as unknown as { stop?: () => void };
    for await (const s of iter) {
      if (this.done) break;
      if (s.type === 'reconnect') void this.restart('reconnect');
    }
  }

  private checkIdle(): void {
    // A closed connection never delivers again: end, or the consumer retries and this watchdog
    // keep the process alive forever (the agents of a killed `gitcell up` slept on for minutes).
    if (!this.done && this.opts.nc.isClosed()) this.finish();
    if (this.done || this.restarting) return;
    // A pull consumer answers every request: one unanswered is what a missing heartbeat is to push
    // (a restarted server or a deleted consumer answers nothing); a little more lenient, as a busy
    // process may read the answer late.
    if (this.puller) {
      if (this.puller.unanswered(Math.max(3 * this.heartbeatMs, 5_000))) void this.restart('pull request unanswered');
    } else if (Date.now() - this.lastActivity > 3 * this.heartbeatMs) void this.confirmSilence();
  }

  /**
   * confirmSilence restarts the consumer only if its silence is real. A process that reads its socket
   * slower than deliveries come (a busy hollow process at 10,000 nodes) processes each consumer's
   * heartbeats late and further apart, though the server sent them: judged by this process's clock
   * alone, every consumer of the connection looked gone, was made again, and the old one went on
   * delivering until it expired (a whole bucket's redelivery per restart). So ask the server for a PONG
   * (`flush`): it comes after everything sent before it, which for a live consumer includes a heartbeat
   * or a message sent at most a period before the server read the PING; a consumer still silent then is gone.
   * No PONG at all says nothing of the consumer: the connection is that far behind (a hollow process
   * starved of CPU, 30 s of deliveries queued before the PONG) or dead, and a dead one is the
   * connection's own ping check's to find (it reconnects, and the reconnect restarts every watch).
   * Remaking the consumer on that connection only queued the bucket's backlog a second time behind
   * the first (10,000 hollow nodes on a loaded machine), so the watch asks again at the next check.
   */
  private async confirmSilence(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    const gen = this.gen;
    const askedAt = Date.now();
    const answered = await withDeadline(this.opts.nc.flush(), Math.max(30_000, 10 * this.heartbeatMs), 'the PONG').then(() => true, () => false);
    this.probing = false;
    if (gen !== this.gen || this.done || this.restarting) return;
    if (!answered) return void this.opts.log.debug({ stream: this.opts.stream, filter: this.filter }, 'watch: no PONG yet: the connection is behind (or gone); asking again');
    if (this.lastActivity >= askedAt - 2 * this.heartbeatMs) return; // it was only behind us
    void this.restart('no heartbeat');
  }

  /** restart (re)creates the consumer after the last handled revision, retrying until it works. */
  private async restart(reason: string): Promise<void> {
    if (this.done || this.restarting) return;
    this.restarting = true;
    const gen = ++this.gen;
    if (reason !== 'start') {
      this.restarts++;
      this.opts.log.debug({ stream: this.opts.stream, filter: this.filter, reason, revision: this.revision }, 'watch: restarting consumer');
      if (this.opts.resetEvent) this.startOver();
    }
    this.dropConsumer();
    for (let attempt = 0; !this.done && gen === this.gen; attempt++) {
      if (this.opts.nc.isClosed()) {
        this.finish();
        break;
      }
      try {
        await this.createConsumer(gen);
        break;
      } catch (err) {
        this.dropConsumer();
        const delay = backoffDelay({ initialMs: 50, maxMs: 2000 }, attempt);
        this.opts.log.debug({ stream: this.opts.stream, err: String(err), attempt }, 'watch: consumer create failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.lastActivity = Date.now();
    this.restarting = false;
  }

  /** startOver makes the next consumer a new snapshot (resetEvent): what was delivered may be gone from the stream. */
  private startOver(): void {
    this.lastPerSubject = true;
    this.synced = false;
    this.revision = 0;
    this.snapshotFloor = 0;
    this.snapshotCeiling = 0;
    this.push(this.opts.resetEvent!());
  }

  private dropConsumer(): void {
    this.puller?.stop();
    this.puller = undefined;
    this.sub?.unsubscribe();
    this.sub = undefined;
    const name = this.consumerName;
    this.consumerName = undefined;
    if (name && !this.opts.nc.isClosed()) {
      // Best effort: an ephemeral consumer also goes away by itself after inactive_threshold.
      deleteConsumer(this.opts.nc, this.opts.jsm, this.opts.stream, name);
    }
  }

  private async createConsumer(gen: number): Promise<void> {
    const snapshot = !this.synced && this.lastPerSubject;
    if (snapshot) {
      // Everything at or below the stream's last sequence now is covered by the snapshot, so after
      // `synced` a resume must start above it even if no matching key was delivered.
      const info = await this.opts.jsm.streams.info(this.opts.stream);
      this.snapshotFloor = info.state.last_seq;
      this.snapshotCeiling = 0;
    }
    const inbox = connectionInbox(this.opts.nc);
    this.expectDelivery = 1;
    this.sub = this.opts.nc.subscribe(inbox, { callback: (err, msg) => this.onMessage(gen, err, msg) });
    const pull = this.opts.pullEveryMs !== undefined;
    const cfg: Partial<ConsumerConfig> = {
      ...(pull ? {} : { deliver_subject: inbox, flow_control: true, idle_heartbeat: nanos(this.heartbeatMs) }),
      ack_policy: AckPolicy.None,
      filter_subject: this.filter,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(Math.max(30_000, 10 * this.heartbeatMs)),
      ...(snapshot
        ? { deliver_policy: DeliverPolicy.LastPerSubject }
        : this.revision === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.revision + 1 }),
    };
    const ci = await this.opts.jsm.consumers.add(this.opts.stream, cfg);
    if (gen !== this.gen || this.done) {
      deleteConsumer(this.opts.nc, this.opts.jsm, this.opts.stream, ci.name);
      return;
    }
    this.consumerName = ci.name;
    this.lastActivity = Date.now();
    if (pull) {
      this.puller = new Puller(this.opts.nc, `$JS.API.CONSUMER.MSG.NEXT.${this.opts.stream}.${ci.name}`, inbox, this.opts.pullEveryMs!);
      this.puller.request();
    }
    if (!this.synced && ci.num_pending === 0 && this.expectDelivery === 1) this.markSynced();
    else if (snapshot) void this.learnCeiling(gen);
  }

  /**
   * learnCeiling reads the stream's last sequence after the snapshot consumer exists: a delivery at or
   * above it proves the snapshot complete (delivery is in sequence order, the snapshot's messages all
   * at or below it). A churning bucket needs this: with a message every heartbeat period no idle
   * heartbeat comes, and nats-server 2.9 can leave `pending` above 0 for good (a hollow-node test's
   * list of 3 leases renewed every 500 ms waited its whole minute in CI).
   */
  private async learnCeiling(gen: number): Promise<void> {
    const info = await this.opts.jsm.streams.info(this.opts.stream).catch(() => undefined);
    if (!info || gen !== this.gen || this.done || this.synced) return;
    this.snapshotCeiling = info.state.last_seq;
    if (this.revision >= this.snapshotCeiling) this.markSynced();
  }

  private onMessage(gen: number, err: Error | null, msg: Msg): void {
    if (gen !== this.gen || this.done) return;
    if (err) {
      void this.restart(`subscription error: ${err.message}`);
      return;
    }
    this.lastActivity = Date.now();
    const code = headerStatus(msg);
    if (code !== 0) {
      this.onStatus(code, msg);
      return;
    }
    const ack = parseAck(replyBytes(msg));
    if (!ack) return;
    this.puller?.delivered();
    if (ack.deliverySeq !== this.expectDelivery) {
      void this.restart(`delivery gap: got ${ack.deliverySeq}, expected ${this.expectDelivery}`);
      return;
    }
    this.expectDelivery++;
    if (ack.streamSeq > this.revision) {
      this.revision = ack.streamSeq;
      this.push(new Delivery(msg, ack));
    }
    if (!this.synced && (ack.pending === 0 || (this.snapshotCeiling > 0 && ack.streamSeq >= this.snapshotCeiling))) this.markSynced();
  }

  private onStatus(code: number, msg: Msg): void {
    if (this.puller && (code === 404 || code === 408)) {
      // The end of a no_wait request: everything the consumer held was delivered before it, so the
      // snapshot is complete (the messages come in order, this status after them).
      this.puller.ended();
      if (!this.synced && this.consumerName) this.markSynced();
      return;
    }
    if (code === 100) {
      if (msg.reply) {
        msg.respond(); // flow control request
        return;
      }
      const stalled = msg.headers?.get('Nats-Consumer-Stalled');
      if (stalled) this.opts.nc.publish(stalled);
      const lastDelivered = Number(msg.headers?.get('Nats-Last-Consumer') ?? '0');
      if (lastDelivered >= this.expectDelivery) void this.restart('heartbeat reports undelivered messages');
      // An idle heartbeat after everything was delivered means caught up, whatever `pending` said
      // on the last message: nats-server 2.9 can leave it above 0 for a last-per-subject snapshot of
      // a churning bucket, and a list() waiting for `synced` hung (seen in the e2e). Never while the
      // server holds delivery back for flow control (a stalled heartbeat): a busy reader otherwise
      // took that pause in its snapshot for the end, marked synced at the stream's last sequence and
      // dropped the rest of the snapshot as old (an informer synced with 3,556 of 10,000 keys). Not
      // a count of the snapshot either: 2.9 over-reports num_pending of a last-per-subject consumer.
      else if (!this.synced && this.consumerName && !stalled && lastDelivered === this.expectDelivery - 1) this.markSynced();
      return;
    }
    void this.restart(`consumer status ${code} ${msg.headers?.description ?? ''}`);
  }

  private markSynced(): void {
    this.synced = true;
    if (this.snapshotFloor > this.revision) this.revision = this.snapshotFloor;
    this.push(this.opts.syncedEvent(this.revision));
  }

  private decoded({ msg, ack }: Delivery): E | undefined {
    try {
      return this.opts.decode(msg, ack);
    } catch (err) {
      return void this.opts.log.error({ stream: this.opts.stream, seq: ack.streamSeq, err: String(err) }, 'tail: decode threw; message skipped');
    }
  }

  private push(ev: E | Delivery): void {
    this.queue.push(ev);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.gen++;
    if (this.watchdog) clearInterval(this.watchdog);
    this.statusIter?.stop?.();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.dropConsumer();
    this.queue.clear();
    this.resolveClosed();
  }

  async close(): Promise<void> {
    this.finish();
    await this.closed;
  }

  /** batches iterates the events in arrays of all that arrived since the last (tail-queue.ts). Iterate this or the tail, once. */
  async *batches(): AsyncGenerator<readonly E[]> {
    try {
      while (!this.done) {
        if (this.queue.length === 0) {
          await this.queue.arrival();
          continue;
        }
        const events = this.queue.take();
        if (events.length > 0) yield events;
      }
    } finally {
      this.finish();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<E> {
    for await (const events of this.batches()) {
      for (const ev of events) {
        // close() drops what is pending, including the rest of a batch taken
        if (this.done) return;
        yield ev;
      }
    }
  }
}
