/**
 * The two things a watch asks of a delivered message's headers (its status code and its
 * `KV-Operation`), read from the header bytes in place. nats.js decodes a message's whole header
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
 */
import type { Msg } from '@nats-io/transport-node';

/** The internals of nats.js' MsgImpl read here: the header block's length (-1: none) and the raw data. */
interface RawMsg {
  _msg?: { hdr?: unknown };
  _rdata?: unknown;
}

const CR = 0x0d;
/** "NATS/1.0".length: where a status code would begin, after a space */
const VERSION_END = 8;
const OP_LINE = new TextEncoder().encode('\r\nKV-Operation:');
const utf8 = new TextDecoder();

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
  const block = headerBlock(msg);
  if (block === undefined) return 0;
  // A block that says only "NATS/1.0" before its first line end has no status.
  if (block !== null && block.length > VERSION_END && block[VERSION_END] === CR) return 0;
  return msg.headers?.code ?? 0;
}

/** kvOperation is `msg.headers?.get('KV-Operation') ?? ''` (DEL, PURGE, or '' for a put) without decoding the headers. */
export function kvOperation(msg: Msg): string {
  const block = headerBlock(msg);
  if (block === undefined) return '';
  if (block === null) return msg.headers?.get('KV-Operation') ?? '';
  const at = indexOf(block, OP_LINE);
  if (at < 0) return '';
  const from = at + OP_LINE.length;
  let to = block.indexOf(CR, from);
  if (to < 0) to = block.length;
  // As nats.js: the line's text after the colon, trimmed (a value holds no CR: it ends the line).
  return utf8.decode(block.subarray(from, to)).trim();
}

/** indexOf finds `needle` in `hay` (a header block: tens of bytes), -1 if absent. */
function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
