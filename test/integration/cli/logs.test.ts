// `gitcell logs` through the binary against a real agent (runc, a registry-pulled busybox image):
// one task, every task of job/NAME with a [task] prefix, -l, --timestamps, --since, --tail, -f,
// GITCELL_CLUSTER_DIR honoured like get, and a closed pipe.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { makeTask, waitFor, type TestNode } from '../../helpers/agent.ts';
import { startImageNode, type ImageNode } from '../../helpers/image-node.ts';
import { BIN } from '../../helpers/up.ts';
import { run, shell } from './client-helpers.ts';

requireRoot();
requireTools('runc', 'ip', 'docker-registry');

let fx: ImageNode;
let n: TestNode;
let remote: string;
before(async () => {
  fx = await startImageNode();
  ({ node: n, image: remote } = fx);
});
after(async () => {
  const left = fx ? await fx.stop() : [];
  assert.deepEqual(left, []);
});

test('gitcell logs: a task, job/NAME, -l, --timestamps, --since, --tail, -f', async () => {
  const job = `web${Date.now() % 100000}`;
  const tasks = [0, 1].map((i) => ({ ...makeTask(`${job}-${i}`, remote, ['sh', '-c', `for i in 1 2 3; do echo task${i} line $i; done; while true; do sleep 1; done`]), owner: { kind: 'Job' as const, name: job }, jobKey: `Job/default/${job}`, index: i }));
  const ticker = makeTask(`tick${Date.now() % 100000}`, remote, ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done']);
  for (const t of [...tasks, ticker]) await n.bind(t);
  for (const t of [...tasks, ticker]) await n.waitStatus(t.id, 'running', (s) => s.state === 'running', 120_000);
  const f = ['--nats', fx.server.url, '--prefix', n.store.prefix];

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

test('gitcell logs --previous shows the attempt a restart replaced; a finished task\'s log is kept after it is gone (TASK, job/NAME, cronjob/NAME)', async () => {
  const f = ['--nats', fx.server.url, '--prefix', n.store.prefix];
  // Crashes (printing a random id) until a deadline, then runs steadily: "previous" is a crash.
  // The deadline leaves a loaded machine time to start the container at least once before it (at
  // +4 s, a first start after the deadline never crashed and the wait for a restart timed out).
  const deadline = Math.floor(Date.now() / 1000) + 15;
  const flappy = makeTask(`flap${Date.now() % 100000}`, remote, ['sh', '-c', `if [ $(date +%s) -lt ${deadline} ]; then echo crash $(cat /proc/sys/kernel/random/uuid); exit 3; fi; echo steady; while true; do sleep 1; done`]);
  await n.bind(flappy);
  await n.waitStatus(flappy.id, 'running after restarts', (s) => s.state === 'running' && s.restarts >= 1, 120_000);
  const current = await waitFor('steady line', async () => { const r = await run(['logs', flappy.id, ...f]); return r.stdout === 'steady\n' ? r : undefined; });
  assert.equal(current.code, 0);
  const previous = await run(['logs', flappy.id, '--previous', ...f]);
  assert.equal(previous.code, 0, previous.stderr);
  assert.match(previous.stdout, /^crash [0-9a-f-]{36}\n$/);

  // A batch task that finished and was deleted (as the Job controller does once the job is done).
  const stamp = Math.floor(Date.now() / 60_000);
  const run1 = { ...makeTask(`nightly-${stamp}-0`, remote, ['sh', '-c', 'echo report written'], {}, 'batch'), owner: { kind: 'Job' as const, name: `nightly-${stamp}` }, jobKey: `Job/default/nightly-${stamp}` };
  await n.bind(run1);
  await n.waitStatus(run1.id, 'succeeded', (s) => s.state === 'succeeded', 120_000);
  await n.unbind(run1.id);
  await waitFor('forgotten', async () => !(await n.status(run1.id)));
  for (const target of [run1.id, `job/nightly-${stamp}`, 'cronjob/nightly']) {
    const r = await run(['logs', target, ...f]);
    assert.equal(r.stdout, 'report written\n', `${target}: ${r.stderr}`);
  }
  const noPrevious = await run(['logs', run1.id, '--previous', ...f]);
  assert.equal(noPrevious.code, 1);
  assert.match(noPrevious.stderr, /no node runs it or kept its log \(of a previous attempt\)/);
  await n.unbind(flappy.id);
  await waitFor('removed', async () => !(await n.status(flappy.id)));
});
