import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { Bucket, agentPermissions, authorizationConfig, connect, controlPermissions, nodeSecretsBucket, objectCodec, openAgentStore, openClusterStore } from '../../../store/index.ts';
import { seedOptions } from '../../helpers/identities.ts';
import type { NodeSecretRecord } from '../../../api/cluster.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

const prefix = `perm${Date.now().toString(36)}_`;

async function seedFile(dir: string, name: string): Promise<{ file: string; publicKey: string }> {
  const user = createUser();
  const file = join(dir, `${name}.nk`);
  await writeFile(file, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
  return { file, publicKey: user.getPublicKey() };
}

test('an agent authenticated as node b cannot read node a\'s secrets or write node a\'s keys', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-perm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const control = await seedFile(dir, 'control');
  const agentA = await seedFile(dir, 'agent-a');
  const agentB = await seedFile(dir, 'agent-b');
  const server = await startNatsServer({
    t,
    extraConfig: authorizationConfig([
      { nkey: control.publicKey, permissions: controlPermissions(control.publicKey) },
      { nkey: agentA.publicKey, permissions: agentPermissions('a', agentA.publicKey, prefix) },
      { nkey: agentB.publicKey, permissions: agentPermissions('b', agentB.publicKey, prefix) },
    ]),
    probe: await seedOptions(control.file),
  });

  // The control plane creates every bucket and puts a Secret copy for each node.
  const nc = await connect({ servers: server.url, nkeySeedFile: control.file });
  t.after(() => nc.close());
  const cluster = await openClusterStore(nc, { prefix });
  const record = (node: string): NodeSecretRecord => ({ namespace: 'shop', name: 'db', version: 'v1', nodeKeyId: `k-${node}`, values: { password: `sealed-for-${node}` } });
  for (const node of ['a', 'b']) {
    const bucket = await Bucket.open<NodeSecretRecord>(nc, { name: nodeSecretsBucket(node, prefix) }, objectCodec<NodeSecretRecord>());
    await bucket.put('shop.db', record(node));
  }
  await cluster.desired.put('Secret.shop.db', { kind: 'Secret' });

  const ncB = await connect({ servers: server.url, creds: agentB.file });
  t.after(() => ncB.close());
  const storeB = await openAgentStore(ncB, 'b', { prefix, timeoutMs: 2000 });

  // What node b may do: read its own Secrets and the task buckets, write its own status and node.
  assert.equal((await storeB.secrets.get('shop.db'))?.value.values.password, 'sealed-for-b');
  assert.equal(await storeB.tasks.get('shop.web.0'), undefined);
  await storeB.status.put('b.shop.web.0', { taskId: 'shop.web.0', node: 'b', templateHash: 'h', state: 'running', ready: true, restarts: 0, updatedAt: new Date().toISOString() });
  await storeB.nodes.put('b', { name: 'b' } as never);
  await storeB.heartbeats.put('b', {});
  // A renewal sent without acknowledgement (Bucket.send, as agents renew) is stored as well.
  const renewedAt = (await cluster.heartbeats.get('b'))!.revision;
  storeB.heartbeats.send('b', {});
  await waitFor('b\'s lease renewed by a send', async () => ((await cluster.heartbeats.get('b'))!.revision > renewedAt) || undefined, { timeoutMs: 10_000 });

  // What it may not: node a's Secrets (any route), node a's keys, the reconciler's buckets.
  const denied = /permission|authorization/i;
  const bucketA = await Bucket.bind<NodeSecretRecord>(ncB, { name: nodeSecretsBucket('a', prefix), timeoutMs: 2000 }, objectCodec<NodeSecretRecord>());
  await assert.rejects(bucketA.get('shop.db'), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  await assert.rejects(bucketA.get('shop.db', { stale: true }), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  await assert.rejects(storeB.status.put('a.shop.web.1', { taskId: 'shop.web.1', node: 'a', templateHash: 'h', state: 'running', ready: true, restarts: 0, updatedAt: '' }), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  await assert.rejects(storeB.nodes.put('a', { name: 'a' } as never), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  // Node a's lease: renewed by b it would keep a dead node a "alive", deleted it would make a live one look dead.
  await assert.rejects(storeB.heartbeats.put('a', {}), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  await assert.rejects(storeB.heartbeats.delete('a'), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  // Sent without acknowledgement the server refuses it just the same (checked below: a has no lease).
  storeB.heartbeats.send('a', {});
  await ncB.flush();
  // The agent's store types tasks read-only; an attacker ignores types, so write through the Bucket underneath.
  await assert.rejects((storeB.tasks as Bucket<never>).put('shop.web.9', {} as never), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  // Services: every agent reads them (nft and DNS follow them); only the control plane writes them.
  await cluster.services.put('shop.web', { namespace: 'shop', name: 'web' } as never);
  assert.equal((await storeB.services.get('shop.web'))?.value.name, 'web');
  const servicesAsB = await Bucket.bind(ncB, { name: `${prefix}services`, timeoutMs: 2000 }, objectCodec());
  await assert.rejects(servicesAsB.put('shop.web', { namespace: 'shop', name: 'web', clusterIP: '10.96.0.1', endpoints: [{ ip: '192.0.2.1' }] }), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  await assert.rejects(servicesAsB.delete('shop.web'), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  const desiredAsB = await Bucket.bind(ncB, { name: `${prefix}desired`, timeoutMs: 2000 }, objectCodec());
  await assert.rejects(desiredAsB.get('Secret.shop.db'), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));

  // Node a's copy is untouched, and the control plane still reads everything.
  const nodeA = await Bucket.bind<NodeSecretRecord>(nc, { name: nodeSecretsBucket('a', prefix) }, objectCodec<NodeSecretRecord>());
  assert.equal((await nodeA.get('shop.db'))?.value.values.password, 'sealed-for-a');
  assert.equal((await cluster.status.get('b.shop.web.0'))?.value.node, 'b');
  assert.equal(await cluster.status.get('a.shop.web.1'), undefined);
  assert.ok((await cluster.heartbeats.get('b'))?.created, 'b\'s own lease, with its renewal time');
  assert.equal(await cluster.heartbeats.get('a'), undefined);

  // A client without credentials sees nothing: it is not even admitted.
  await assert.rejects(connect({ servers: server.url, timeoutMs: 2000 }), (err: Error) => denied.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
});
