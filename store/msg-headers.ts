/**
 * What a watch reads of every delivered message, read from nats.js' message bytes in place: the two
 * things it asks of the headers (the status code and `KV-Operation`), the reply subject's bytes (for
 * ack-subject.ts) and the key at the end of the subject (`subjectTail`). nats.js decodes a message's whole header
 * block into a map of validated keys and values at the first touch of `msg.headers` (~2.5 µs), and
 * every task and binding a client writes by CAS carries `Nats-Expected-Last-Subject-Sequence`, stored
 * with it and delivered to every watch of the bucket: ~1 M such deliveries over the 10,000-node
 * benchmark's commit, on every process, to learn "no status, no KV-Operation".
 *
 * The bytes are those of nats.js' own message (`MsgImpl`: the block's length and the raw data);
 * for any other shape, and for every status message (idle heartbeats, flow control: rare), the
 * answer is nats.js' own `msg.headers`. The results equal that decode's (unit-tested against it):
 *
 *   "NATS/1.0\r\n" (no status) ─► code 0       "NATS/1.0 100 Idle Heartbeat\r\n" ─► msg.headers.code
 *   "\r\nKV-Operation:" <value> "\r\n" ─► value, trimmed (the first such line; the key's case exact)
 *
 * nats.js makes `msg.subject` and `msg.reply` strings with a TextDecoder at their first read (~0.3 µs
 * each), and the key was then cut out of the subject and copied flat again (Buffer round trip): now
 * the key is one latin1 string made from the subject's bytes (~0.25 against ~0.75 µs with its map
 * lookup), the reply is parsed from its bytes (ack-subject.ts), and the header block is read
 * without a subarray (an object each).
 */
import type { Msg } from '@nats-io/transport-node';

/** The internals of nats.js' MsgImpl read here: the subject and reply bytes, the header block's length (-1: none), the raw data. */
interface RawMsg {
  _msg?: { hdr?: unknown; subject?: unknown; reply?: unknown };
  _rdata?: unknown;
}

const CR = 0x0d;
/** "NATS/1.0".length: where a status code would begin, after a space */
const VERSION_END = 8;
const OP_LINE = new TextEncoder().encode('\r\nKV-Operation:');
const utf8 = new TextDecoder();
const encoder = new TextEncoder();
/** Node's own latin1 decode of a byte range (what `buf.toString('latin1', from, to)` calls), for any Uint8Array */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, from: number, to: number) => string }).latin1Slice;

/**
 * headerBlock returns a message's header bytes, `undefined` when it has none, or `null` when the
 * message is not one whose bytes can be read (then ask `msg.headers`).
 */
export function headerBlock(msg: Msg): Uint8Array | undefined | null {
  const raw = msg as unknown as RawMsg;
  const hdr = raw._msg?.hdr;
  if (typeof hdr !== 'number' || !(raw._rdata instanceof Uint8Array)) return null;
  if (hdr < 0) return undefined;
  return raw._rdata.subarray(0, hdr);
}

/** headerStatus is `msg.headers?.code ?? 0` without decoding the headers of a message with no status. */
export function headerStatus(msg: Msg): number {
  const raw = msg as unknown as RawMsg;
  const hdr = raw._msg?.hdr;
  const data = raw._rdata;
  if (typeof hdr === 'number' && data instanceof Uint8Array) {
    if (hdr < 0) return 0;
    // A block that says only "NATS/1.0" before its first line end has no status.
    if (hdr > VERSION_END && data[VERSION_END] === CR) return 0;
  }
  return msg.headers?.code ?? 0;
}

/** kvOperation is `msg.headers?.get('KV-Operation') ?? ''` (DEL, PURGE, or '' for a put) without decoding the headers. */
export function kvOperation(msg: Msg): string {
  const raw = msg as unknown as RawMsg;
  const hdr = raw._msg?.hdr;
  const data = raw._rdata;
  if (typeof hdr !== 'number' || !(data instanceof Uint8Array)) return msg.headers?.get('KV-Operation') ?? '';
  if (hdr < 0) return '';
  const at = indexOf(data, hdr, OP_LINE);
  if (at < 0) return '';
  const from = at + OP_LINE.length;
  let to = data.indexOf(CR, from);
  if (to < 0 || to > hdr) to = hdr;
  // As nats.js: the line's text after the colon, trimmed (a value holds no CR: it ends the line).
  return utf8.decode(data.subarray(from, to)).trim();
}

/** replyBytes is the bytes of `msg.reply` (empty when it has none), read in place for a nats.js message. */
export function replyBytes(msg: Msg): Uint8Array {
  const reply = (msg as unknown as RawMsg)._msg?.reply;
  if (reply instanceof Uint8Array) return reply;
  return encoder.encode(msg.reply ?? '');
}

/**
 * subjectTail is `msg.subject.substring(from)` (`from` past an ASCII prefix) as a flat string of its
 * own: a substring is a slice that keeps the whole subject alive (an informer's map of 100,000 keys
 * kept 100,000 subjects, ~56 B more per key, measured with heap snapshots). Made from the subject's
 * bytes: latin1 when they are ASCII (keys are: validateKey), else UTF-8 as nats.js decodes them.
 */
export function subjectTail(msg: Msg, from: number): string {
  const subject = (msg as unknown as RawMsg)._msg?.subject;
  if (subject instanceof Uint8Array) return isAscii(subject, from) ? latin1Slice.call(subject, from, subject.length) : utf8.decode(subject.subarray(from));
  return Buffer.from(msg.subject.substring(from)).toString(); // another shape: a copy, flat
}

function isAscii(b: Uint8Array, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i]! > 0x7f) return false;
  return true;
}

/** indexOf finds `needle` in `hay[0, end)` (a header block: tens of bytes), -1 if absent. */
function indexOf(hay: Uint8Array, end: number, needle: Uint8Array): number {
  const first = needle[0]!;
  for (let i = 0; i + needle.length <= end; i++) {
    if (hay[i] !== first) continue;
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
