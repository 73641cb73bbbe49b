import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binding, NodeRecord, NodeSecretRecord, TaskSpec } from '../../../api/cluster.ts';
import type { Secret } from '../../../api/manifests.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, nodeSecretsBucket, objectCodec, openClusterStore } from '../../../store/index.ts';
import { Keyring, openValue, sealValue } from '../../../secrets/index.ts';
import { nextDesiredRecord, runSecretDistributor, type DesiredRecord } from '../../../reconciler/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

const FAST = { modulusLength: 2048 };

function task(id: string, secretName: string): TaskSpec {
  return {
    id, namespace: 'shop', owner: { kind: 'Job', name: 'web' }, jobKey: 'Job/shop/web', index: 0, priority: 500, type: 'service', templateHash: 'h', generation: 1, createdAt: '',
    template: { image: 'busybox', env: [], resources: { requests: { cpuMillis: 10, memoryBytes: 1 }, limits: {} }, ports: [], probes: {}, secretMounts: [{ secretName, mountPath: '/run/secrets/db' }], nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 1 },
  };
}

test('the distributor re-seals a Secret for exactly the nodes whose tasks use it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-distrib-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const prefix = 'dist_';
  const store = await openClusterStore<DesiredRecord>(nc, { prefix, log: silentLogger() });
  const cluster = await Keyring.open(join(dir, 'cluster'), FAST);
  const nodeA = await Keyring.openNode(join(dir, 'node-a'));
  const nodeB = await Keyring.openNode(join(dir, 'node-b'));
  const abort = new AbortController();
  t.after(() => abort.abort());

  const sealed = (value: string): Secret => ({
    apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop' },
    spec: { encryptedData: { password: sealValue(cluster.publicKeyPem(), { namespace: 'shop', name: 'db', key: 'password' }, value) } },
  });
  const putSecret = (s: Secret) => store.desired.put('Secret.shop.db', nextDesiredRecord(undefined, s as never, { type: 'git', revision: 'r1' }, new Date().toISOString()));
  const node = (name: string, ring: Keyring): NodeRecord => ({
    name, labels: {}, taints: [], capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30, tasks: 10 }, allocatable: { cpuMillis: 1000, memoryBytes: 2 ** 30, tasks: 10 },
    addresses: [], runtime: { runc: '', kernel: '', agentVersion: '' }, images: [], startedAt: '', heartbeatAt: new Date().toISOString(), sealingKey: ring.publicKeyPem(),
  });
  const bind = (taskId: string, n: string): Binding => ({ taskId, node: n, boundAt: '', schedulerTerm: 1 });

  await putSecret(sealed('first'));
  await store.nodes.put('a', node('a', nodeA));
  await store.nodes.put('b', node('b', nodeB));
  await store.tasks.put('shop.web.0', task('shop.web.0', 'db'));
  await store.bindings.put('shop.web.0', bind('shop.web.0', 'a'));

  const distributor = runSecretDistributor({ store, keyring: cluster, signal: abort.signal, log: silentLogger() });
  const bucketOf = (n: string) => Bucket.open<NodeSecretRecord>(nc, { name: nodeSecretsBucket(n, prefix) }, objectCodec<NodeSecretRecord>());
  const a = await bucketOf('a');
  const b = await bucketOf('b');
  const openFor = (rec: NodeSecretRecord, n: string, ring: Keyring) => openValue(rec.values.password!, { namespace: 'shop', name: 'db', key: 'password', audience: n }, (id) => ring.privateKey(id)).toString();

  // Node a runs the task: it gets a copy it alone can open. Node b gets nothing.
  const copy = await waitFor('copy on node a', async () => (await a.get('shop.db'))?.value);
  assert.equal(openFor(copy, 'a', nodeA), 'first');
  assert.ok(!JSON.stringify(copy).includes('first'));
  assert.throws(() => openFor(copy, 'a', nodeB));
  assert.equal(await b.get('shop.db'), undefined);

  // A new value in Git: the copy follows, with a new version.
  await putSecret(sealed('second'));
  const updated = await waitFor('updated copy', async () => {
    const r = (await a.get('shop.db'))?.value;
    return r && r.version !== copy.version ? r : undefined;
  });
  assert.equal(openFor(updated, 'a', nodeA), 'second');

  // The task moves to node b: b gets a copy, a's is removed.
  await store.bindings.put('shop.web.0', bind('shop.web.0', 'b'));
  const moved = await waitFor('copy on node b', async () => (await b.get('shop.db'))?.value);
  assert.equal(openFor(moved, 'b', nodeB), 'second');
  await waitFor('copy removed from node a', async () => ((await a.get('shop.db')) === undefined ? true : undefined));

  // A Secret sealed for another name is not delivered, and the failure is an event naming it.
  const foreign = sealed('x');
  foreign.spec!.encryptedData!.password = sealValue(cluster.publicKeyPem(), { namespace: 'shop', name: 'other', key: 'password' }, 'stolen');
  await putSecret(foreign);
  const event = await waitFor('SecretNotDelivered event', async () => (await store.events.recent({ limit: 20 })).find((e) => e.value.reason === 'SecretNotDelivered'));
  assert.match(event.value.message, /Secret shop\/db not delivered to node b/);
  assert.equal(openFor((await b.get('shop.db'))!.value, 'b', nodeB), 'second');

  abort.abort();
  await distributor.done;
});
