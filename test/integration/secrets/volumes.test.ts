import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, stat, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeSecretRecord, TaskSpec } from '../../../api/cluster.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { Bucket, connect, objectCodec } from '../../../store/index.ts';
import { Keyring, keyIdOf, sealValue } from '../../../secrets/index.ts';
import { SecretVolumes } from '../../../agent/secret-volumes.ts';
import { startNatsServer } from '../../helpers/nats.ts';

function task(user?: string): TaskSpec {
  return {
    id: 'shop.web.0', namespace: 'shop', owner: { kind: 'Job', name: 'web' }, jobKey: 'Job/shop/web', index: 0, priority: 500, type: 'service', templateHash: 'h', generation: 1, createdAt: '',
    template: {
      image: 'busybox', env: [], ...(user ? { user } : {}), resources: { requests: { cpuMillis: 10, memoryBytes: 1 }, limits: {} }, ports: [], probes: {},
      secretMounts: [{ secretName: 'db', mountPath: '/run/secrets/db', version: 'v1', items: [{ key: 'password', path: 'pw/password' }] }],
      secretEnv: [{ name: 'DB_USER', secretName: 'db', key: 'user', version: 'v1' }],
      nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 1,
    },
  };
}

test('a task\'s Secret becomes 0400 files on a tmpfs owned by its user, and env values', async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test mounts tmpfs: run it as root');
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-volumes-'));
  const root = join(dir, 'secrets');
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  const bucket = await Bucket.open<NodeSecretRecord>(nc, { name: 'vol_secrets_node-a' }, objectCodec<NodeSecretRecord>());
  const ring = await Keyring.openNode(join(dir, 'node'));
  const volumes = new SecretVolumes({ root, node: 'node-a', keyring: ring, source: bucket });
  t.after(async () => {
    await volumes.release('shop.web.0');
    await nc.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Not delivered yet: a waiting error naming the Secret and the node.
  await assert.rejects(volumes.prepare(task(), { uid: 0, gid: 0 }), (err) => isGitcellError(err, 'E_SECRET_NOT_DELIVERED') && /shop\/db version v1 .*node-a/.test(err.message));

  const seal = (key: string, value: string) => sealValue(ring.publicKeyPem(), { namespace: 'shop', name: 'db', key, audience: 'node-a' }, value);
  await bucket.put('shop.db', { namespace: 'shop', name: 'db', version: 'v1', nodeKeyId: keyIdOf(ring.publicKeyPem()), values: { password: seal('password', 'hunter2'), user: seal('user', 'admin') } });

  const prepared = await volumes.prepare(task('1000:1001'), { uid: 1000, gid: 1001 });
  assert.deepEqual(prepared.env, [{ name: 'DB_USER', value: 'admin' }]);
  assert.equal(prepared.mounts.length, 1);
  const mount = prepared.mounts[0]!;
  assert.equal(mount.destination, '/run/secrets/db');
  assert.equal(mount.readonly, true);
  const file = join(mount.source, 'pw', 'password');
  assert.equal(await readFile(file, 'utf8'), 'hunter2');
  const st = await stat(file);
  assert.equal(st.mode & 0o777, 0o400);
  assert.equal(st.uid, 1000);
  assert.equal(st.gid, 1001);
  // Only the listed item is written, and it lives on a tmpfs, never on disk.
  assert.deepEqual(await readdir(mount.source), ['pw']);
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(join(root, 'shop.web.0')));
  assert.equal(mounts.length, 1);
  assert.match(mounts[0]!, / tmpfs /);

  // A copy sealed for another node does not open here.
  await bucket.put('shop.db', { namespace: 'shop', name: 'db', version: 'v1', nodeKeyId: 'x', values: { password: sealValue(ring.publicKeyPem(), { namespace: 'shop', name: 'db', key: 'password', audience: 'node-b' }, 'x'), user: seal('user', 'admin') } });
  await assert.rejects(volumes.prepare(task(), { uid: 0, gid: 0 }), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));

  await volumes.release('shop.web.0');
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(join(root, 'shop.web.0')));
  assert.deepEqual(await readdir(root), []);
});
