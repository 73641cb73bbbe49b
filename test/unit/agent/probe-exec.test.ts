// Probe executors against listeners on 127.0.0.1 in this process.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ResolvedProbe } from '../../../api/index.ts';
import { runProbe } from '../../../agent/index.ts';

const servers: { close(): unknown }[] = [];
after(() => { for (const s of servers) s.close(); });

async function listen(s: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}
const base = { initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };
const http = (port: number, path: string, o: Partial<ResolvedProbe> = {}): ResolvedProbe => ({ ...base, httpGet: { path, port }, ...o });

test('HTTP probe: 2xx and 3xx succeed, 4xx/5xx fail, headers are sent', async () => {
  const port = await listen(createServer((req, res) => {
    const code = Number(req.url!.slice(1)) || 200;
    if (req.url === '/hdr') res.writeHead(req.headers['x-probe'] === 'yes' ? 200 : 400).end();
    else res.writeHead(code).end();
  }));
  assert.equal((await runProbe(http(port, '/200'), { ip: '127.0.0.1' })).ok, true);
  assert.equal((await runProbe(http(port, '/302'), { ip: '127.0.0.1' })).ok, true);
  const bad = await runProbe(http(port, '/500'), { ip: '127.0.0.1' });
  assert.deepEqual(bad, { ok: false, message: 'HTTP probe returned 500' });
  assert.equal((await runProbe(http(port, '/404'), { ip: '127.0.0.1' })).ok, false);
  assert.equal((await runProbe({ ...base, httpGet: { path: '/hdr', port, headers: [{ name: 'X-Probe', value: 'yes' }] } }, { ip: '127.0.0.1' })).ok, true);
});

test('HTTP probe: a server slower than the timeout is a failure', async () => {
  const port = await listen(createServer((_req, res) => { setTimeout(() => res.writeHead(200).end(), 3000).unref(); }));
  const started = Date.now();
  const r = await runProbe(http(port, '/', { timeoutSeconds: 1 }), { ip: '127.0.0.1' });
  assert.equal(r.ok, false);
  assert.match(r.message!, /timed out/);
  assert.ok(Date.now() - started < 2500);
});

test('TCP probe: open port succeeds, closed port fails', async () => {
  const port = await listen(createTcpServer((s) => s.end()));
  assert.equal((await runProbe({ ...base, tcpSocket: { port } }, { ip: '127.0.0.1' })).ok, true);
  const closed = createTcpServer();
  const p2 = await listen(closed);
  closed.close();
  const r = await runProbe({ ...base, tcpSocket: { port: p2 } }, { ip: '127.0.0.1' });
  assert.equal(r.ok, false);
  assert.match(r.message!, /ECONNREFUSED/);
});

test('exec probe: exit 0 succeeds, others fail; no target IP fails network probes', async () => {
  assert.equal((await runProbe({ ...base, exec: { command: ['true'] } }, { exec: async () => 0 })).ok, true);
  assert.deepEqual(await runProbe({ ...base, exec: { command: ['false'] } }, { exec: async () => 1 }), { ok: false, message: 'exec probe exited with 1' });
  assert.deepEqual(await runProbe({ ...base, tcpSocket: { port: 1 } }, {}), { ok: false, message: 'task has no IP' });
  assert.equal((await runProbe(base as ResolvedProbe, {})).ok, false);
});
