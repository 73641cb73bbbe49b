/**
 * Records: every value the store writes is a JSON envelope `{"schema": N, "data": ...}`. The schema
 * number lets a newer gitcell change a record's shape while an older reader refuses what it cannot
 * understand (reported and skipped) instead of misreading it. Pure functions, no I/O.
 */
import { StoreErrorCodes, storeError } from './errors.ts';
import type { GitcellError } from '../lib/index.ts';

/** RecordCodec describes one bucket's records: the schema this code writes and how to read data. */
export interface RecordCodec<T> {
  /** schema is the version this code writes; records with a higher version are refused. */
  readonly schema: number;
  /**
   * decode checks (and may migrate from an older `schema`) the envelope's data; it throws (any error,
   * its message is reported) when the data is not a valid T. Default: accept as is.
   */
  decode?(data: unknown, schema: number): T;
  /**
   * encode returns the JSON text of a value, exactly `JSON.stringify(value)` (byte for byte), for
   * codecs that can make it cheaper (the task buckets: shared-parts.ts). Default: JSON.stringify.
   */
  encode?(value: T): string;
}

/** Envelope is the stored JSON shape of a record. */
export interface Envelope {
  schema: number;
  data: unknown;
}

/** jsonCodec returns a RecordCodec for `schema` with an optional validating decode. */
export function jsonCodec<T>(schema = 1, decode?: (data: unknown, schema: number) => T): RecordCodec<T> {
  return decode ? { schema, decode } : { schema };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** encodeRecord serialises `value` in an envelope of the codec's schema. */
export function encodeRecord<T>(codec: RecordCodec<T>, value: T): Uint8Array {
  // The same text as JSON.stringify of the envelope: `schema` is an integer, `data` comes second.
  if (codec.encode && value !== undefined) return encoder.encode(`{"schema":${codec.schema},"data":${codec.encode(value)}}`);
  return encoder.encode(JSON.stringify({ schema: codec.schema, data: value }));
}

/** DecodeResult is a decoded value or the reason it could not be decoded. */
export type DecodeResult<T> = { ok: true; value: T; schema: number } | { ok: false; reason: string };

/** decodeRecord parses stored bytes; it never throws: a bad record comes back with its reason. */
export function decodeRecord<T>(codec: RecordCodec<T>, bytes: Uint8Array): DecodeResult<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    return { ok: false, reason: `not valid UTF-8 JSON (${(err as Error).message})` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, reason: 'not a record envelope (expected a JSON object with "schema" and "data")' };
  }
  const env = parsed as Partial<Envelope>;
  if (typeof env.schema !== 'number' || !Number.isInteger(env.schema) || env.schema < 1) {
    return { ok: false, reason: 'field "schema": missing or not a positive integer' };
  }
  if (!('data' in env)) return { ok: false, reason: 'field "data": missing' };
  if (env.schema > codec.schema) {
    return { ok: false, reason: `field "schema": version ${env.schema} is newer than ${codec.schema}, which this gitcell understands` };
  }
  if (!codec.decode) return { ok: true, value: env.data as T, schema: env.schema };
  try {
    return { ok: true, value: codec.decode(env.data, env.schema), schema: env.schema };
  } catch (err) {
    return { ok: false, reason: `field "data": ${(err as Error)?.message ?? String(err)}` };
  }
}

/** InvalidRecord describes a stored record the store refused to hand out. */
export interface InvalidRecord {
  bucket: string;
  key: string;
  revision: number;
  reason: string;
}

/** invalidRecordError turns an InvalidRecord into the GitcellError that get() throws. */
export function invalidRecordError(r: InvalidRecord): GitcellError {
  return storeError(StoreErrorCodes.InvalidRecord, `${r.bucket}/${r.key} revision ${r.revision}: ${r.reason}`, { ...r });
}

// NATS KV key tokens: letters, digits and -/_= ; tokens are joined by dots.
const KEY_TOKEN = /^[-/_=a-zA-Z0-9]+$/;

/** validateKey throws E_INVALID_KEY unless `key` is dot-joined non-empty KV tokens (no wildcards). */
export function validateKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw storeError(StoreErrorCodes.InvalidKey, 'key must be a non-empty string', { key });
  }
  for (const token of key.split('.')) {
    if (!KEY_TOKEN.test(token)) {
      throw storeError(StoreErrorCodes.InvalidKey, `key "${key}": token "${token}" must be non-empty and use only letters, digits, "-", "/", "_", "="`, { key });
    }
  }
}

/**
 * keyFilter turns a key prefix into a NATS subject filter on keys: "" matches every key, "a.b"
 * matches every key below it ("a.b.c", "a.b.c.d", not "a.b" itself: NATS 2.9 consumers take one
 * filter). A prefix containing wildcards ("*", a final ">") is taken as a filter as is.
 */
export function keyFilter(prefix: string): string {
  if (prefix === '' || prefix === '>') return '>';
  const tokens = prefix.split('.');
  tokens.forEach((t, i) => {
    if (t === '*' || (t === '>' && i === tokens.length - 1)) return;
    if (!KEY_TOKEN.test(t)) {
      throw storeError(StoreErrorCodes.InvalidKey, `key prefix "${prefix}": token "${t}" is not a valid key token`, { prefix });
    }
  });
  if (tokens.includes('>') || tokens.includes('*')) return prefix;
  return `${prefix}.>`;
}

/** keyOf joins key parts with dots, refusing parts that contain dots or wildcards. */
export function keyOf(...parts: string[]): string {
  for (const p of parts) {
    if (!KEY_TOKEN.test(p)) {
      throw storeError(StoreErrorCodes.InvalidKey, `key part "${p}" must be one token (letters, digits, "-", "/", "_", "=")`, { parts });
    }
  }
  return parts.join('.');
}
