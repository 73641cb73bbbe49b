// Log streaming over a real nats-server: serveLogs on one connection, streamLogs on another.
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

const file = join(dir, 'task.log');
let current: string | undefined = file;
const sub = serveLogs(agentNc, 'n1', (taskId) => (taskId === 't1' ? current : undefined), 50);
after(() => sub.unsubscribe());
await agentNc.flush();

async function fetch(req: { taskId: string; tail?: number; follow?: boolean }, signal?: AbortSignal): Promise<string> {
  let out = '';
  await streamLogs(clientNc, 'n1', req, (c) => { out += Buffer.from(c).toString(); }, signal ? { signal } : {});
  return out;
}

test('whole log, and --tail N', async () => {
  await writeFile(file, Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n') + '\n');
  const all = await fetch({ taskId: 't1' });
  assert.equal(all.split('\n').length, 1001);
  assert.equal(await fetch({ taskId: 't1', tail: 2 }), 'line 998\nline 999\n');
});

test('unknown task: a clear error from the agent', async () => {
  await assert.rejects(fetch({ taskId: 'nope' }), { code: 'E_TASK_NOT_FOUND' });
});

test('a node without an agent: E_AGENT_UNREACHABLE', async () => {
  await assert.rejects(streamLogs(clientNc, 'ghost', { taskId: 't1' }, () => {}, { timeoutMs: 500 }), { code: 'E_AGENT_UNREACHABLE' });
});

test('follow streams appended output and ends when the log goes away', async () => {
  await writeFile(file, 'first\n');
  let out = '';
  const done = streamLogs(clientNc, 'n1', { taskId: 't1', follow: true, tail: 1 }, (c) => { out += Buffer.from(c).toString(); });
  while (!out.includes('first')) await new Promise((r) => setTimeout(r, 20));
  await appendFile(file, 'second\n');
  while (!out.includes('second')) await new Promise((r) => setTimeout(r, 20));
  current = undefined; // the task is gone from this agent
  await done;
  current = file;
  assert.equal(out, 'first\nsecond\n');
});
