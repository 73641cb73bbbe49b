// A node pulls a task's image from a real docker-registry that wants htpasswd credentials, with
// the docker config.json of a pull Secret delivered to the node like every Secret (sealed to its
// key, in its own bucket). Missing, wrong and finally right credentials, as the task's status says.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { makeTask, waitFor, type TestNode } from '../../helpers/agent.ts';
import { startImageNode, type ImageNode } from '../../helpers/image-node.ts';
import { sealValue } from '../../../secrets/index.ts';
import { streamLogs } from '../../../agent/index.ts';
import { taskReason } from '../../../cli/listings.ts';
import type { NodeSecretRecord } from '../../../api/index.ts';

requireRoot();
requireTools('runc', 'ip', 'mount', 'docker-registry');

let fx: ImageNode;
let n: TestNode;
let image: string;
before(async () => {
  fx = await startImageNode({ auth: { kind: 'basic', username: 'puller', password: 'right-pw' }, repository: 'team/private:1', node: { secrets: true } });
  ({ node: n, image } = fx);
});
after(async () => {
  const left = fx ? await fx.stop() : [];
  assert.deepEqual(left, []);
});

/** deliver seals a docker config.json for this node into its bucket, as the reconciler's distributor does. */
async function deliver(name: string, version: string, password: string): Promise<void> {
  const config = JSON.stringify({ auths: { [fx.registry.domain]: { auth: Buffer.from(`puller:${password}`).toString('base64') } } });
  const record: NodeSecretRecord = {
    namespace: 'default', name, version, nodeKeyId: n.keyring!.activeKeyId,
    values: { '.dockerconfigjson': sealValue(n.keyring!.publicKeyPem(), { namespace: 'default', name, key: '.dockerconfigjson', audience: n.node }, config) },
  };
  await n.secretsBucket!.put(`default.${name}`, record);
}

test('no credentials, a pull Secret not delivered yet, wrong ones, then right ones: each a clear reason, then the task runs', async () => {
  const anonymous = makeTask(`anon-${Date.now()}`, image, ['sh', '-c', 'sleep 100']);
  await n.bind(anonymous);
  const s0 = await n.waitStatus(anonymous.id, 'refused', (s) => s.state === 'backoff' && /none were given/.test(s.message ?? ''), 90_000);
  assert.ok(s0.message!.startsWith(`start failed: image ${image}: ${fx.registry.domain} wants credentials (basic auth) and none were given: a pull Secret in the task's imagePullSecrets`), s0.message);
  assert.equal(taskReason({ state: s0.state, ready: s0.ready, status: s0 }), 'ImagePullBackOff');
  await n.unbind(anonymous.id);

  const spec = makeTask(`pull-${Date.now()}`, image, ['sh', '-c', 'echo pulled-and-running; while true; do sleep 1; done'], { imagePullSecrets: [{ secretName: 'regcred' }] });
  await n.bind(spec);
  const s1 = await n.waitStatus(spec.id, 'waiting for the pull Secret', (s) => s.state === 'backoff' && /has not reached/.test(s.message ?? ''), 90_000);
  assert.match(s1.message!, /Secret default\/regcred has not reached node/);

  await deliver('regcred', 'v1', 'wrong-pw');
  const s2 = await n.waitStatus(spec.id, 'wrong credentials', (s) => s.state === 'backoff' && /refused/.test(s.message ?? ''), 90_000);
  assert.ok(s2.message!.startsWith(`start failed: image ${image}: ${fx.registry.domain}: credentials for puller were refused`), s2.message);
  assert.equal(taskReason({ state: s2.state, ready: s2.ready, status: s2 }), 'ImagePullBackOff');

  await deliver('regcred', 'v2', 'right-pw');
  await n.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  let out = '';
  await waitFor('log line', async () => {
    out = '';
    await streamLogs(n.store.nc, n.node, { taskId: spec.id }, (c) => { out += Buffer.from(c).toString(); });
    return out.includes('pulled-and-running') || undefined;
  });
  assert.deepEqual((await n.runtime.imageStore.resolve(image)).ref, image);
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});

test('imagePullPolicy Never on an image the node lacks: held back saying so, no request to the registry', async () => {
  const spec = makeTask(`never-${Date.now()}`, `${fx.registry.domain}/team/absent:1`, ['sh'], { imagePullPolicy: 'Never' });
  await n.bind(spec);
  const s = await n.waitStatus(spec.id, 'held back', (x) => x.state === 'backoff' && /Never/.test(x.message ?? ''), 90_000);
  assert.match(s.message!, /image .*team\/absent:1 is not on this node and its imagePullPolicy is Never/);
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});
