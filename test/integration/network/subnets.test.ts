// The subnet allocator against a real nats-server with gitcell's authorization: nodes register,
// the control plane gives each a task subnet in the `subnets` bucket, an agent waits for its own
// (obtainSubnet) and gets the same one back after the store lost every allocation; a node asking
// for another's subnet is refused, cannot write the bucket itself, and cannot make the endpoints
// loop trust its task IPs in another node's range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeRecord, NodeSubnetRecord } from '../../../api/index.ts';
import { ipv4InSubnet, silentLogger } from '../../../lib/index.ts';
import { connect, Informer, openAgentStore, openClusterStore } from '../../../store/index.ts';
import { makeTask, runEndpoints, runSubnets, type DesiredRecord } from '../../../reconciler/index.ts';
import { resolveTemplate } from '../../../reconciler/template/index.ts';
import { obtainSubnet, registrationRecord, subnetFile } from '../../../agent/index.ts';
import { startTrustCluster } from '../../helpers/identities.ts';
import { waitFor } from '../../helpers/wait.ts';

const record = (name: string, subnet?: string): NodeRecord => ({
  name, labels: {}, taints: [], capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30 }, allocatable: { cpuMillis: 1000, memoryBytes: 2 ** 30 },
  addresses: [], ...(subnet ? { subnet } : {}), runtime: { runc: '', kernel: '', agentVersion: '' }, images: [], startedAt: '', heartbeatAt: new Date().toISOString(),
});

test('the control plane allocates node subnets; an agent waits for its own and keeps it across a store that lost them; a thief is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-subnets-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const prefix = 'subn_';
  const c = await startTrustCluster(t, ['node-a', 'node-b', 'thief'], prefix);
  const nc = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => nc.close());
  const store = await openClusterStore<DesiredRecord>(nc, { prefix, log: silentLogger() });
  const ac = new AbortController();
  const loop = runSubnets({ store, signal: ac.signal, clusterCidr: '10.240.0.0/16', log: silentLogger() });
  t.after(async () => {
    ac.abort();
    await loop.done;
  });
  const seen = new Informer<NodeSubnetRecord>(store.subnets, { signal: ac.signal, log: silentLogger() });
  await seen.synced;

  // node-a's agent, under its own credential, registers and waits for its subnet.
  const agentNc = await connect({ servers: c.server.url, creds: c.ids.agentSeedFiles.get('node-a')! });
  t.after(() => agentNc.close());
  const agentStore = await openAgentStore(agentNc, 'node-a', { prefix, timeoutMs: 5000 });
  const stateDir = join(dir, 'node-a');
  const obtain = () => obtainSubnet({
    node: 'node-a', stateDir, store: agentStore, signal: ac.signal, log: silentLogger(), timeoutMs: 60_000,
    record: (req) => registrationRecord({ node: 'node-a', stateDir, capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30 } }, req),
  });
  const early = registrationRecord({ node: 'node-a', stateDir, capacity: { cpuMillis: 1, memoryBytes: 1 }, storeIncarnation: 'inc-1', subnet: '10.1.0.0/24' }, undefined);
  assert.equal(early.storeIncarnation, undefined, 'registering is not re-reporting its tasks after a rebuild');
  assert.equal(early.subnet, undefined);
  const { subnet: a, clusterCidr } = await obtain();
  assert.equal(clusterCidr, '10.240.0.0/16');
  assert.ok(ipv4InSubnet(a.split('/')[0]!, '10.240.0.0/16') && a.endsWith('/24'), a);
  assert.equal((await readFile(subnetFile(stateDir), 'utf8')).trim(), a, 'kept in the node dir');

  // node-b asks for a subnet of its own (a static --subnet): given. The thief asks for node-b's: refused.
  await store.nodes.put('node-b', record('node-b', '10.77.1.0/24'));
  await waitFor('node-b allocated', () => seen.get('node-b')?.subnet === '10.77.1.0/24');
  const thiefNc = await connect({ servers: c.server.url, creds: c.ids.agentSeedFiles.get('thief')! });
  t.after(() => thiefNc.close());
  const thief = await openAgentStore(thiefNc, 'thief', { prefix, timeoutMs: 5000 });
  await thief.nodes.put('thief', record('thief', '10.77.1.128/25'));
  const refused = await waitFor('thief refused', () => seen.get('thief')?.problem);
  assert.match(refused, /overlaps node node-b's 10\.77\.1\.0\/24; refused/);
  assert.equal(seen.get('thief')?.subnet, undefined);
  // Nor can it write its own allocation (or anyone's): the bucket is the control plane's.
  const denied = (err: Error) => /permission|authorization|timeout/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`);
  const forged: NodeSubnetRecord = { node: 'thief', subnet: '10.77.1.0/24', updatedAt: '' };
  await assert.rejects((thief.subnets as unknown as { put(k: string, v: NodeSubnetRecord): Promise<unknown> }).put('thief', forged), denied);
  assert.equal(seen.get('thief')?.subnet, undefined);

  // Nor can it make the endpoints loop trust a task IP in node-b's range: IPs count by the allocation.
  const endpoints = runEndpoints({ store, signal: ac.signal, tickMs: 200, log: silentLogger() });
  t.after(() => endpoints.done);
  const { template, templateHash } = resolveTemplate({ image: 'web:1', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: 80 }] }, { type: 'service' });
  const task = makeTask({ kind: 'Job', namespace: 'default', name: 'web', generation: 1, revision: 'c1', type: 'service', priority: 300, template, templateHash }, 'default.web.0-abc', 0, Date.now());
  await store.tasks.put(task.id, task);
  await store.bindings.put(task.id, { taskId: task.id, node: 'thief', boundAt: new Date().toISOString(), schedulerTerm: 1 });
  await thief.status.put(`thief.${task.id}`, { taskId: task.id, node: 'thief', templateHash, state: 'running', ready: true, restarts: 0, ip: '10.77.1.130', updatedAt: new Date().toISOString() });
  await store.desired.put('Service.default.web', {
    key: 'Service.default.web', generation: 1, specHash: 'h', origin: { type: 'git', revision: 'c1' }, revision: 'c1', updatedAt: new Date().toISOString(),
    object: { apiVersion: 'gitcell.io/v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } as DesiredRecord['object'],
  });
  const svc = await waitFor('the web Service record', async () => (await store.services.get('default.web'))?.value);
  assert.deepEqual(svc.endpoints, [], 'a task IP in another node\'s subnet is never an endpoint');
  assert.match(JSON.stringify(svc.notReady), /node thief has no task subnet allocated/);

  // The store loses every allocation (a rebuild): node-a asks for the one it kept and gets it back.
  for (const k of ['node-a', 'node-b', 'thief']) await store.subnets.delete(k).catch(() => undefined);
  await store.nodes.delete('node-a');
  await waitFor('the allocation gone', () => seen.get('node-a') === undefined);
  assert.equal((await obtain()).subnet, a, 'the same subnet after the store lost its allocations');

  // A node that leaves (its record deleted) loses its allocation.
  await store.nodes.delete('node-b');
  await waitFor('node-b released', () => seen.get('node-b') === undefined && seen.get('node-a')?.subnet === a);
});
