// The hollow process's one identity (store/permissions.ts hollowPermissions) against the real
// nats-server: it writes the keys of its own simulated nodes and of no other node, real or hollow,
// and nothing of the control plane; a real agent's identity cannot write hollow nodes' keys either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { Bucket, bucketName, objectCodec, agentPermissions, authorizationConfig, connect, controlPermissions, hollowPermissions, openAgentStore, openClusterStore } from '../../../store/index.ts';
import type { NodeRecord, TaskStatus } from '../../../api/index.ts';
import { hollowNodeNames } from '../../../cli/commands/hollow-nodes.ts';
import { seedOptions } from '../../helpers/identities.ts';
import { startNatsServer } from '../../helpers/nats.ts';

const prefix = `hp${Date.now().toString(36)}_`;
const denied = (err: Error): boolean => /permission|authorization/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`);

async function seedFile(dir: string, name: string): Promise<{ file: string; publicKey: string }> {
  const user = createUser();
  const file = join(dir, `${name}.nk`);
  await writeFile(file, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
  return { file, publicKey: user.getPublicKey() };
}

const status = (node: string, taskId: string): TaskStatus => ({ taskId, node, templateHash: 'h', state: 'running', ready: true, restarts: 0, updatedAt: new Date().toISOString() } as TaskStatus);

test('a hollow identity writes only its own nodes\' keys; a real agent cannot write a hollow node\'s', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-hollow-perm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const control = await seedFile(dir, 'control');
  const hollow = await seedFile(dir, 'hollow');
  const agent = await seedFile(dir, 'agent');
  const mine = hollowNodeNames('hollow-a-', 3);
  const server = await startNatsServer({
    t,
    extraConfig: authorizationConfig([
      { nkey: control.publicKey, permissions: controlPermissions(control.publicKey) },
      { nkey: hollow.publicKey, permissions: hollowPermissions(mine, hollow.publicKey, prefix) },
      { nkey: agent.publicKey, permissions: agentPermissions('real-1', agent.publicKey, prefix) },
    ]),
    probe: await seedOptions(control.file),
  });
  const nc = await connect({ servers: server.url, nkeySeedFile: control.file });
  t.after(() => nc.close());
  await openClusterStore(nc, { prefix });

  const ncH = await connect({ servers: server.url, creds: hollow.file });
  t.after(() => ncH.close());
  const h = await openAgentStore(ncH, mine[0]!, { prefix, timeoutMs: 2000 });
  // Allowed: each of its own nodes' status, registration and lease, and reading the task buckets.
  for (const node of mine) {
    await h.status.put(`${node}.shop.web.0`, status(node, 'shop.web.0'));
    await h.nodes.put(node, { name: node } as NodeRecord);
    await h.heartbeats.put(node, {});
  }
  assert.equal(await h.tasks.get('shop.web.0'), undefined);
  // Refused: a real node's keys, a hollow node of another process (a name sharing the prefix too), the control plane's buckets.
  for (const node of ['real-1', 'hollow-b-00001', 'hollow-a-00004', 'hollow-a-0000']) {
    await assert.rejects(h.status.put(`${node}.shop.web.1`, status(node, 'shop.web.1')), denied, `status of ${node}`);
    await assert.rejects(h.nodes.put(node, { name: node } as NodeRecord), denied, `node record of ${node}`);
    // Another node's lease: renewing it would keep a dead node "alive" (its tasks never requeued),
    // deleting it would make a live one look dead.
    await assert.rejects(h.heartbeats.put(node, {}), denied, `lease of ${node}`);
    await assert.rejects(h.heartbeats.delete(node), denied, `lease delete of ${node}`);
  }
  // The agent store types them read-only; the server refuses them whatever the client's types say.
  const bind = (role: 'tasks' | 'bindings') => Bucket.bind(ncH, { name: bucketName(role, prefix), timeoutMs: 2000 }, objectCodec());
  await assert.rejects((await bind('tasks')).put('shop.web.9', {}), denied);
  await assert.rejects((await bind('bindings')).put('shop.web.9', { taskId: 'shop.web.9', node: mine[0]!, boundAt: '', schedulerTerm: 1 }), denied);

  // A real agent cannot write a hollow node's keys.
  const ncA = await connect({ servers: server.url, creds: agent.file });
  t.after(() => ncA.close());
  const a = await openAgentStore(ncA, 'real-1', { prefix, timeoutMs: 2000 });
  await a.status.put('real-1.shop.web.2', status('real-1', 'shop.web.2'));
  await assert.rejects(a.status.put(`${mine[0]}.shop.web.2`, status(mine[0]!, 'shop.web.2')), denied);
  await assert.rejects(a.nodes.put(mine[0]!, { name: mine[0]! } as NodeRecord), denied);
  await a.heartbeats.put('real-1', {});
  await assert.rejects(a.heartbeats.put(mine[0]!, {}), denied);
  // Neither reads the leases (no agent needs another node's liveness).
  await assert.rejects(a.heartbeats.get('real-1'), denied);
  await assert.rejects(h.heartbeats.get(mine[0]!), denied);
});
