// The node agent end to end: real nats-server, runc, overlayfs and CNI. Bindings and task specs are
// written directly to the store, standing in for the reconciler and the scheduler.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { startNatsServer, type NatsServer } from '../../helpers/nats.ts';
import { leaks, makeTask, probe, startTestNode, waitFor, type TestNode } from '../../helpers/agent.ts';
import { runCommand } from '../../../runtime/index.ts';
import { streamLogs } from '../../../agent/index.ts';

requireRoot();
requireTools('runc', 'ip');

let server: NatsServer;
let n: TestNode;
before(async () => {
  server = await startNatsServer();
  n = await startTestNode(server);
});
after(async () => {
  const left = n ? await leaks(n) : [];
  await n?.close();
  await server?.stop();
  assert.deepEqual(left, [], 'nothing left behind once every task is unbound');
});

const HTTPD = ['sh', '-c', 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www'];
const uid = () => Math.random().toString(36).slice(2, 8);

test('a bound task runs, gets an IP, reports usage, and a readiness HTTP probe turns it ready', async () => {
  const spec = makeTask(`web-${uid()}`, n.image, HTTPD, { probes: { readiness: probe({ httpGet: { path: '/', port: 8080 }, initialDelaySeconds: 0 }) } });
  await n.bind(spec);
  const running = await n.waitStatus(spec.id, 'running', (s) => s.state === 'running');
  assert.ok(running.ip && running.pid, 'IP and pid reported');
  assert.equal(running.templateHash, spec.templateHash);
  const ready = await n.waitStatus(spec.id, 'ready', (s) => s.ready);
  assert.equal(ready.restarts, 0);
  await n.waitStatus(spec.id, 'usage', (s) => !!s.usage && s.usage.memoryBytes > 0);
  // The agent's own endpoints.
  const health = await fetch(`${n.agent.httpUrl}/healthz`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`${n.agent.httpUrl}/metrics`)).text();
  assert.match(metrics, /gitcell_agent_tasks\{[^}]*state="running"/);
  assert.match(metrics, /gitcell_agent_probes_total\{[^}]*kind="readiness",result="success"/);
  // Per-task series (task-metrics.ts), labelled with the task's job, read from the cgroup samples.
  const series = (name: string) => Number(new RegExp(`^${name}\\{namespace="default",job="${spec.id}",task="${spec.id}",template="${spec.templateHash}",node="${n.node}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
  assert.equal(series('gitcell_task_ready'), 1, metrics);
  assert.equal(series('gitcell_task_running'), 1);
  assert.equal(series('gitcell_task_restarts_total'), 0);
  assert.equal(series('gitcell_task_cpu_request_millicores'), 10);
  assert.ok(series('gitcell_task_memory_bytes') > 0, 'memory working set from the cgroup');
  assert.ok(series('gitcell_task_cpu_seconds_total') >= 0, 'CPU time from the cgroup');
  // Node registration.
  const node = (await n.store.nodes.get(n.node))!.value;
  assert.equal(node.subnet, n.subnet);
  assert.match(node.runtime.runc, /\d+\.\d+/);
  await n.unbind(spec.id);
  await waitFor('status removed', async () => !(await n.status(spec.id)));
});

test('a failing liveness probe restarts the task with backoff; a restart keeps the IP', async () => {
  const spec = makeTask(`live-${uid()}`, n.image, HTTPD, { probes: { liveness: probe({ tcpSocket: { port: 9999 }, failureThreshold: 2 }) } });
  await n.bind(spec);
  const running = await n.waitStatus(spec.id, 'running', (s) => s.state === 'running' && !!s.ip);
  const first = await n.waitStatus(spec.id, 'first restart', (s) => s.restarts >= 1);
  assert.match(first.message ?? '', /liveness|restarting|running/);
  // Each attempt has a network namespace of its own (runc's); the address is asked for again.
  const again = await n.waitStatus(spec.id, 'running again', (s) => s.restarts >= 1 && s.state === 'running' && !!s.ip, 90_000);
  assert.equal(again.ip, running.ip, 'the restarted attempt has the address of the first');
  const second = await n.waitStatus(spec.id, 'second restart', (s) => s.restarts >= 2, 90_000);
  assert.ok(second.restarts >= 2);
  await n.unbind(spec.id);
  await waitFor('status removed', async () => !(await n.status(spec.id)));
});

test('batch tasks: exit codes reported, Never is honoured, OnFailure retries then succeeds', async () => {
  const fail = makeTask(`fail-${uid()}`, n.image, ['sh', '-c', 'echo failing; exit 3'], { restartPolicy: 'Never' }, 'batch');
  const ok = makeTask(`ok-${uid()}`, n.image, ['sh', '-c', 'exit 0'], { restartPolicy: 'OnFailure' }, 'batch');
  await n.bind(fail);
  await n.bind(ok);
  const f = await n.waitStatus(fail.id, 'failed', (s) => s.state === 'failed');
  assert.equal(f.exitCode, 3);
  assert.equal(f.restarts, 0, 'Never: no restart');
  const s = await n.waitStatus(ok.id, 'succeeded', (x) => x.state === 'succeeded');
  assert.equal(s.exitCode, 0);
  // Logs of a finished task through NATS.
  let out = '';
  await streamLogs(n.store.nc, n.node, { taskId: fail.id }, (c) => { out += Buffer.from(c).toString(); });
  assert.equal(out, 'failing\n');
  const retry = makeTask(`retry-${uid()}`, n.image, ['sh', '-c', 'exit 1'], { restartPolicy: 'OnFailure' }, 'batch');
  await n.bind(retry);
  const r = await n.waitStatus(retry.id, 'retried', (x) => x.restarts >= 1);
  assert.equal(r.exitCode, 1);
  for (const id of [fail.id, ok.id, retry.id]) await n.unbind(id);
  for (const id of [fail.id, ok.id, retry.id]) await waitFor(`${id} status removed`, async () => !(await n.status(id)));
});

test('graceful stop: a task trapping SIGTERM exits at once, one ignoring it is killed after the grace period', async () => {
  const polite = makeTask(`polite-${uid()}`, n.image, ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'], { terminationGracePeriodSeconds: 30 });
  const stubborn = makeTask(`stubborn-${uid()}`, n.image, ['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'], { terminationGracePeriodSeconds: 2 });
  await n.bind(polite);
  await n.bind(stubborn);
  await n.waitStatus(polite.id, 'running', (s) => s.state === 'running');
  await n.waitStatus(stubborn.id, 'running', (s) => s.state === 'running');
  const stops = async (forced: boolean) => (await n.agent.metrics.stops.get()).values.find((v) => v.labels.reason === 'unbound' && v.labels.forced === String(forced))?.value ?? 0;
  const gentle0 = await stops(false);
  const forced0 = await stops(true);
  await n.unbind(polite.id);
  await waitFor('polite gone', async () => !(await n.status(polite.id)), 90_000);
  assert.equal(await stops(false), gentle0 + 1, 'it exited on SIGTERM');
  assert.equal(await stops(true), forced0, 'no SIGKILL needed');
  const t1 = Date.now();
  await n.unbind(stubborn.id);
  await waitFor('stubborn gone', async () => !(await n.status(stubborn.id)), 90_000);
  assert.ok(Date.now() - t1 >= 2000, 'stubborn task got its 2 s grace period');
  assert.equal(await stops(true), forced0 + 1, 'then SIGKILL');
});

test('two tasks reach each other by IP; their IPs differ; IPs are released on removal', async () => {
  const a = makeTask(`a-${uid()}`, n.image, HTTPD);
  const b = makeTask(`b-${uid()}`, n.image, ['sh', '-c', 'while true; do sleep 1; done']);
  await n.bind(a);
  await n.bind(b);
  const sa = await n.waitStatus(a.id, 'running', (s) => s.state === 'running' && !!s.ip);
  const sb = await n.waitStatus(b.id, 'running', (s) => s.state === 'running' && !!s.ip);
  assert.notEqual(sa.ip, sb.ip);
  // From b's network namespace (runc made it: its process's) to a's address (the path b's processes take).
  assert.ok(sb.pid, 'b reports its pid');
  const r = await waitFor('wget from b to a', async () => {
    const res = await runCommand('nsenter', [`--net=/proc/${sb.pid}/ns/net`, 'busybox', 'wget', '-q', '-O', '-', `http://${sa.ip}:8080/`], { timeoutMs: 5000 });
    return res.code === 0 ? res : undefined;
  }, 60_000);
  assert.equal(r.stdout, 'hello\n');
  const held = await n.network.allocations();
  assert.ok(held.has(sa.ip!) && held.has(sb.ip!));
  await n.unbind(a.id);
  await n.unbind(b.id);
  await waitFor('IPs released', async () => {
    const now = await n.network.allocations();
    return !now.has(sa.ip!) && !now.has(sb.ip!);
  });
});

test('a changed template replaces the task: one instance at a time', async () => {
  const v1 = makeTask(`upd-${uid()}`, n.image, ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
  await n.bind(v1);
  const s1 = await n.waitStatus(v1.id, 'v1 running', (s) => s.state === 'running');
  const v2 = { ...v1, templateHash: `${v1.templateHash}x` };
  await n.store.tasks.put(v2.id, v2);
  const s2 = await n.waitStatus(v1.id, 'v2 running', (s) => s.state === 'running' && s.templateHash === v2.templateHash);
  assert.notEqual(s2.containerId, s1.containerId);
  const mine = (await n.runtime.list()).filter((c) => c.annotations['io.gitcell.task'] === v1.id && c.status !== 'stopped');
  assert.equal(mine.length, 1, 'never two instances');
  await n.unbind(v1.id);
  await waitFor('status removed', async () => !(await n.status(v1.id)));
});

test('drain stops every task and reports it; undrain starts them again', async () => {
  const spec = makeTask(`drain-${uid()}`, n.image, ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
  await n.bind(spec);
  await n.waitStatus(spec.id, 'running', (s) => s.state === 'running');
  await n.store.nodespec.put(n.node, { cordoned: true, draining: true });
  const st = await n.waitStatus(spec.id, 'stopped by drain', (s) => s.state === 'stopped');
  assert.match(st.message ?? '', /drain/);
  await n.store.nodespec.put(n.node, { cordoned: false, draining: false });
  await n.waitStatus(spec.id, 'running again', (s) => s.state === 'running');
  await n.unbind(spec.id);
  await waitFor('status removed', async () => !(await n.status(spec.id)));
  await n.store.nodespec.delete(n.node);
});
