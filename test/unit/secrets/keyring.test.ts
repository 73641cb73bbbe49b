import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, sealValue, openValue } from '../../../secrets/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';

const scope = { namespace: 'default', name: 'api', key: 'token' };

test('the key ring persists, rotates, and keeps opening values sealed before a rotation', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-keyring-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const ring = await Keyring.open(dir);
  const first = ring.activeKeyId;
  const files = (await readdir(join(dir, 'secrets', 'keys'))).filter((f) => f.endsWith('.pem'));
  assert.deepEqual(files, [`${first}.pem`]);
  assert.equal((await stat(join(dir, 'secrets', 'keys', files[0]!))).mode & 0o777, 0o600);

  const old = sealValue(ring.publicKeyPem(), scope, 'v1');
  const second = await ring.rotate();
  assert.notEqual(second, first);
  const fresh = sealValue(ring.publicKeyPem(), scope, 'v2');

  const reopened = await Keyring.open(dir);
  assert.equal(reopened.activeKeyId, second);
  assert.equal(openValue(old, scope, (id) => reopened.privateKey(id)).toString(), 'v1');
  assert.equal(openValue(fresh, scope, (id) => reopened.privateKey(id)).toString(), 'v2');

  // A backup restores every pair into an empty state directory; a wrong passphrase is refused.
  const backup = await reopened.exportBackup('correct horse');
  assert.ok(!backup.includes('PRIVATE KEY'));
  const dir2 = await mkdtemp(join(tmpdir(), 'gitcell-keyring-'));
  t.after(() => rm(dir2, { recursive: true, force: true }));
  const restored = await Keyring.open(dir2);
  await assert.rejects(restored.importBackup(backup, 'wrong'), (err) => isGitcellError(err, 'E_KEY_BACKUP'));
  await restored.importBackup(backup, 'correct horse');
  assert.equal(restored.activeKeyId, second);
  assert.equal(openValue(old, scope, (id) => restored.privateKey(id)).toString(), 'v1');
});

test('a node\'s ring (openNode) makes X25519 pairs, keeps them across opens, and opens what is sealed to it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-keyring-node-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ring = await Keyring.openNode(dir);
  const pem = ring.publicKeyPem();
  assert.equal(createPublicKey(pem).asymmetricKeyType, 'x25519');
  const reopened = await Keyring.openNode(dir);
  assert.equal(reopened.activeKeyId, ring.activeKeyId);
  const nodeScope = { ...scope, audience: 'node-1' };
  assert.equal(openValue(sealValue(pem, nodeScope, 'v'), nodeScope, (id) => reopened.privateKey(id)).toString(), 'v');
});

test('gitcell up\'s cluster ring (openUp) makes an X25519 pair, and an RSA ring it finds stays RSA', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-keyring-up-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ring = await Keyring.openUp(dir);
  assert.equal(createPublicKey(ring.publicKeyPem()).asymmetricKeyType, 'x25519');
  assert.equal(openValue(sealValue(ring.publicKeyPem(), scope, 'v'), scope, (id) => ring.privateKey(id)).toString(), 'v');
  const old = await mkdtemp(join(tmpdir(), 'gitcell-keyring-up-rsa-'));
  t.after(() => rm(old, { recursive: true, force: true }));
  const rsa = await Keyring.open(old, { modulusLength: 2048 });
  const reopened = await Keyring.openUp(old);
  assert.equal(reopened.activeKeyId, rsa.activeKeyId);
  assert.equal(createPublicKey(reopened.publicKeyPem()).asymmetricKeyType, 'rsa');
});
