// A node reporting on another node's task, against the real controller loop on a real nats-server
// with gitcell's authorization: node-2 (its own agent credential, allowed to write only status keys
// `node-2.*`) reports node-1's batch task as failed, later than node-1's report. Counted, that
// would fail the Job (and, for a service, roll back a good commit); it is refused with an event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusKey, type AnyObject, type Binding, type NodeRecord, type TaskStatus } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { connect, openAgentStore, openClusterStore } from '../../../store/index.ts';
import { nextDesiredRecord, objectStatusKey, runControllers, type DesiredRecord, type SyncRecord } from '../../../reconciler/index.ts';
import type { WorkloadStatus } from '../../../reconciler/controllers/index.ts';
import { startTrustCluster } from '../../helpers/identities.ts';
import { waitFor } from '../../helpers/wait.ts';

const record = (name: string): NodeRecord => ({
  name, labels: {}, taints: [], capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30, tasks: 10 }, allocatable: { cpuMillis: 1000, memoryBytes: 2 ** 30, tasks: 10 },
  addresses: [], runtime: { runc: '', kernel: '', agentVersion: '' }, images: [], startedAt: '', heartbeatAt: new Date().toISOString(),
});

test("a node's status for a task bound to another node is refused (TaskStatusRefused) and never counted", async (t) => {
  const prefix = 'tstat_';
  const c = await startTrustCluster(t, ['node-1', 'node-2'], prefix);
  const nc = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => nc.close());
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix, log: silentLogger() });
  for (const n of ['node-1', 'node-2']) await store.nodes.put(n, record(n));
  const job = {
    apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'report', namespace: 'shop' },
    spec: { type: 'batch', completions: 1, parallelism: 1, backoffLimit: 0, template: { image: 'report:1', restartPolicy: 'Never' } },
  } as AnyObject;
  await store.desired.put('Job.shop.report', nextDesiredRecord(undefined, job, { type: 'git', revision: 'r1' }, new Date().toISOString()));
  const ac = new AbortController();
  const loop = runControllers({ store, signal: ac.signal, source: 'main', tickMs: 200, log: silentLogger() });
  t.after(async () => {
    ac.abort();
    await loop.done;
  });
  const taskId = await waitFor('the batch task', async () => (await store.tasks.list()).find((r) => r.value.owner.name === 'report')?.key);
  const spec = (await store.tasks.get(taskId))!.value;
  const binding: Binding = { taskId, node: 'node-1', boundAt: new Date().toISOString(), schedulerTerm: 1 };
  await store.bindings.put(taskId, binding);

  const agentOf = async (node: string) => {
    const anc = await connect({ servers: c.server.url, creds: c.ids.agentSeedFiles.get(node)! });
    t.after(() => anc.close());
    return openAgentStore(anc, node, { prefix, timeoutMs: 2000 });
  };
  const status = (node: string, state: TaskStatus['state'], at: number, extra: Partial<TaskStatus> = {}): TaskStatus => ({
    taskId, node, templateHash: spec.templateHash, state, ready: state === 'running', restarts: 0, updatedAt: new Date(at).toISOString(), ...extra,
  });
  const node1 = await agentOf('node-1');
  const node2 = await agentOf('node-2');
  const now = Date.now();
  await node1.status.put(statusKey('node-1', taskId), status('node-1', 'running', now));
  const workload = async () => (await store.sync.get(objectStatusKey('Job', 'shop', 'report')))?.value as WorkloadStatus | undefined;
  await waitFor('the Job sees node-1 running its task', async () => (await workload())?.batch?.active === 1);

  // The attack: node-2 may write its own status keys only, and reports node-1's task as failed, later.
  const denied = (err: Error) => /permission|authorization/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`);
  await assert.rejects(node2.status.put(statusKey('node-1', taskId), status('node-1', 'failed', now + 5000, { exitCode: 1 })), denied);
  await node2.status.put(statusKey('node-2', taskId), status('node-2', 'failed', now + 5000, { exitCode: 1, finishedAt: new Date(now + 5000).toISOString() }));
  const refused = await waitFor('a TaskStatusRefused event', async () =>
    (await store.events.recent({ limit: 100 })).map((e) => e.value).find((e) => e.reason === 'TaskStatusRefused'),
  );
  assert.equal(refused.type, 'Warning');
  assert.deepEqual(refused.object, { kind: 'Node', name: 'node-2' });
  assert.match(refused.message, new RegExp(`status of task ${taskId.replace(/\./g, '\\.')} written by node node-2, but the task is bound to node-1: refused`));
  // Passes after the forged report: the Job still runs its one task, nothing failed.
  const after = loop.passes();
  await waitFor('three more controller passes', () => loop.passes() >= after + 3);
  const w = (await workload())!;
  assert.equal(w.batch?.phase, 'Running', JSON.stringify(w.batch));
  assert.equal(w.batch?.failed, 0);

  // The bound node's own report still counts: the Job completes.
  await node1.status.put(statusKey('node-1', taskId), status('node-1', 'succeeded', now + 6000, { exitCode: 0, finishedAt: new Date(now + 6000).toISOString() }));
  await waitFor('the Job completes on node-1\'s report', async () => (await workload())?.batch?.phase === 'Complete');
});
