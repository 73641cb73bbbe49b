/**
 * One socket write per event-loop turn for a NATS connection.
 *
 * nats.js (@nats-io/nats-core 3.4.0, lib/protocol.js `ProtocolHandler.sendCommand`) buffers each
 * command and flushes the buffer from a `queueMicrotask` scheduled by the first command after a
 * flush: every microtask checkpoint that issues a command costs one socket write (one syscall, one
 * write request, one nats-server read). A gitcell process issues its puts, publishes and acks from
 * many promise continuations per turn, so that is a write per continuation: `writeBuffer` was ~31
 * CPU-s summed over the processes of a 10,000-node commit (run 6, bench/README.md). nats.js has no
 * option for this (`pendingLimit`, hidden, is only the size at which it flushes inline).
 *
 * `flushPerTurn` replaces the connection's `sendCommand` with the same buffering but a flush on
 * `setImmediate`: everything issued in one turn of the event loop (timers, I/O callbacks and all their
 * microtasks) leaves in one write at the turn's check phase. Unchanged: a buffer over `pendingLimit`
 * (32 KiB) is flushed at once; `flush()` (PING) and heartbeats flush synchronously, as before; while
 * disconnected the buffer is kept and flushed on reconnect by nats.js itself; `close()` first flushes
 * what this turn issued (nats.js' microtask would have run before close reached the socket).
 *
 *   publish/request/sub ─► outbound buffer ─┬─ ≥ pendingLimit ─► write now
 *                                           └─ first of the turn ─► setImmediate ─► one write
 *
 * It relies on nats.js internals, so it is kept here alone: `nc.protocol` (the ProtocolHandler) with
 * `outbound` (DataBuffer: fill, size), `pendingLimit`, `flushPending()`, `close()`. A connection
 * whose handler lacks them is left as nats.js made it (`flushPerTurn` returns false).
 * test/integration/store/turn-flush.test.ts pins the nats-core version and the source of the
 * replaced method, and checks the behaviour on a real nats-server: an upgrade that changes them
 * fails there first.
 */
import type { NatsConnection } from '@nats-io/transport-node';

/** NATS_CORE_VERSION is the @nats-io/nats-core version whose internals `flushPerTurn` was written against. */
export const NATS_CORE_VERSION = '3.4.0';

/** the part of nats-core's ProtocolHandler that flushPerTurn reads and replaces */
interface Handler {
  outbound: { fill(a: Uint8Array, ...bufs: Uint8Array[]): void; size(): number };
  pendingLimit: number;
  flushPending(): void;
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
  close(err?: Error): Promise<void>;
}

const encoder = new TextEncoder();
const patched = new WeakSet<object>();

/**
 * flushPerTurn makes `nc` write its commands once per event-loop turn (see the file comment).
 * Idempotent; returns whether the connection now flushes per turn.
 */
export function flushPerTurn(nc: NatsConnection): boolean {
  const ph = handlerOf(nc);
  if (!ph) return false;
  if (patched.has(ph)) return true;
  patched.add(ph);
  let scheduled = false;
  const flushTurn = (): void => {
    scheduled = false;
    ph.flushPending();
  };
  // nats-core's sendCommand, with setImmediate in place of queueMicrotask and a flag in place of
  // "the buffer was empty" (a buffer left while disconnected would otherwise never schedule one).
  ph.sendCommand = (cmd, ...payloads) => {
    ph.outbound.fill(typeof cmd === 'string' ? encoder.encode(cmd) : cmd, ...payloads);
    if (ph.outbound.size() >= ph.pendingLimit) ph.flushPending();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flushTurn);
    }
  };
  const close = ph.close.bind(ph);
  ph.close = (err) => {
    ph.flushPending();
    return close(err);
  };
  return true;
}

/** handlerOf is the connection's ProtocolHandler when it has every member flushPerTurn uses. */
function handlerOf(nc: NatsConnection): Handler | undefined {
  const ph = (nc as unknown as { protocol?: Partial<Handler> }).protocol;
  const ok = !!ph && typeof ph.sendCommand === 'function' && typeof ph.flushPending === 'function' && typeof ph.close === 'function' &&
    typeof ph.pendingLimit === 'number' && typeof ph.outbound?.fill === 'function' && typeof ph.outbound.size === 'function';
  return ok ? (ph as Handler) : undefined;
}
