// Hollow nodes (cli/commands/hollow-nodes.ts): several real agents in one process over the in-memory
// runtime, following the store through one shared feed (agent/shared-feed.ts), against a real
// nats-server: each node runs exactly the tasks bound to it, a re-binding moves a task, a drained
// node stops its tasks, and a node attached after the snapshot gets its bindings.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/index.ts';
import { connect, openClusterStore } from '../../../store/index.ts';
import type { TaskStatus } from '../../../api/index.ts';
import { HollowProcess, hollowNodeNames, hollowShape } from '../../../cli/commands/hollow-nodes.ts';
import { makeTask } from '../../helpers/agent.ts';
import { MEMORY_IMAGE, uid } from '../../helpers/memory-node.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

const server = await startNatsServer();
const nc = await connect({ servers: server.url });
const prefix = `h${uid()}_`;
const store = await openClusterStore(nc, { prefix, log: silentLogger() });
const dir = await mkdtemp(join(tmpdir(), 'gitcell-hollow-'));
const options = {
  prefix: 'hol-', storePrefix: prefix, startDelayMs: 20, capacity: { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30 }, labels: { team: 'scale' },
  timings: { heartbeatMs: 500, resyncMs: 300 },
};
const hollow = new HollowProcess(nc, { ...options, nodes: 3, stateDir: join(dir, 'a') }, silentLogger());
await hollow.start();
after(async () => {
  await hollow.stop(true);
  await nc.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const [n1, n2, n3] = hollowNodeNames('hol-', 3) as [string, string, string];

async function bind(taskId: string, node: string): Promise<void> {
  await store.bindings.put(taskId, { taskId, node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
}
const statusOn = async (node: string, taskId: string): Promise<TaskStatus | undefined> => (await store.status.get(`${node}.${taskId}`))?.value;
const running = (node: string, taskId: string) => waitFor(`${taskId} running on ${node}`, async () => (await statusOn(node, taskId))?.state === 'running' || undefined, 30_000);

test('every hollow node registers with its own capacity and labels', async () => {
  const records = await waitFor('3 node records', async () => {
    const r = await store.nodes.list();
    return r.length === 3 ? r : undefined;
  }, 30_000);
  for (const [i, name] of [n1, n2, n3].entries()) {
    const rec = records.find((r) => r.key === name)!.value;
    const shape = hollowShape(i + 1, options);
    assert.equal(rec.capacity.cpuMillis, shape.capacity.cpuMillis);
    assert.equal(rec.labels.team, 'scale');
    assert.equal(rec.labels.zone, `zone-${i + 1}`);
  }
});

test('hollow nodes renew their leases every heartbeat and write their records only when they change', async () => {
  const leases = async () => new Map((await store.heartbeats.list()).map((r) => [r.key, r.revision]));
  const first = await waitFor('3 leases', async () => ((await leases()).size === 3 ? leases() : undefined), 30_000);
  const records = new Map((await store.nodes.list()).map((r) => [r.key, r.revision]));
  // Two more renewals of every lease (heartbeatMs 500): the records, unchanged, are not written again.
  await waitFor('every lease renewed twice', async () => {
    const now = await leases();
    return [...first].every(([k, rev]) => (now.get(k) ?? 0) > rev) && (await store.heartbeats.lastRevision()) >= Math.max(...first.values()) + 6 || undefined;
  }, 30_000);
  assert.deepEqual(new Map((await store.nodes.list()).map((r) => [r.key, r.revision])), records);
});

test('a task runs only on the node it is bound to, and moves with its binding', async () => {
  const spec = makeTask(`hw-${uid()}`, MEMORY_IMAGE, ['serve']);
  await store.tasks.put(spec.id, spec);
  await bind(spec.id, n2);
  await running(n2, spec.id);
  assert.equal(await statusOn(n1, spec.id), undefined);
  assert.equal(await statusOn(n3, spec.id), undefined);
  await bind(spec.id, n3);
  await running(n3, spec.id);
  await waitFor('the task gone from the old node', async () => (await statusOn(n2, spec.id)) === undefined || undefined, 30_000);
  assert.equal(hollow.running(), 1, 'one container of the task runs in the whole process');
});

test('a drained node stops its tasks; the others keep theirs', async () => {
  const a = makeTask(`da-${uid()}`, MEMORY_IMAGE, ['serve']);
  const b = makeTask(`db-${uid()}`, MEMORY_IMAGE, ['serve']);
  for (const t of [a, b]) await store.tasks.put(t.id, t);
  await bind(a.id, n1);
  await bind(b.id, n3);
  await running(n1, a.id);
  await running(n3, b.id);
  await store.nodespec.put(n1, { cordoned: false, draining: true });
  await waitFor('the drained node stopped its task', async () => ['stopped', undefined].includes((await statusOn(n1, a.id))?.state) || undefined, 30_000);
  assert.equal((await statusOn(n3, b.id))?.state, 'running');
  await store.nodespec.delete(n1);
});

test('a hollow process started after the bindings were written runs them', async () => {
  const spec = makeTask(`late-${uid()}`, MEMORY_IMAGE, ['serve']);
  await store.tasks.put(spec.id, spec);
  await bind(spec.id, 'late-00001');
  const late = new HollowProcess(nc, { ...options, prefix: 'late-', nodes: 1, stateDir: join(dir, 'late') }, silentLogger());
  await late.start();
  try {
    await running('late-00001', spec.id);
    assert.equal(late.running(), 1);
  } finally {
    await late.stop(true);
  }
});
