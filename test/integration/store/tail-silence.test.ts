// A watch tells a consumer that is gone from one whose heartbeats this process has not read yet
// (store/tail.ts confirmSilence): a process busy for longer than three heartbeat periods used to make
// every consumer of its connection again, and each old one went on delivering until it expired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, jsonCodec } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

interface N {
  n: number;
}

const HEARTBEAT_MS = 100;
/** the value whose delivery keeps the reader busy */
const BUSY = 2;

function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

async function setup(t: import('node:test').TestContext) {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'tail-silence' });
  t.after(() => nc.close());
  const cfg = { name: `s_${randomBytes(4).toString('hex')}`, history: 4, timeoutMs: 2000 };
  const bucket = await Bucket.open<N>(nc, cfg, jsonCodec<N>(), { log: silentLogger() });
  const w = bucket.watch({ heartbeatMs: HEARTBEAT_MS });
  t.after(() => w.close());
  const seen: number[] = [];
  let synced!: () => void;
  const isSynced = new Promise<void>((r) => (synced = r));
  void (async () => {
    for await (const ev of w) {
      if (ev.type === 'synced') synced();
      else if (ev.type === 'put') {
        seen.push(ev.value.n);
        // Busy in the middle of reading the socket, as a loaded process is: no timer and no read runs
        // here while the server goes on sending heartbeats; the next look at the clock is a timer's.
        if (ev.value.n === BUSY) busyFor(10 * HEARTBEAT_MS);
      }
    }
  })();
  await isSynced;
  /** delivered waits (at most 10 s) until the watch delivered `n` */
  const delivered = async (n: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!seen.includes(n)) {
      if (Date.now() > deadline) throw new Error(`the watch never delivered ${n}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { nc, bucket, w, cfg, delivered };
}

test('a process busy for 10 heartbeat periods keeps its consumer: the silence was only unread', async (t) => {
  const { bucket, w, delivered } = await setup(t);
  await bucket.put('k', { n: BUSY });
  await delivered(BUSY);
  await bucket.put('k', { n: 3 });
  await delivered(3);
  // Let the watchdog look a few more times after the busy stretch.
  await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
  assert.equal(w.restarts, 0, 'the consumer was made again although it had only not been read');
});

test('a consumer that is really gone is made again, and the watch goes on', async (t) => {
  const { nc, bucket, w, cfg, delivered } = await setup(t);
  const jsm = await jetstreamManager(nc);
  for await (const c of jsm.consumers.list(`KV_${cfg.name}`)) await jsm.consumers.delete(`KV_${cfg.name}`, c.name);
  const deadline = Date.now() + 10_000;
  while (w.restarts === 0) {
    if (Date.now() > deadline) throw new Error('the watch never noticed its consumer was gone');
    await new Promise((r) => setTimeout(r, 20));
  }
  await bucket.put('k', { n: 4 });
  await delivered(4);
});
