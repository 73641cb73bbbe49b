import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import type { TaskSpec } from '../../../api/cluster.ts';
import type { Secret } from '../../../api/manifests.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { keyIdOf, nodeSecretKey, openSecret, openValue, planDelivery, sealValue, secretVersion, secretsNeededByNode } from '../../../secrets/index.ts';

function task(id: string, mounts: string[], env: string[] = []): TaskSpec {
  return {
    id, namespace: 'shop', owner: { kind: 'Job', name: id.split('.')[1]! }, jobKey: `Job/shop/${id}`, index: 0, priority: 500,
    type: 'service', templateHash: 'h', generation: 1, createdAt: '2026-01-01T00:00:00Z',
    template: {
      image: 'busybox', env: [], resources: { requests: { cpuMillis: 100, memoryBytes: 1 << 20 }, limits: {} }, ports: [], probes: {},
      secretMounts: mounts.map((secretName) => ({ secretName, mountPath: `/run/secrets/${secretName}` })),
      secretEnv: env.map((secretName) => ({ name: 'X', secretName, key: 'k' })),
      nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30,
    },
  };
}

test('each node needs exactly the Secrets of its bound tasks, at their current version', () => {
  const tasks = [task('shop.web.0', ['tls']), task('shop.web.1', ['tls']), task('shop.api.0', ['db'], ['api-key']), task('shop.idle.0', ['tls'])];
  const bindings = new Map([['shop.web.0', { node: 'a' }], ['shop.web.1', { node: 'b' }], ['shop.api.0', { node: 'a' }]]);
  const versions = new Map([['shop.tls', 'v1'], ['shop.db', 'd1'], ['shop.api-key', 'k1']]);
  const needed = secretsNeededByNode(tasks, bindings, versions);
  // Node a: web.0 (tls) and api.0 (db, api-key). Node b: web.1 (tls). shop.idle.0 is unbound.
  assert.deepEqual([...needed.get('a')!.keys()].sort(), ['shop.api-key', 'shop.db', 'shop.tls']);
  assert.deepEqual([...needed.get('b')!.keys()], ['shop.tls']);
  assert.equal(needed.get('a')!.get('shop.tls')!.version, 'v1');
  // A Secret missing from Git is not delivered.
  assert.equal(secretsNeededByNode(tasks, bindings, new Map()).size, 0);
});

test('a pull Secret (imagePullSecrets) is delivered to the nodes of the tasks that pull with it', () => {
  const puller = task('shop.web.0', []);
  puller.template.imagePullSecrets = [{ secretName: 'regcred' }];
  const needed = secretsNeededByNode([puller, task('shop.idle.0', [])], new Map([['shop.web.0', { node: 'a' }], ['shop.idle.0', { node: 'b' }]]), new Map([['shop.regcred', 'r1']]));
  assert.deepEqual([...needed.entries()].map(([node, m]) => [node, [...m.values()]]), [['a', [{ namespace: 'shop', name: 'regcred', version: 'r1' }]]]);
});

test('planDelivery re-seals on a new version or node key and removes what no task uses', () => {
  const ref = (name: string, version: string) => ({ namespace: 'shop', name, version });
  const needed = new Map([
    ['a', new Map([['shop.tls', ref('tls', 'v2')], ['shop.db', ref('db', 'd1')]])],
    ['b', new Map([['shop.tls', ref('tls', 'v2')]])],
    ['c', new Map([['shop.tls', ref('tls', 'v2')]])],
  ]);
  const present = new Map([
    ['a', new Map([['shop.tls', { version: 'v1', nodeKeyId: 'ka' }], ['shop.db', { version: 'd1', nodeKeyId: 'ka' }], ['shop.old', { version: 'o', nodeKeyId: 'ka' }]])],
    ['b', new Map([['shop.tls', { version: 'v2', nodeKeyId: 'kb-old' }]])],
  ]);
  const plan = planDelivery(needed, present, new Map([['a', 'ka'], ['b', 'kb']]));
  // a: tls version changed -> put; db unchanged; old unused -> remove. b: key rotated -> put.
  // c: no published key yet -> nothing.
  assert.deepEqual(plan.put.map((p) => `${p.node}:${nodeSecretKey(p.ref.namespace, p.ref.name)}`).sort(), ['a:shop.tls', 'b:shop.tls']);
  assert.deepEqual(plan.remove, [{ node: 'a', key: 'shop.old' }]);
});

test('a copy re-sealed for one node does not open as another node', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = new Map<string, KeyObject>([[keyIdOf(createPublicKey(privateKey)), privateKey]]);
  const scope = { namespace: 'shop', name: 'db', key: 'password', audience: 'node-a' };
  const sealed = sealValue(createPublicKey(privateKey), scope, 'pw');
  assert.equal(openValue(sealed, scope, (id) => keys.get(id)).toString(), 'pw');
  assert.throws(() => openValue(sealed, { ...scope, audience: 'node-b' }, (id) => keys.get(id)), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));
  assert.throws(() => openValue(sealed, { namespace: 'shop', name: 'db', key: 'password' }, (id) => keys.get(id)), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));
});

test('openSecret opens every value, names the Secret on failure, and refuses plaintext outside dev mode', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = createPublicKey(privateKey);
  const privateKeyFor = (id: string) => (id === keyIdOf(pub) ? privateKey : undefined);
  const secret = (spec: Secret['spec'], annotations?: Record<string, string>): Secret => ({
    apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop', ...(annotations ? { annotations } : {}) }, spec,
  });
  const good = secret({ encryptedData: { user: sealValue(pub, { namespace: 'shop', name: 'db', key: 'user' }, 'admin') } });
  assert.equal(openSecret(good, { privateKeyFor }).get('user')!.toString(), 'admin');

  // The value of Secret "other" copied into "db" does not open, and the error names db.
  const moved = secret({ encryptedData: { user: sealValue(pub, { namespace: 'shop', name: 'other', key: 'user' }, 'admin') } });
  assert.throws(() => openSecret(moved, { privateKeyFor }), (err) => isGitcellError(err, 'E_SEALED_TAMPERED') && err.message.includes('Secret shop/db'));

  const plain = secret({ stringData: { user: 'admin' } }, { 'gitcell.io/allow-plaintext': 'true' });
  assert.throws(() => openSecret(plain, { privateKeyFor }), (err) => isGitcellError(err, 'E_SECRET_PLAINTEXT'));
  assert.equal(openSecret(plain, { privateKeyFor, allowPlaintextSecrets: true }).get('user')!.toString(), 'admin');
  assert.throws(() => openSecret(secret({ stringData: { user: 'x' } }), { privateKeyFor, allowPlaintextSecrets: true }), (err) => isGitcellError(err, 'E_SECRET_PLAINTEXT'));

  // The version follows the committed ciphertext, not key order, and changes with any value.
  const v = secretVersion(good);
  assert.equal(v, secretVersion(secret({ ...good.spec })));
  assert.notEqual(v, secretVersion(secret({ encryptedData: { user: sealValue(pub, { namespace: 'shop', name: 'db', key: 'user' }, 'admin') } })));
});
