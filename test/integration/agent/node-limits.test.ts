// A node's cgroup parent is limited to what the node allocates (its capacity), as kubelet limits
// kubepods: the limits are in the real cgroup files, and a task without limits of its own that tries
// to take more memory than the node offers is OOM-killed inside the parent instead of taking the host.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { startNatsServer, type NatsServer } from '../../helpers/nats.ts';
import { leaks, makeTask, startTestNode, waitFor, type TestNode } from '../../helpers/agent.ts';

requireRoot();
requireTools('runc', 'ip');

const capacity = { cpuMillis: 500, memoryBytes: 64 * 2 ** 20 };
let server: NatsServer;
let n: TestNode;
before(async () => {
  server = await startNatsServer();
  n = await startTestNode(server, { capacity });
});
after(async () => {
  const left = n ? await leaks(n) : [];
  await n?.close();
  await server?.stop();
  assert.deepEqual(left, []);
});

test('the node cgroup parent carries the node capacity as cpu quota and memory limit (cgroup v1 files)', () => {
  const parent = `gitcell-test/${n.node}`;
  const read = (f: string): string => readFileSync(`/sys/fs/cgroup/${f}`, 'utf8').trim();
  // 500 millicores over a 100 ms period = 50 ms of CPU time per period
  assert.equal(read(`cpu/${parent}/cpu.cfs_period_us`), '100000');
  assert.equal(read(`cpu/${parent}/cpu.cfs_quota_us`), '50000');
  assert.equal(read(`memory/${parent}/memory.limit_in_bytes`), String(64 * 2 ** 20));
});

test('a task with no limits of its own cannot take more memory than the node offers: OOM-killed within the parent', async () => {
  const spec = makeTask(`greedy-${Date.now()}`, n.image, ['sh', '-c', 'a=xxxxxxxxxxxxxxxx; while true; do a="$a$a"; done'], { restartPolicy: 'Never', resources: { requests: { cpuMillis: 10, memoryBytes: 16 << 20 }, limits: {} } }, 'batch');
  assert.deepEqual(spec.template.resources.limits, {}, 'no limits of its own');
  await n.bind(spec);
  const s = await n.waitStatus(spec.id, 'OOM killed', (x) => x.state === 'failed', 120_000);
  assert.equal(s.exitCode, 137, JSON.stringify(s));
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});
