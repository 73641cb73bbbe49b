/**
 * EventStream<T>: an append-only JetStream stream of records (cluster events, like Kubernetes
 * events) with bounded retention (max messages and max age, oldest dropped first). Append, read the
 * most recent, or follow new ones; records use the same versioned envelope as buckets, and bad
 * ones are reported and skipped.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { createLogger, type Logger } from '../lib/index.ts';
import { retryTransient, translateError } from './errors.ts';
import { jsPublish } from './publisher.ts';
import { placementOf } from './replicas.ts';
import { decodeRecord, encodeRecord, keyFilter, validateKey, type InvalidRecord, type RecordCodec } from './record.ts';
import type { AckInfo } from './ack-subject.ts';
import { StreamTail } from './tail.ts';

/** EventStreamOptions: where a stream handle logs, and whom it tells of a refused record. */
export interface EventStreamOptions {
  log?: Logger;
  onInvalid?: (r: InvalidRecord) => void;
}

/** EventStreamConfig is how an event stream is created (idempotently) and opened. */
export interface EventStreamConfig<T = unknown> {
  /** stream name, e.g. gitcell_events */
  name: string;
  /** subject root; events go to `<subjectRoot>.<tokens...>`, e.g. gitcell.events */
  subjectRoot: string;
  /** replica count; omitted, the stream is created with 1 and an existing one keeps its count (see BucketConfig) */
  replicas?: number;
  /** keep at most this many events (default 10,000) */
  maxMsgs?: number;
  /** drop events older than this (default 24 h) */
  maxAgeMs?: number;
  timeoutMs?: number;
  /** JetStream placement tags (servers' `server_tags`) for a stream created now; an existing one keeps its placement */
  placementTags?: string[];
  /**
   * writer token: events are appended under `<subjectRoot>.<writer>.<tokens>` and every reader gets
   * the writer of each event from its subject. NATS permissions confine each identity to its own
   * writer token (an agent: its node), so the writer cannot be forged, unlike anything in the body.
   */
  writer?: string;
  /** verify refuses (returns the reason) an event whose body disagrees with its writer */
  verify?: (writer: string, value: T) => string | undefined;
}

/** StoredEvent is one decoded event with its stream sequence and subject tokens. */
export interface StoredEvent<T> {
  seq: number;
  /** the subject tokens after the root (and the writer), as given to append */
  tokens: string[];
  /** who appended it (the writer token of its subject), with a writer layout */
  writer?: string;
  time: Date;
  value: T;
}

type TailItem<T> = { type: 'event'; event: StoredEvent<T> } | { type: 'synced'; revision: number };

/** EventStream is a typed, bounded, append-only stream: `append`, `recent` (the newest first), `follow` (new ones as they come). */
export class EventStream<T> {
  private readonly log: Logger;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly cfg: EventStreamConfig<T>,
    readonly codec: RecordCodec<T>,
    private readonly onInvalid: ((r: InvalidRecord) => void) | undefined,
    log: Logger | undefined,
  ) {
    this.log = log ?? createLogger('store');
  }

  /** EventStream.bind returns a handle on an existing stream without creating or changing it. */
  static async bind<T>(nc: NatsConnection, cfg: EventStreamConfig<T>, codec: RecordCodec<T>, opts: EventStreamOptions = {}): Promise<EventStream<T>> {
    const timeout = cfg.timeoutMs ?? 5000;
    const js = jetstream(nc, { timeout });
    const jsm = await jetstreamManager(nc, { timeout, checkAPI: false });
    return new EventStream(nc, js, jsm, cfg, codec, opts.onInvalid, opts.log);
  }

  /** EventStream.open creates the stream if missing (or updates its limits) and returns a handle. */
  static async open<T>(nc: NatsConnection, cfg: EventStreamConfig<T>, codec: RecordCodec<T>, opts: EventStreamOptions = {}): Promise<EventStream<T>> {
    await ensureStream(nc, cfg);
    return EventStream.bind(nc, cfg, codec, opts);
  }

  private subject(tokens: string[]): string {
    const s = tokens.join('.');
    validateKey(s);
    return this.cfg.writer === undefined ? `${this.cfg.subjectRoot}.${s}` : `${this.cfg.subjectRoot}.${this.cfg.writer}.${s}`;
  }

  /** append stores one event under `<root>.<tokens>` and returns its sequence. */
  async append(tokens: string[], value: T): Promise<number> {
    const subject = this.subject(tokens);
    try {
      return await jsPublish(this.nc, subject, encodeRecord(this.codec, value), undefined, this.cfg.timeoutMs ?? 5000);
    } catch (err) {
      throw translateError(err, 'append', this.cfg.name, tokens.join('.'));
    }
  }

  private tail(prefix: string | undefined, afterSeq: number, emitSynced: boolean, signal?: AbortSignal): StreamTail<TailItem<T>> {
    const rootLen = this.cfg.subjectRoot.length + 1;
    // One consumer filter cannot match both "a.b" and "a.b.>", so the server filters on all but the
    // last prefix token and the rest is checked here.
    const layered = this.cfg.writer !== undefined;
    const want = [...(layered ? ['*'] : []), ...(prefix ? prefix.split('.') : [])];
    if (prefix) keyFilter(prefix);
    const serverFilter = want.length > 1 ? `${want.slice(0, -1).join('.')}.>` : '>';
    const decode = (msg: Msg, ack: AckInfo): TailItem<T> | undefined => {
      const all = msg.subject.substring(rootLen).split('.');
      if (want.some((w, i) => w !== '*' && w !== '>' && all[i] !== w)) return undefined;
      const writer = layered ? all[0] : undefined;
      const tokens = layered ? all.slice(1) : all;
      const decoded = decodeRecord(this.codec, msg.data);
      const refused = decoded.ok ? (writer !== undefined ? this.cfg.verify?.(writer, decoded.value) : undefined) : decoded.reason;
      if (!decoded.ok || refused !== undefined) {
        const bad = { bucket: this.cfg.name, key: all.join('.'), revision: ack.streamSeq, reason: refused ?? 'refused' };
        this.log.warn(bad, `store: skipping invalid event ${bad.key}@${bad.revision}: ${bad.reason}`);
        this.onInvalid?.(bad);
        return undefined;
      }
      const time = new Date(ack.timestampMs);
      return { type: 'event', event: { seq: ack.streamSeq, tokens, ...(writer !== undefined ? { writer } : {}), time, value: decoded.value } };
    };
    return new StreamTail<TailItem<T>>({
      nc: this.nc,
      jsm: this.jsm,
      stream: this.cfg.name,
      filter: `${this.cfg.subjectRoot}.${serverFilter}`,
      log: this.log,
      start: { afterSeq },
      emitSynced,
      decode,
      syncedEvent: (revision) => ({ type: 'synced', revision }),
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * recent returns up to `limit` (default 100) latest events, oldest first, optionally only those
   * whose tokens start with `prefix` (e.g. "Job.default").
   */
  async recent(opts: { limit?: number; prefix?: string } = {}): Promise<StoredEvent<T>[]> {
    const limit = opts.limit ?? 100;
    let info;
    try {
      info = await this.jsm.streams.info(this.cfg.name);
    } catch (err) {
      throw translateError(err, 'recent', this.cfg.name);
    }
    if (info.state.messages === 0 || limit <= 0) return [];
    // Without a filter the last `limit` sequences are the answer; with one, scan the (bounded) stream.
    const from = opts.prefix ? info.state.first_seq : Math.max(info.state.first_seq, info.state.last_seq - limit + 1);
    const t = this.tail(opts.prefix, from - 1, true);
    const out: StoredEvent<T>[] = [];
    try {
      for await (const item of t) {
        if (item.type === 'synced') break;
        out.push(item.event);
        if (out.length > limit) out.shift();
      }
    } finally {
      await t.close();
    }
    return out;
  }

  /**
   * follow yields events appended after `afterSeq` (default: from now on), exactly once each, across
   * reconnects and failovers, until `signal` aborts or the iterator is left.
   */
  async *follow(opts: { afterSeq?: number; prefix?: string; signal?: AbortSignal } = {}): AsyncGenerator<StoredEvent<T>> {
    let after = opts.afterSeq;
    if (after === undefined) {
      try {
        after = (await this.jsm.streams.info(this.cfg.name)).state.last_seq;
      } catch (err) {
        throw translateError(err, 'follow', this.cfg.name);
      }
    }
    const t = this.tail(opts.prefix, after, false, opts.signal);
    try {
      for await (const item of t) if (item.type === 'event') yield item.event;
    } finally {
      await t.close();
    }
  }
}

/** ensureStream creates the events stream if missing, or updates its replicas and limits to `cfg`. */
async function ensureStream<T>(nc: NatsConnection, cfg: EventStreamConfig<T>): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: cfg.timeoutMs ?? 5000 });
  const want = {
    name: cfg.name,
    subjects: [`${cfg.subjectRoot}.>`],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: StorageType.File,
    num_replicas: cfg.replicas ?? 1,
    max_msgs: cfg.maxMsgs ?? 10_000,
    max_age: nanos(cfg.maxAgeMs ?? 24 * 3600 * 1000),
    allow_direct: true,
    ...placementOf(cfg.placementTags),
  };
  try {
    await retryTransient(async () => {
      let info;
      try {
        info = await jsm.streams.info(cfg.name);
      } catch (err) {
        if (!/stream not found/i.test(String((err as Error).message))) throw err;
      }
      if (!info) {
        try {
          await jsm.streams.add(want);
        } catch (err) {
          if (!/already in use/i.test(String((err as Error).message))) throw err;
        }
      } else {
        const replicas = cfg.replicas ?? info.config.num_replicas;
        if (info.config.num_replicas !== replicas || info.config.max_msgs !== want.max_msgs || info.config.max_age !== want.max_age) {
          await jsm.streams.update(cfg.name, { ...info.config, num_replicas: replicas, max_msgs: want.max_msgs, max_age: want.max_age });
        }
      }
    });
  } catch (err) {
    throw translateError(err, 'create stream', cfg.name);
  }
}
