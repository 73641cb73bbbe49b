// `gitcell logs` through the binary against a real agent (runc, a registry-pulled busybox image):
// one task, every task of job/NAME with a [task] prefix, -l, --timestamps, --since, --tail, -f,
// GITCELL_STATE_DIR honoured like get, and a closed pipe.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { startNatsServer, type NatsServer } from '../../helpers/nats.ts';
import { startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { buildBusyboxImage, leaks, makeTask, startTestNode, waitFor, type TestNode } from '../../helpers/agent.ts';
import { BIN } from '../../helpers/up.ts';
import { ImageStore, pushImage } from '../../../runtime/index.ts';
import { run, shell } from './client-helpers.ts';

requireRoot();
requireTools('runc', 'ip', 'docker-registry');

let server: NatsServer;
let registry: TestRegistry;
let n: TestNode;
let src: string;
let remote: string;
before(async () => {
  server = await startNatsServer();
  registry = await startRegistry();
  src = await mkdtemp(join(tmpdir(), 'gitcell-logs-src-'));
  remote = `${registry.domain}/busybox:v1`;
  await buildBusyboxImage(src, remote);
  await pushImage(new ImageStore(src), remote);
  n = await startTestNode(server);
});
after(async () => {
  const left = n ? await leaks(n) : [];
  await n?.close();
  await registry?.stop();
  await server?.stop();
  if (src) await rm(src, { recursive: true, force: true });
  assert.deepEqual(left, []);
});

test('gitcell logs: a task, job/NAME, -l, --timestamps, --since, --tail, -f', async () => {
  const job = `web${Date.now() % 100000}`;
  const tasks = [0, 1].map((i) => ({ ...makeTask(`${job}-${i}`, remote, ['sh', '-c', `for i in 1 2 3; do echo task${i} line $i; done; while true; do sleep 1; done`]), owner: { kind: 'Job' as const, name: job }, jobKey: `Job/default/${job}`, index: i }));
  const ticker = makeTask(`tick${Date.now() % 100000}`, remote, ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done']);
  for (const t of [...tasks, ticker]) await n.bind(t);
  for (const t of [...tasks, ticker]) await n.waitStatus(t.id, 'running', (s) => s.state === 'running', 120_000);
  const f = ['--nats', server.url, '--prefix', n.store.prefix];

  const one = await waitFor('three lines of task 0', async () => {
    const r = await run(['logs', tasks[0]!.id, ...f]);
    return r.stdout.split('\n').filter(Boolean).length >= 3 ? r : undefined;
  });
  assert.equal(one.stdout, 'task0 line 1\ntask0 line 2\ntask0 line 3\n');

  const both = await waitFor('both tasks', async () => {
    const r = await run(['logs', `job/${job}`, ...f]);
    return r.stdout.split('\n').filter(Boolean).length >= 6 ? r : undefined;
  });
  for (const i of [0, 1]) assert.match(both.stdout, new RegExp(`^\\[${tasks[i]!.id}\\] task${i} line 3$`, 'm'));

  const ts = await run(['logs', tasks[1]!.id, '--timestamps', '--tail', '1', ...f]);
  assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z? task1 line 3\n$/);
  const recent = await run(['logs', tasks[1]!.id, '--since', '1h', ...f]);
  assert.equal(recent.stdout.split('\n').filter(Boolean).length, 3);
  const future = await run(['logs', tasks[1]!.id, '--since', new Date(Date.now() + 3_600_000).toISOString(), ...f]);
  assert.equal(future.stdout, '');
  const bad = await run(['logs', tasks[1]!.id, '--since', 'yesterday', ...f]);
  assert.equal(bad.code, 2);
  const none = await run(['logs', 'job/nope', ...f]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /Job default\/nope has no task placed on a node/);

  // -f follows new output; Ctrl-C ends it.
  const follow = spawn(process.execPath, [BIN, 'logs', ticker.id, '-f', '--tail', '1', ...f], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  follow.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => follow.once('exit', resolve));
  after(async () => {
    if (follow.exitCode === null) follow.kill('SIGKILL');
    await exited;
  });
  const first = await waitFor('a first tick', () => /tick (\d+)/.exec(out)?.[1]);
  await waitFor('a later tick, followed', () => [...out.matchAll(/tick (\d+)/g)].some((m) => Number(m[1]) > Number(first)));
  const closed = await shell(`$GITCELL logs job/${job} ${f.join(' ')} | head -1`);
  assert.equal(closed.stderr, '');
  assert.equal(closed.code, 0);
  follow.kill('SIGINT');
  assert.equal(await exited, 0);
  for (const t of [...tasks, ticker]) await n.unbind(t.id);
  for (const t of [...tasks, ticker]) await waitFor('removed', async () => !(await n.status(t.id)));
});
