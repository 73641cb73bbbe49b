/**
 * Bucket<T>: one typed KV bucket. Values are versioned JSON envelopes (record.ts); every read
 * returns the revision, every write that depends on a read is a compare-and-set on it.
 *
 *   get ──► leader read (STREAM.MSG.GET), never a lagging replica ──► {value, revision}
 *   update(key, value, revision) ──► publish with Nats-Expected-Last-Subject-Sequence ──► E_CONFLICT
 *   updateWithRetry(key, fn) ──► get, fn, CAS; on conflict re-read and call fn again
 *   watch / list ──► watch.ts (snapshot then changes, resumable)
 *
 * The bucket is a plain NATS KV bucket (stream KV_<name>, subjects $KV.<name>.<key>), so the
 * `nats kv` tooling and raw nats.js clients see the same data.
 */
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { backoffDelay, createLogger, isGitcellError, sleep, type Logger } from '../lib/index.ts';
import { retryTransient, StoreErrorCodes, storeError, translateError } from './errors.ts';
import { decodeRecord, encodeRecord, invalidRecordError, validateKey, type InvalidRecord, type RecordCodec } from './record.ts';
import { startWatch, type Watch, type WatchOptions } from './watch.ts';
import { disconnected } from './connect.ts';
import { jsPublish } from './publisher.ts';
import { ensureBucket, type BucketConfig } from './bucket-config.ts';

export { ensureBucket, type BucketConfig } from './bucket-config.ts';

/** StoreRecord is a decoded value with the revision it was stored at. */
export interface StoreRecord<T> {
  key: string;
  value: T;
  revision: number;
  /** when the server stored this revision */
  created?: Date;
}

/** BucketOptions are the client-side options of an open bucket. */
export interface BucketOptions {
  log?: Logger;
  /** called for every record a read, list or watch refuses (also logged at warn) */
  onInvalid?: (record: InvalidRecord) => void;
}

/** SKIP returned by an updateWithRetry function means "leave the key as it is". */
export const SKIP: unique symbol = Symbol('gitcell.store.skip');

/** UpdateFn computes the next value from the current one: T to write, undefined to delete, SKIP. */
export type UpdateFn<T> = (current: T | undefined, record: StoreRecord<T> | undefined) => T | undefined | typeof SKIP;

/** UpdateOptions bound updateWithRetry. */
export interface UpdateOptions {
  /** give up with E_TOO_MANY_CONFLICTS after this many lost races (default 50) */
  maxAttempts?: number;
}

/**
 * RoBucket is what a reader of a bucket may do (nats.js' `RoKV`): read, list, watch. Hand it to
 * code that must not write (agents reading tasks, bindings, node specs and their secrets; viewers;
 * informers), so a write there is a type error, not a review comment. NATS permissions enforce the
 * same boundary at the server.
 */
export interface RoBucket<T> {
  readonly name: string;
  /** get returns the key's value and revision (a leader read unless `stale`), undefined if absent */
  get(key: string, opts?: { stale?: boolean }): Promise<StoreRecord<T> | undefined>;
  /** lastRevision is the bucket's newest revision */
  lastRevision(): Promise<number>;
  /** watch streams the snapshot, `synced`, then every change (watch.ts) */
  watch(opts?: WatchOptions<T>): Watch<T>;
  /** listWithRevision returns the records below `prefix` and the revision they are consistent at */
  listWithRevision(prefix?: string, opts?: { signal?: AbortSignal }): Promise<{ records: StoreRecord<T>[]; revision: number }>;
  /** list returns the records below `prefix`, sorted by key */
  list(prefix?: string): Promise<StoreRecord<T>[]>;
  /** keys returns the keys below `prefix` that hold a value, sorted */
  keys(prefix?: string): Promise<string[]>;
}

/** KvBucket is a bucket a writer holds (nats.js' `KV extends RoKV`): every read plus the writes. */
export interface KvBucket<T> extends RoBucket<T> {
  put(key: string, value: T): Promise<number>;
  /** send is put without waiting for (or asking for) the server's acknowledgement: see Bucket.send */
  send(key: string, value: T): void;
  create(key: string, value: T): Promise<number>;
  update(key: string, value: T, revision: number): Promise<number>;
  delete(key: string, opts?: { revision?: number }): Promise<number>;
  updateWithRetry(key: string, fn: UpdateFn<T>, opts?: UpdateOptions): Promise<StoreRecord<T> | undefined>;
}

const KV_OPERATION = 'KV-Operation';
const EXPECTED_LAST_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';

/** LIST_TIMEOUT_MS bounds a list: generous (a large bucket on a loaded machine takes seconds), but a list waiting on a server gone must end. */
export const LIST_TIMEOUT_MS = 60_000;

/** Bucket is a typed handle on one KV bucket: every read returns the revision, every dependent write is a compare-and-set on it. */
export class Bucket<T> implements KvBucket<T> {
  readonly name: string;
  readonly stream: string;
  private readonly subjectPrefix: string;
  private readonly log: Logger;
  private readonly timeoutMs: number;

  private constructor(
    readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly codec: RecordCodec<T>,
    private readonly cfg: BucketConfig,
    private readonly opts: BucketOptions,
  ) {
    this.name = cfg.name;
    this.stream = `KV_${cfg.name}`;
    this.subjectPrefix = `$KV.${cfg.name}.`;
    this.log = opts.log ?? createLogger('store');
    this.timeoutMs = cfg.timeoutMs ?? 5000;
  }

  /** Bucket.open creates the bucket if needed (ensureBucket) and returns a typed handle on it. */
  static async open<T>(nc: NatsConnection, cfg: BucketConfig, codec: RecordCodec<T>, opts: BucketOptions = {}): Promise<Bucket<T>> {
    await ensureBucket(nc, cfg);
    return Bucket.bind(nc, cfg, codec, opts);
  }

  /**
   * ensure makes the bucket again, as configured when this handle was opened, if its stream is gone
   * (ensureBucket: idempotent): a memory-stored bucket (the node leases) does not survive a restart
   * of its servers while the others do. Only identities that may create streams can.
   */
  async ensure(): Promise<void> {
    await ensureBucket(this.nc, this.cfg);
  }

  /** Bucket.bind returns a handle on an existing bucket without any server round trip. */
  static async bind<T>(nc: NatsConnection, cfg: BucketConfig, codec: RecordCodec<T>, opts: BucketOptions = {}): Promise<Bucket<T>> {
    const timeout = cfg.timeoutMs ?? 5000;
    const jsm = await jetstreamManager(nc, { timeout, checkAPI: false });
    return new Bucket(nc, jsm, codec, cfg, opts);
  }

  /** reportInvalid logs a refused record and tells the bucket's onInvalid callback. */
  reportInvalid = (record: InvalidRecord): void => {
    this.log.warn({ ...record }, `store: skipping invalid record ${record.bucket}/${record.key}@${record.revision}: ${record.reason}`);
    try {
      this.opts.onInvalid?.(record);
    } catch (err) {
      this.log.error({ err: String(err) }, 'store: onInvalid callback threw');
    }
  };

  /**
   * get returns the key's current value and revision, or undefined if it has none (never written
   * or deleted). It reads from the stream leader, so it sees every write acknowledged before it.
   * Pass `{ stale: true }` to allow a (faster) read from any replica. A record that cannot be
   * decoded is reported and raises E_INVALID_RECORD.
   */
  async get(key: string, opts: { stale?: boolean } = {}): Promise<StoreRecord<T> | undefined> {
    validateKey(key);
    const subject = this.subjectPrefix + key;
    let sm: StoredMsg | null;
    try {
      sm = await Promise.race([
        opts.stale
          ? this.jsm.direct.getMessage(this.stream, { last_by_subj: subject })
          : this.jsm.streams.getMessage(this.stream, { last_by_subj: subject }),
        disconnected(this.nc),
      ]);
    } catch (err) {
      throw translateError(err, 'get', this.name, key);
    }
    if (!sm || sm.subject !== subject) return undefined;
    const op = sm.header?.get(KV_OPERATION);
    if (op === 'DEL' || op === 'PURGE') return undefined;
    const decoded = decodeRecord(this.codec, sm.data);
    if (!decoded.ok) {
      const bad = { bucket: this.name, key, revision: sm.seq, reason: decoded.reason };
      this.reportInvalid(bad);
      throw invalidRecordError(bad);
    }
    return { key, value: decoded.value, revision: sm.seq, created: sm.time };
  }

  private async publish(op: string, key: string, payload: Uint8Array, expectRevision: number | undefined, kvOp?: 'DEL'): Promise<number> {
    validateKey(key);
    let h;
    if (expectRevision !== undefined || kvOp) {
      h = headers();
      if (expectRevision !== undefined) h.set(EXPECTED_LAST_SUBJECT_SEQ, String(expectRevision));
      if (kvOp) h.set(KV_OPERATION, kvOp);
    }
    try {
      return await jsPublish(this.nc, this.subjectPrefix + key, payload, h, this.timeoutMs);
    } catch (err) {
      throw translateError(err, op, this.name, key);
    }
  }

  /**
   * lastRevision returns the bucket's newest revision (its stream's last sequence, 0 when empty),
   * read from the stream leader: an Informer that has reached it has seen every write acknowledged
   * before this call.
   */
  async lastRevision(): Promise<number> {
    try {
      const info = await Promise.race([this.jsm.streams.info(this.stream), disconnected(this.nc)]);
      return info.state.last_seq;
    } catch (err) {
      throw translateError(err, 'info', this.name, '');
    }
  }

  /** put writes `value` unconditionally (last writer wins) and returns the new revision. */
  put(key: string, value: T): Promise<number> {
    return this.publish('put', key, encodeRecord(this.codec, value), undefined);
  }

  /**
   * send is `put` published without a reply subject: the server stores it as any put but answers
   * nothing, so the caller never learns whether (or at which revision) it was stored. For writes
   * that are repeated soon and whose loss the next one repairs (node lease renewals): the
   * acknowledgement is one of the few messages such a write costs nats-server (issue 17). Permissions
   * still apply (a refused send is dropped and reported on the connection); a connection that is
   * reconnecting buffers it. Throws only when the key is invalid or the connection is closed.
   */
  send(key: string, value: T): void {
    validateKey(key);
    if (this.nc.isClosed()) throw storeError(StoreErrorCodes.Unavailable, `send ${this.name}/${key}: NATS connection closed`, { bucket: this.name, key });
    this.nc.publish(this.subjectPrefix + key, encodeRecord(this.codec, value));
  }

  /**
   * create writes `value` only if the key has no value (never written, or deleted) and returns the
   * new revision; E_EXISTS if it has one.
   */
  async create(key: string, value: T): Promise<number> {
    const payload = encodeRecord(this.codec, value);
    try {
      return await this.publish('create', key, payload, 0);
    } catch (err) {
      if (!isGitcellError(err, StoreErrorCodes.Conflict)) throw err;
    }
    // The key has history: allowed if its last entry is a delete marker, checked by CAS on it.
    const sm = await this.rawLast(key);
    const op = sm?.header?.get(KV_OPERATION);
    if (sm && (op === 'DEL' || op === 'PURGE')) {
      try {
        return await this.publish('create', key, payload, sm.seq);
      } catch (err) {
        if (!isGitcellError(err, StoreErrorCodes.Conflict)) throw err;
      }
    }
    throw storeError(StoreErrorCodes.Exists, `create ${this.name}/${key}: key already has a value`, { bucket: this.name, key });
  }

  private async rawLast(key: string): Promise<StoredMsg | null> {
    try {
      return await this.jsm.streams.getMessage(this.stream, { last_by_subj: this.subjectPrefix + key });
    } catch (err) {
      throw translateError(err, 'get', this.name, key);
    }
  }

  /**
   * update writes `value` only if the key is still at `revision` (compare-and-set) and returns the
   * new revision; E_CONFLICT if someone else wrote (or deleted) it since.
   */
  update(key: string, value: T, revision: number): Promise<number> {
    if (!Number.isSafeInteger(revision) || revision <= 0) {
      throw storeError(StoreErrorCodes.Failed, `update ${this.name}/${key}: revision must be a positive integer, got ${revision}`, { key, revision });
    }
    return this.publish('update', key, encodeRecord(this.codec, value), revision);
  }

  /**
   * delete removes the key (a delete marker that watchers see) and returns the marker's revision;
   * with `revision` only if the key is still at it (E_CONFLICT otherwise).
   */
  delete(key: string, opts: { revision?: number } = {}): Promise<number> {
    return this.publish('delete', key, new Uint8Array(0), opts.revision, 'DEL');
  }

  /**
   * updateWithRetry applies a pure function to the key's current value with compare-and-set,
   * re-reading and calling it again whenever another writer got in first, and returns the record
   * as finally stored (undefined if deleted or absent). `fn` returns the next value, undefined to
   * delete, or SKIP to leave the key alone (the current record is returned).
   */
  async updateWithRetry(key: string, fn: UpdateFn<T>, opts: UpdateOptions = {}): Promise<StoreRecord<T> | undefined> {
    const maxAttempts = opts.maxAttempts ?? 50;
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(key);
      const next = fn(current?.value, current);
      try {
        if (next === SKIP) return current;
        if (next === undefined) {
          if (current) await this.delete(key, { revision: current.revision });
          return undefined;
        }
        const revision = current ? await this.update(key, next, current.revision) : await this.create(key, next);
        return { key, value: next, revision };
      } catch (err) {
        const lost = isGitcellError(err, StoreErrorCodes.Conflict) || isGitcellError(err, StoreErrorCodes.Exists);
        if (!lost) throw err;
        if (attempt >= maxAttempts) {
          throw storeError(StoreErrorCodes.TooManyConflicts, `update ${this.name}/${key}: gave up after ${attempt} conflicting writes`, { bucket: this.name, key, attempts: attempt });
        }
        // Jitter spreads racing writers so they stop colliding in lockstep.
        if (attempt > 2) await sleep(backoffDelay({ initialMs: 1, maxMs: 50, jitter: 'full' }, attempt));
      }
    }
  }

  /**
   * watch streams the keys below `prefix` (or one `key`): their current values, a `synced` event,
   * then every put and delete; see watch.ts for the resume and restart rules.
   */
  watch(opts: WatchOptions<T> = {}): Watch<T> {
    return startWatch(
      { nc: this.nc, jsm: this.jsm, bucket: this.name, stream: this.stream, codec: this.codec, log: this.log, reportInvalid: this.reportInvalid },
      opts,
    );
  }

  /**
   * list returns the current records below `prefix` ("" for all), sorted by key, and the revision
   * they are consistent at (pass it to watch({afterRevision}) to follow on without a gap).
   * Invalid records are reported and left out. A list that cannot complete (no server within
   * `timeoutMs`, default LIST_TIMEOUT_MS; the connection closed; the signal) fails with
   * E_UNAVAILABLE: never a partial list, never a wait without end.
   */
  async listWithRevision(prefix = '', opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ records: StoreRecord<T>[]; revision: number }> {
    const w = this.watch({ prefix, ...(opts.signal ? { signal: opts.signal } : {}) });
    const timeoutMs = opts.timeoutMs ?? LIST_TIMEOUT_MS;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void w.close();
    }, timeoutMs);
    const found = new Map<string, StoreRecord<T>>();
    let revision: number | undefined;
    try {
      for await (const ev of w) {
        if (ev.type === 'put') found.set(ev.key, { key: ev.key, value: ev.value, revision: ev.revision, created: ev.created });
        else if (ev.type === 'delete') found.delete(ev.key);
        else {
          revision = ev.revision;
          break;
        }
      }
    } finally {
      clearTimeout(timer);
      await w.close();
    }
    if (revision === undefined) {
      const state = `${found.size} keys up to revision ${w.revision}, ${w.restarts} consumer restarts`;
      const why = timedOut ? `not complete after ${timeoutMs / 1000} s (${state})` : this.nc.isClosed() ? 'the NATS connection closed' : 'aborted';
      throw storeError(StoreErrorCodes.Unavailable, `list ${this.name}/${prefix || '*'}: ${why}`, { bucket: this.name, prefix });
    }
    const records = [...found.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { records, revision };
  }

  /** list returns the current records below `prefix` ("" for all), sorted by key. */
  async list(prefix = ''): Promise<StoreRecord<T>[]> {
    return (await this.listWithRevision(prefix)).records;
  }

  /** keys returns the keys below `prefix` that hold a value, sorted. */
  async keys(prefix = ''): Promise<string[]> {
    return (await this.list(prefix)).map((r) => r.key);
  }
}
