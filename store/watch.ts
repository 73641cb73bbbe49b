/**
 * Watches on a KV bucket: the last value of every matching key (in revision order), a `synced`
 * event, then every put and delete, each exactly once, across server restarts and failovers (the
 * consumer handling is StreamTail's, tail.ts). Resume with afterRevision: no snapshot, no `synced`.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../lib/index.ts';
import { decodeRecord, keyFilter, validateKey, type InvalidRecord, type RecordCodec } from './record.ts';
import type { AckInfo } from './ack-subject.ts';
import { StreamTail } from './tail.ts';
import { kvOperation, subjectTail } from './msg-headers.ts';
import { LazyRecord } from './lazy.ts';

/** WatchEvent is one change seen by a watch (or the end of its initial snapshot). */
export type WatchEvent<T> =
  | { type: 'put'; key: string; value: T; revision: number; created: Date; lazy?: LazyRecord<T> }
  | { type: 'delete'; key: string; revision: number; purged: boolean; created: Date }
  | { type: 'synced'; revision: number };

/**
 * WatchReset is the extra event of a watch made with `resnapshot` (iterate it as
 * `Watch<T, WatchEvent<T> | WatchReset>`): the watch starts over, a new snapshot follows, then
 * `synced`; keys the snapshot does not repeat are gone.
 */
export interface WatchReset {
  type: 'reset';
}

/** WatchOptions selects what a watch sees and how it ends. */
export interface WatchOptions<T = unknown> {
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
  /**
   * every consumer re-creation (reconnect, server restart, gap) takes a new snapshot, announced by a
   * `reset` event (WatchReset), instead of resuming after the last revision: for buckets kept in
   * memory, whose stream a server restart empties and numbers again from 1
   */
  resnapshot?: boolean;
  /**
   * batched: events come in batches every this many ms (a pull consumer asked for all that is new,
   * tail.ts `pullEveryMs`), up to that late, for nats-server one write per batch instead of one per
   * message. For often-written buckets whose readers can wait (node leases). Needs the right to
   * pull from the bucket's consumers (`$JS.API.CONSUMER.MSG.NEXT.<stream>.*`), which only
   * control-plane identities have.
   */
  batchMs?: number;
  /**
   * known hands back the value the reader already holds for a key at exactly this revision (its own
   * write, applied when acknowledged), if any: that put carries it instead of decoding the message.
   * Decoding happens when the reader takes a delivery, by which time its own write is usually known:
   * the reconciler decoded every task it created again from the echo (~a fifth of its decode work).
   */
  known?: (key: string, revision: number) => T | undefined;
  /**
   * lazy: a put's value is decoded when first read (`value`, or its `lazy` record), not when the
   * watch delivers it; the record's bytes are kept till then (`known` is not asked). For readers of
   * a whole bucket that read only some of its keys: a process of hollow nodes follows every task
   * spec and runs a part of them (the 500 nodes the scale benchmark kills, 5 %). A record that
   * cannot be decoded is reported when read, and reads as undefined.
   */
  lazy?: boolean;
}

/** Watch is a running watch: iterate it for events; close() (or the signal) ends the iteration. */
export interface Watch<T, E = WatchEvent<T>> extends AsyncIterable<E> {
  /**
   * batches iterates the same events in arrays of all that arrived since the last one, for a reader
   * that handles each synchronously (the informer): one asynchronous step per batch, not per event.
   * Iterate either this or the watch, once.
   */
  batches(): AsyncIterable<readonly E[]>;
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

/**
 * The events a watch makes, as classes: `created` is a Date made when read (a Date per delivery was
 * made for every reader; only readers of entry times read it: node leases, the scale view).
 */
class PutEvent<T> {
  readonly type = 'put';
  constructor(readonly key: string, readonly value: T, readonly revision: number, private readonly createdMs: number) {}
  get created(): Date {
    return new Date(this.createdMs);
  }
}

/** LazyPutEvent is a put whose value is decoded when first read (WatchOptions `lazy`). */
class LazyPutEvent<T> {
  readonly type = 'put';
  constructor(readonly key: string, readonly lazy: LazyRecord<T>, readonly revision: number, private readonly createdMs: number) {}
  get value(): T {
    return this.lazy.read() as T;
  }
  get created(): Date {
    return new Date(this.createdMs);
  }
}

class DeleteEvent {
  readonly type = 'delete';
  constructor(readonly key: string, readonly revision: number, readonly purged: boolean, private readonly createdMs: number) {}
  get created(): Date {
    return new Date(this.createdMs);
  }
}

/** startWatch starts a watch on a bucket; see WatchOptions. */
export function startWatch<T>(ctx: WatchContext<T>, opts: WatchOptions<T> = {}): Watch<T> {
  if (opts.key !== undefined) validateKey(opts.key);
  const subjectPrefix = `$KV.${ctx.bucket}.`;
  const filter = subjectPrefix + (opts.key ?? keyFilter(opts.prefix ?? ''));
  /** decodeAt decodes a record's bytes; undefined (reported) when it cannot be decoded */
  const decodeAt = (bytes: Uint8Array, key: string, revision: number): T | undefined => {
    const decoded = decodeRecord(ctx.codec, bytes);
    if (decoded.ok) return decoded.value;
    const bad: InvalidRecord = { bucket: ctx.bucket, key, revision, reason: decoded.reason };
    ctx.reportInvalid(bad);
    try {
      opts.onInvalid?.(bad);
    } catch (err) {
      ctx.log.error({ err: String(err) }, 'watch: onInvalid callback threw');
    }
    return undefined;
  };
  const decode = (msg: Msg, ack: AckInfo): WatchEvent<T> | undefined => {
    const key = subjectTail(msg, subjectPrefix.length);
    const revision = ack.streamSeq;
    const op = kvOperation(msg);
    if (op === 'DEL' || op === 'PURGE') return new DeleteEvent(key, revision, op === 'PURGE', ack.timestampMs);
    if (opts.lazy) {
      // A copy: msg.data may be a view of a larger read buffer. (Buffer.from takes small copies from Node's pool.)
      return new LazyPutEvent(key, new LazyRecord<T>(Buffer.from(msg.data), key, revision, decodeAt), revision, ack.timestampMs);
    }
    const held = opts.known?.(key, revision);
    if (held !== undefined) return new PutEvent(key, held, revision, ack.timestampMs);
    const value = decodeAt(msg.data, key, revision);
    return value === undefined ? undefined : new PutEvent(key, value, revision, ack.timestampMs);
  };
  const resume = opts.afterRevision !== undefined;
  return new StreamTail<WatchEvent<T>>({
    nc: ctx.nc,
    jsm: ctx.jsm,
    stream: ctx.stream,
    filter,
    log: ctx.log,
    start: resume ? { afterSeq: opts.afterRevision ?? 0 } : { lastPerSubject: true },
    emitSynced: !resume,
    decode,
    syncedEvent: (revision) => ({ type: 'synced', revision }),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}),
    ...(opts.batchMs !== undefined ? { pullEveryMs: opts.batchMs } : {}),
    // (typed as a WatchEvent for the tail only: a resnapshot watch's reader iterates WatchEvent | WatchReset)
    ...(opts.resnapshot ? { resetEvent: () => ({ type: 'reset' }) as unknown as WatchEvent<T> } : {}),
  });
}
