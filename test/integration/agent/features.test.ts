// More of the agent against real parts: an image pulled on demand from a real docker-registry, an
// exec probe through `runc exec`, an OOM kill reported, and `gitcell logs` as a command.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { makeTask, probe, waitFor, type TestNode } from '../../helpers/agent.ts';
import { startImageNode, type ImageNode } from '../../helpers/image-node.ts';

requireRoot();
requireTools('runc', 'ip', 'docker-registry');
const run = promisify(execFile);

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

test('an image missing on the node is pulled on demand from its registry', async () => {
  const spec = makeTask(`pull-${Date.now()}`, remote, ['sh', '-c', 'echo pulled; while true; do sleep 1; done']);
  await n.bind(spec);
  await n.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  assert.ok((await n.runtime.images()).includes(remote));
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});

test('an exec readiness probe runs inside the container', async () => {
  const spec = makeTask(`exec-${Date.now()}`, remote, ['sh', '-c', 'sleep 2; touch /tmp/ready; while true; do sleep 1; done'],
    { probes: { readiness: probe({ exec: { command: ['test', '-f', '/tmp/ready'] }, failureThreshold: 1 }) } });
  await n.bind(spec);
  const running = await n.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  assert.equal(running.ready, false, 'not ready before the file exists');
  await n.waitStatus(spec.id, 'ready', (s) => s.ready, 90_000);
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});

test('a task killed by the OOM killer is reported as such', async () => {
  const spec = makeTask(`oom-${Date.now()}`, remote, ['sh', '-c', 'a=xxxxxxxxxxxxxxxx; while true; do a="$a$a"; done'],
    { restartPolicy: 'Never', resources: { requests: { cpuMillis: 10, memoryBytes: 8 << 20 }, limits: { memoryBytes: 16 << 20 } } }, 'batch');
  await n.bind(spec);
  const s = await n.waitStatus(spec.id, 'OOM killed', (x) => x.state === 'failed', 120_000);
  assert.equal(s.oomKilled, true, JSON.stringify(s));
  assert.match(s.message ?? '', /OOM/);
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});

test('gitcell logs TASK --tail N prints the task log fetched from its agent', async () => {
  const spec = makeTask(`logs-${Date.now()}`, remote, ['sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; while true; do sleep 1; done']);
  await n.bind(spec);
  await n.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  const args = ['cli/bin.js', 'logs', spec.id, '--nats', fx.server.url, '--prefix', n.store.prefix];
  const all = await waitFor('all lines', async () => {
    const r = await run(process.execPath, args);
    return r.stdout.split('\n').length >= 7 ? r.stdout : undefined;
  });
  assert.equal(all.split('\n').filter((l) => l.startsWith('line')).length, 5);
  assert.match(all, /oops/);
  const tail = await run(process.execPath, [...args, '--tail', '1']);
  assert.equal(tail.stdout.split('\n').filter(Boolean).length, 1);
  await assert.rejects(run(process.execPath, ['cli/bin.js', 'logs', 'no-such-task', '--nats', fx.server.url, '--prefix', n.store.prefix]),
    (err: { code: number; stderr: string }) => err.code === 1 && /E_TASK_NOT_FOUND/.test(err.stderr));
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});

test('securityContext reaches the container: runAsNonRoot on a root image is held back with the reason; runAsUser, read-only root and dropped capabilities apply', async () => {
  const rootTask = makeTask(`nonroot-${Date.now()}`, remote, ['sh', '-c', 'sleep 100'], { securityContext: { runAsNonRoot: true } });
  await n.bind(rootTask);
  const held = await n.waitStatus(rootTask.id, 'refused', (s) => s.state === 'backoff' && /runAsNonRoot/.test(s.message ?? ''), 120_000);
  assert.match(held.message!, /runAsNonRoot is set but image .* runs as root/);
  await n.unbind(rootTask.id);
  await waitFor('removed', async () => !(await n.status(rootTask.id)));
  const ok = makeTask(`secctx-${Date.now()}`, remote, ['sh', '-c', 'id -u; touch /x 2>/dev/null && echo rw || echo ro; grep CapBnd /proc/self/status; while true; do sleep 1; done'], {
    user: '1000:1000', securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } },
  });
  await n.bind(ok);
  await n.waitStatus(ok.id, 'running', (s) => s.state === 'running', 120_000);
  const args = ['cli/bin.js', 'logs', ok.id, '--nats', fx.server.url, '--prefix', n.store.prefix];
  const out = await waitFor('three lines', async () => { const r = await run(process.execPath, args); return r.stdout.split('\n').length >= 4 ? r.stdout : undefined; });
  assert.deepEqual(out.trim().split('\n'), ['1000', 'ro', 'CapBnd:\t0000000000000400'], 'uid 1000, read-only root, only CAP_NET_BIND_SERVICE (bit 10)');
  await n.unbind(ok.id);
  await waitFor('removed', async () => !(await n.status(ok.id)));
});
