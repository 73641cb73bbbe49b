// The attack of issue 13 against the real secret distributor on a real nats-server with gitcell's
// authorization: holding only node-1's agent credential, delete and re-put nodes.node-1 with
// name "node-2" and an attacker RSA key, hoping node-2's Secrets get re-sealed to that key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binding, NodeRecord, NodeSecretRecord, TaskSpec } from '../../../api/cluster.ts';
import type { Secret } from '../../../api/manifests.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, nodeSecretsBucket, objectCodec, openAgentStore, openClusterStore } from '../../../store/index.ts';
import { Keyring, keyIdOf, openValue, sealValue } from '../../../secrets/index.ts';
import { nextDesiredRecord, runSecretDistributor, type DesiredRecord } from '../../../reconciler/index.ts';
import { startTrustCluster } from '../../helpers/identities.ts';
import { waitFor } from '../../helpers/wait.ts';

const FAST = { modulusLength: 2048 };

function task(id: string): TaskSpec {
  return {
    id, namespace: 'shop', owner: { kind: 'Job', name: 'web' }, jobKey: 'Job/shop/web', index: 0, priority: 500, type: 'service', templateHash: 'h', generation: 1, createdAt: '',
    template: { image: 'busybox', env: [], resources: { requests: { cpuMillis: 10, memoryBytes: 1 }, limits: {} }, ports: [], probes: {}, secretMounts: [{ secretName: 'db', mountPath: '/run/secrets/db' }], nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 1 },
  };
}

const record = (name: string, pem: string): NodeRecord => ({
  name, labels: {}, taints: [], capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30, tasks: 10 }, allocatable: { cpuMillis: 1000, memoryBytes: 2 ** 30, tasks: 10 },
  addresses: [], runtime: { runc: '', kernel: '', agentVersion: '' }, images: [], startedAt: '', heartbeatAt: new Date().toISOString(), sealingKey: pem,
});

test('node-name spoofing: node-1 re-registers as "node-2" with its own key; the distributor refuses it and never seals node-2\'s Secret to that key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-spoof-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const prefix = 'spoof_';
  const c = await startTrustCluster(t, ['node-1', 'node-2'], prefix);
  const nc = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => nc.close());
  const store = await openClusterStore<DesiredRecord>(nc, { prefix, log: silentLogger() });
  for (const n of ['node-1', 'node-2']) await Bucket.open(nc, { name: nodeSecretsBucket(n, prefix) }, objectCodec());
  const cluster = await Keyring.open(join(dir, 'cluster'), FAST);
  const node1 = await Keyring.open(join(dir, 'node-1'), FAST);
  const node2 = await Keyring.open(join(dir, 'node-2'), FAST);
  const attacker = await Keyring.open(join(dir, 'attacker'), FAST);
  const secret: Secret = {
    apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop' },
    spec: { encryptedData: { password: sealValue(cluster.publicKeyPem(), { namespace: 'shop', name: 'db', key: 'password' }, 'node-2-only') } },
  };
  await store.desired.put('Secret.shop.db', nextDesiredRecord(undefined, secret as never, { type: 'git', revision: 'r1' }, new Date().toISOString()));
  await store.nodes.put('node-1', record('node-1', node1.publicKeyPem()));
  await store.nodes.put('node-2', record('node-2', node2.publicKeyPem()));
  await store.tasks.put('shop.web.0', task('shop.web.0'));
  const binding: Binding = { taskId: 'shop.web.0', node: 'node-2', boundAt: '', schedulerTerm: 1 };
  await store.bindings.put('shop.web.0', binding);

  const abort = new AbortController();
  t.after(() => abort.abort());
  runSecretDistributor({ store, keyring: cluster, signal: abort.signal, log: silentLogger() });
  const bucket2 = await Bucket.bind<NodeSecretRecord>(nc, { name: nodeSecretsBucket('node-2', prefix) }, objectCodec<NodeSecretRecord>());
  const first = await waitFor('node-2\'s copy', async () => (await bucket2.get('shop.db'))?.value);
  assert.equal(first.nodeKeyId, keyIdOf(node2.publicKeyPem()));

  // The attack, with node-1's credential only.
  const agentNc = await connect({ servers: c.server.url, creds: c.ids.agentSeedFiles.get('node-1')! });
  t.after(() => agentNc.close());
  const agent = await openAgentStore(agentNc, 'node-1', { prefix, timeoutMs: 2000 });
  const denied = (err: Error) => /permission|authorization/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`);
  await assert.rejects(agent.nodes.put('node-2', record('node-2', attacker.publicKeyPem())), denied);
  await agent.nodes.delete('node-1');
  await agent.nodes.put('node-1', record('node-2', attacker.publicKeyPem()));

  // Refused: a warning event names the forged record, and node-2's copy stays sealed to node-2.
  const refusal = await waitFor('a NodeRecordRefused event', async () => (await store.events.recent({ limit: 50 })).find((e) => e.value.reason === 'NodeRecordRefused'));
  assert.equal(refusal.value.object.name, 'node-1');
  assert.match(refusal.value.message, /node-2/);
  // Another pass (a new Secret version) still seals to node-2 alone.
  const again: Secret = { ...secret, spec: { encryptedData: { password: sealValue(cluster.publicKeyPem(), { namespace: 'shop', name: 'db', key: 'password' }, 'node-2-only v2') } } };
  await store.desired.put('Secret.shop.db', nextDesiredRecord(undefined, again as never, { type: 'git', revision: 'r2' }, new Date().toISOString()));
  const second = await waitFor('node-2\'s new copy', async () => {
    const r = (await bucket2.get('shop.db'))?.value;
    return r && r.version !== first.version ? r : undefined;
  });
  assert.equal(second.nodeKeyId, keyIdOf(node2.publicKeyPem()));
  assert.equal(openValue(second.values.password!, { namespace: 'shop', name: 'db', key: 'password', audience: 'node-2' }, (id) => node2.privateKey(id)).toString(), 'node-2-only v2');
  assert.throws(() => openValue(second.values.password!, { namespace: 'shop', name: 'db', key: 'password', audience: 'node-2' }, (id) => attacker.privateKey(id)));
  // And the attacker cannot read node-2's bucket at all.
  const stolen = await Bucket.bind<NodeSecretRecord>(agentNc, { name: nodeSecretsBucket('node-2', prefix), timeoutMs: 2000 }, objectCodec<NodeSecretRecord>());
  await assert.rejects(stolen.get('shop.db'), denied);
});
