// store/turn-flush.ts on a real nats-server: a gitcell connection writes what one event-loop turn
// issued in one socket write (where raw nats.js writes once per microtask checkpoint), and flush(),
// requests, request timeouts, the pending limit, close and reconnect behave as before. The first test
// pins the nats.js internals the module replaces: an upgrade that changes them fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { connect as rawConnect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { connect } from '../../../store/connect.ts';
import { NATS_CORE_VERSION } from '../../../store/turn-flush.ts';
import { startNatsServer } from '../../helpers/nats.ts';

/** the methods flushPerTurn replaces or calls, as nats-core 3.4.0 has them (whitespace collapsed) */
const PINNED = {
  sendCommand: 'sendCommand(cmd, ...payloads) { const len = this.outbound.length(); let buf; if (typeof cmd === "string") { buf = (0, encoders_1.encode)(cmd); } else { buf = cmd; } this.outbound.fill(buf, ...payloads); if (len === 0) { queueMicrotask(() => { this.flushPending(); }); } else if (this.outbound.size() >= this.pendingLimit) { // flush inline this.flushPending(); } }',
  flushPending: 'flushPending() { if (!this.infoReceived || !this.connected) { return; } if (this.outbound.size()) { const d = this.outbound.drain(); this.transport.send(d); } }',
};

type Protocol = { transport: { send(d: Uint8Array): void }; pendingLimit: number } & Record<string, unknown>;
const protocolOf = (nc: NatsConnection): Protocol => (nc as unknown as { protocol: Protocol }).protocol;

/** countWrites counts the frames the connection's current transport hands its socket. */
function countWrites(nc: NatsConnection): { n: number } {
  const counter = { n: 0 };
  const transport = protocolOf(nc).transport;
  const send = transport.send.bind(transport);
  transport.send = (d) => {
    counter.n++;
    send(d);
  };
  return counter;
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** collect gathers a subscription's messages (as text) until `n` arrived; fails after 20 s. */
async function collect(sub: Subscription, n: number): Promise<string[]> {
  const got: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${got.length} of ${n} messages on ${sub.getSubject()} after 20 s`)), 20_000)));
  const read = (async () => {
    for await (const m of sub) {
      got.push(m.string());
      if (got.length === n) break;
    }
    return got;
  })();
  try {
    return await Promise.race([read, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test('the nats.js internals turn-flush relies on are the pinned ones', () => {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(join(dirname(require.resolve('@nats-io/nats-core')), '..', 'package.json'), 'utf8')) as { version: string };
  assert.equal(pkg.version, NATS_CORE_VERSION, 'nats-core changed: check store/turn-flush.ts against its ProtocolHandler, then update NATS_CORE_VERSION and PINNED');
  const { ProtocolHandler } = require('@nats-io/nats-core/internal') as { ProtocolHandler: { prototype: Record<string, () => void> } };
  for (const [name, text] of Object.entries(PINNED)) {
    assert.equal(ProtocolHandler.prototype[name]!.toString().replace(/\s+/g, ' '), text, `ProtocolHandler.${name} changed`);
  }
});

test('a turn of publishes across several microtask checkpoints leaves in one write (raw nats.js: one per checkpoint)', async (t) => {
  const server = await startNatsServer({ t, jetstream: false });
  const nc = await connect({ servers: server.url, name: 'turn-flush' });
  const raw = await rawConnect({ servers: server.url });
  const reader = await rawConnect({ servers: server.url });
  t.after(() => Promise.all([nc.close(), raw.close(), reader.close()]));
  const sub = reader.subscribe('turn.>');
  await reader.flush();
  const got = collect(sub, 20);

  const ours = countWrites(nc);
  const theirs = countWrites(raw);
  for (let i = 0; i < 10; i++) {
    nc.publish('turn.ours', String(i));
    raw.publish('turn.raw', String(i));
    await Promise.resolve(); // a microtask checkpoint between publishes, as promise continuations make
  }
  assert.equal(ours.n, 0, 'nothing written before the turn ends');
  await nextTurn(); // queued after the flush: the writes are done by the end of the publishing turn
  assert.equal(ours.n, 1, 'one write for the turn');
  assert.equal(theirs.n, 10, 'raw nats.js: one write per checkpoint (what this test tells apart)');
  const messages = await got;
  assert.deepEqual(messages.filter((_, i) => i % 2 === 0).concat(messages.filter((_, i) => i % 2 === 1)).sort(), [...Array(10).keys()].flatMap((i) => [String(i), String(i)]).sort());
});

test('flush(), request/reply, request timeouts and the pending limit work as before', async (t) => {
  const server = await startNatsServer({ t, jetstream: false });
  const nc = await connect({ servers: server.url, name: 'turn-flush' });
  const responder = await rawConnect({ servers: server.url });
  t.after(() => Promise.all([nc.close(), responder.close()]));
  const echo = responder.subscribe('echo');
  void (async () => {
    for await (const m of echo) m.respond(`re:${m.string()}`);
  })();
  responder.subscribe('silent'); // answers nothing: requests to it time out
  await responder.flush();

  const writes = countWrites(nc);
  nc.publish('x', 'a');
  const flushed = nc.flush(); // PING written at once, with the publish
  assert.equal(writes.n, 1, 'flush writes synchronously');
  await flushed;
  assert.equal((await nc.request('echo', 'hi', { timeout: 5000 })).string(), 're:hi');
  await assert.rejects(nc.request('silent', 'x', { timeout: 200 }), /timeout/i);

  // Over pendingLimit (32 KiB) the buffer is written at once, without waiting for the turn's end.
  const before = writes.n;
  const big = new Uint8Array(protocolOf(nc).pendingLimit);
  nc.publish('x', 'small');
  nc.publish('x', big);
  assert.equal(writes.n, before + 1, 'a full buffer is written inline');
});

test('a publish right before close() is delivered; after a server restart the connection publishes again', async (t) => {
  const server = await startNatsServer({ t, jetstream: false });
  const reader = await rawConnect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  t.after(() => reader.close());
  const sub = reader.subscribe('last');
  const again = reader.subscribe('again');
  await reader.flush();

  const first = await connect({ servers: server.url, name: 'turn-flush' });
  first.publish('last', 'before-close');
  await first.close();
  assert.deepEqual(await collect(sub, 1), ['before-close']);

  const nc = await connect({ servers: server.url, name: 'turn-flush' });
  t.after(() => nc.close());
  const reconnected = (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') return;
  })();
  await server.kill();
  await server.restart();
  await reconnected;
  // The reader reconnects on its own schedule: publish until it hears one (each turn's publish is one write).
  const heard = collect(again, 1);
  let done = false;
  void heard.then(() => (done = true));
  const deadline = Date.now() + 20_000;
  while (!done && Date.now() < deadline) {
    nc.publish('again', 'after-restart');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(await heard, ['after-restart']);
});
