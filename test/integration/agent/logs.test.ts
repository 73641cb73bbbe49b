// Log streaming over a real nats-server: serveLogs on one connection, streamLogs on another, over
// log files in runtime/container's format (timestamped lines, stdout.log and stderr.log, rotation).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../../helpers/nats.ts';
import { serveLogs, streamLogs } from '../../../agent/index.ts';

const server = await startNatsServer();
const dir = await mkdtemp(join(tmpdir(), 'gitcell-logs-'));
const agentNc = await connect({ servers: server.url });
const clientNc = await connect({ servers: server.url });
after(async () => {
  await agentNc.close();
  await clientNc.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

let live = true;
let present = true;
const sub = serveLogs(agentNc, 'n1', { source: (taskId) => (taskId === 't1' && present ? { dir, live: () => live } : undefined), archived: () => [] }, 50);
after(() => sub.unsubscribe());
await agentNc.flush();

const ts = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}Z`;

async function fetch(req: { taskId: string; tail?: number; follow?: boolean }): Promise<string> {
  let out = '';
  await streamLogs(clientNc, 'n1', req, (c) => { out += Buffer.from(c).toString(); });
  return out;
}

test('whole log in time order across rotated files and both streams, and --tail N', async () => {
  await writeFile(join(dir, 'stdout.log.1'), `${ts(1)} out one\n${ts(3)} out two\n`);
  await writeFile(join(dir, 'stdout.log'), `${ts(5)} out three\n`);
  await writeFile(join(dir, 'stderr.log'), `${ts(2)} err one\n${ts(4)} err two\n`);
  assert.equal(await fetch({ taskId: 't1' }), 'out one\nerr one\nout two\nerr two\nout three\n');
  assert.equal(await fetch({ taskId: 't1', tail: 2 }), 'err two\nout three\n');
  assert.equal(await fetch({ taskId: 't1', tail: 0 }), '');
});

test('a large log arrives complete', async () => {
  await rm(join(dir, 'stdout.log.1'), { force: true });
  await writeFile(join(dir, 'stderr.log'), '');
  await writeFile(join(dir, 'stdout.log'), Array.from({ length: 20_000 }, (_, i) => `${ts(10)} line ${i}`).join('\n') + '\n');
  const out = await fetch({ taskId: 't1' });
  const lines = out.trimEnd().split('\n');
  assert.equal(lines.length, 20_000);
  assert.equal(lines[19_999], 'line 19999');
});

test('unknown task: a clear error from the agent', async () => {
  await assert.rejects(fetch({ taskId: 'nope' }), { code: 'E_TASK_NOT_FOUND' });
});

test('a node without an agent: E_AGENT_UNREACHABLE', async () => {
  await assert.rejects(streamLogs(clientNc, 'ghost', { taskId: 't1' }, () => {}, { timeoutMs: 500 }), { code: 'E_AGENT_UNREACHABLE' });
});

test('follow streams appended lines and ends once the container has exited', async () => {
  await writeFile(join(dir, 'stdout.log'), `${ts(20)} first\n`);
  let out = '';
  live = true;
  const done = streamLogs(clientNc, 'n1', { taskId: 't1', follow: true, tail: 1 }, (c) => { out += Buffer.from(c).toString(); });
  while (!out.includes('first')) await new Promise((r) => setTimeout(r, 20));
  await appendFile(join(dir, 'stdout.log'), `${ts(21)} second\n`);
  while (!out.includes('second')) await new Promise((r) => setTimeout(r, 20));
  await appendFile(join(dir, 'stderr.log'), `${ts(22)} last words\n`);
  live = false; // the container exited: the follow drains and ends
  await done;
  assert.equal(out, 'first\nsecond\nlast words\n');
  present = true;
});
