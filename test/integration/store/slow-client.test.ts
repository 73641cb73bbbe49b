// The embedded server keeps a client that reads slower than it is written to (store/embedded.ts
// SLOW_CLIENT_CONFIG): a client owed more than nats-server's default 64 MiB was cut as a "slow
// consumer" and every watch it held started over with a full replay (a process of 10,000-node hollow
// agents following two busy buckets, whose flow-control windows alone are 2 x 32 MiB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/index.ts';
import { connect, startEmbedded } from '../../../store/index.ts';

const MIB = 1024 * 1024;
/** more than nats-server's default max_pending (64 MiB) beyond what the kernel's socket buffers take */
const OWED = 112 * MIB;
const CHUNK = 64 * 1024;

/** rawSubscriber subscribes to `subject` over a bare socket, then stops reading it (paused), as a starved process does. */
async function rawSubscriber(url: string, subject: string): Promise<{ socket: Socket; received: () => number; closed: () => boolean }> {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect(Number(port), hostname);
  let bytes = 0;
  let text = '';
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  const ponged = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no PONG from the server within 10 s')), 10_000);
    socket.on('data', (d: Buffer) => {
      bytes += d.length;
      if (text.length < 4096) text += d.toString('latin1');
      if (text.includes('PONG')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.write(`CONNECT {"verbose":false,"pedantic":false,"name":"slow reader"}\r\nSUB ${subject} 1\r\nPING\r\n`);
  await ponged;
  socket.pause();
  return { socket, received: () => bytes, closed: () => closed };
}

test('a client that stops reading while it is owed 112 MiB is kept, and gets everything once it reads again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-slow-client-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const server = await startEmbedded({ stateDir: join(dir, '.gitcell'), log: silentLogger() });
  t.after(() => server.stop());
  const slow = await rawSubscriber(server.url, 'big');
  t.after(() => slow.socket.destroy());
  const nc = await connect({ servers: server.url, name: 'fast writer' });
  t.after(() => nc.close());
  const payload = new Uint8Array(CHUNK);
  for (let sent = 0; sent < OWED; sent += CHUNK) {
    nc.publish('big', payload);
    if (sent % (4 * MIB) === 0) await nc.flush();
  }
  // The PONG comes after the server handled every publish: it has queued what the paused socket did
  // not take (with the default limit it cut the client there; a paused socket sees that only once it reads).
  await nc.flush();
  slow.socket.resume();
  const deadline = Date.now() + 30_000;
  while (slow.received() < OWED && !slow.closed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(slow.closed(), false, `the server cut the slow client after ${(slow.received() / MIB).toFixed(1)} MiB`);
  // (the bytes also count the INFO, the PONG and each message's MSG line: a little over OWED in all)
  assert.ok(slow.received() >= OWED, `received ${(slow.received() / MIB).toFixed(1)} of ${OWED / MIB} MiB in 30 s`);
});
