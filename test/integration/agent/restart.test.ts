// Restart safety: `gitcell agent` as a real process, killed with SIGKILL while tasks run, then
// started again: it adopts the running containers (same PIDs, no restart counted) and carries on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { agentProcessFixture } from '../../helpers/agent-process.ts';
import { buildBusyboxImage, leaks, makeTask, probe, waitFor } from '../../helpers/agent.ts';
import { nodeTableName, removeCgroup } from '../../../agent/index.ts';
import { conmonsUnder } from '../../helpers/warm.ts';

requireRoot();
requireTools('runc', 'ip');

const { suffix, node, prefix, dir, stateDir, imageRoot, subnet, bridge, server, nc, store, runtime, network } = await agentProcessFixture('r');
await buildBusyboxImage(imageRoot, 'localhost/busybox:test');

let agent: ChildProcess | undefined;
function startAgent(): ChildProcess {
  const child = spawn(process.execPath, ['cli/bin.js', 'agent', '--node', node, '--nats', server.url, '--prefix', prefix, '--node-dir', stateDir,
    '--image-cache', imageRoot, '--subnet', subnet, '--bridge', bridge, '--labels', 'zone=test', '--capacity', 'cpu=2,memory=2Gi'],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GITCELL_LOG_LEVEL: 'warn' } });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  child.on('exit', (code, sig) => { if (code && code !== 0) console.error(`agent exited ${code ?? sig}: ${err}`); });
  return child;
}

after(async () => {
  agent?.kill('SIGKILL');
  runtime.close(); // closed: the last remove takes the runtime's tmpfs state directory with it
  for (const c of await runtime.list()) await runtime.remove(c.id);
  await network.destroy();
  // A killed agent leaves its services table for the next one (agent/services.ts): the test owns it.
  try {
    execFileSync('/usr/sbin/nft', ['delete', 'table', 'ip', nodeTableName(node, stateDir)], { stdio: 'ignore' });
  } catch {
    // never made, or already gone
  }
  await removeCgroup(`gitcell/${node}`).catch(() => {});
  await nc.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

test('kill -9 of the agent: after restart same container PIDs, no restarts counted, and it keeps converging', async () => {
  agent = startAgent();
  const rec = await waitFor('node registered', async () => (await store.nodes.get(node))?.value, 120_000);
  assert.equal(rec.labels.zone, 'test');
  assert.equal(rec.capacity.cpuMillis, 2000);
  const specs = [0, 1, 2].map((i) => makeTask(`keep-${suffix}-${i}`, 'localhost/busybox:test', ['sh', '-c', 'while true; do sleep 1; done']));
  // One with a readiness probe: it must stay ready across the agent's restart.
  specs[0] = makeTask(`keep-${suffix}-0`, 'localhost/busybox:test', ['sh', '-c', 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www'],
    { probes: { readiness: probe({ httpGet: { path: '/', port: 8080 } }) } });
  for (const s of specs) {
    await store.tasks.put(s.id, s);
    await store.bindings.put(s.id, { taskId: s.id, node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
  }
  const before = await waitFor('all running', async () => {
    const all = await Promise.all(specs.map(async (s) => (await store.status.get(`${node}.${s.id}`))?.value));
    return all.every((x) => x?.state === 'running') && all[0]!.ready ? all : undefined;
  }, 120_000);

  // The warm monitor's spare (the next container's conmon, runtime/container/warm-monitor.ts) waits.
  const containers = join(stateDir, 'runtime', 'containers');
  const spares = () => readdirSync(containers).filter((d) => !existsSync(join(containers, d, 'container.json')));
  const spare = await waitFor('a spare conmon waiting', () => spares().find((d) => conmonsUnder(join(containers, d)).length > 0), 30_000);
  agent.kill('SIGKILL');
  await new Promise((r) => agent!.once('exit', r));
  // Its owner gone, the spare ends before runc and leaves its directory; a minute old (backdated
  // here), the next agent removes it: it adopts containers itself, never through adopt().
  await waitFor('the spare conmon gone with its owner', () => conmonsUnder(join(containers, spare)).length === 0, 30_000);
  const old = new Date(Date.now() - 120_000);
  utimesSync(join(containers, spare), old, old);
  const beat = (await store.nodes.get(node))!.value.heartbeatAt;
  agent = startAgent();
  await waitFor('the killed agent\'s spare directory removed by the new agent', () => !existsSync(join(containers, spare)), 30_000);
  await waitFor('heartbeat from the new agent', async () => (await store.nodes.get(node))!.value.heartbeatAt !== beat, 120_000);
  // The new agent re-asserts every status once it has recovered; then compare.
  await waitFor('statuses rewritten after restart', async () => {
    const all = await Promise.all(specs.map(async (s) => (await store.status.get(`${node}.${s.id}`))?.value));
    return all.every((x, i) => x && Date.parse(x.updatedAt) > Date.parse(before[i]!.updatedAt)) ? all : undefined;
  }, 120_000);
  for (const [i, s] of specs.entries()) {
    const now = (await store.status.get(`${node}.${s.id}`))!.value;
    assert.equal(now.state, 'running', `${s.id} still running`);
    assert.equal(now.pid, before[i]!.pid, `${s.id} keeps its process`);
    assert.equal(now.restarts, 0, `${s.id} was not restarted`);
    assert.equal(now.containerId, before[i]!.containerId);
  }
  assert.equal((await store.status.get(`${node}.${specs[0]!.id}`))!.value.ready, true, 'still ready after the restart');
  // The adopted agent still converges: unbinding stops and removes everything.
  for (const s of specs) {
    await store.bindings.delete(s.id);
    await store.tasks.delete(s.id);
  }
  await waitFor('statuses removed', async () => (await store.status.keys(node)).length === 0, 120_000);
  assert.deepEqual(await leaks({ node, dir, runtime, network }, `gitcell/${node}`, `gc-${node}-`), [], 'no container, mount, cgroup, netns or IP left');
});

test('kill -9 during a graceful stop: the restarted agent finishes the stop', async () => {
  const s = makeTask(`stub-${suffix}`, 'localhost/busybox:test', ['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'], { terminationGracePeriodSeconds: 3 });
  await store.tasks.put(s.id, s);
  await store.bindings.put(s.id, { taskId: s.id, node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
  await waitFor('running', async () => (await store.status.get(`${node}.${s.id}`))?.value.state === 'running', 120_000);
  await store.bindings.delete(s.id);
  await waitFor('stopping', async () => (await store.status.get(`${node}.${s.id}`))?.value.state === 'stopping', 120_000);
  agent!.kill('SIGKILL');
  await new Promise((r) => agent!.once('exit', r));
  agent = startAgent();
  await waitFor('stop finished and task forgotten', async () => !(await store.status.get(`${node}.${s.id}`)), 120_000);
  await store.tasks.delete(s.id);
  assert.deepEqual(await leaks({ node, dir, runtime, network }, `gitcell/${node}`, `gc-${node}-`), []);
});
