import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import { sealValue, openValue, keyIdOf, parseSealedValue } from '../../../secrets/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';

// 2048-bit keys keep the unit tests fast; the keyring uses 4096 (the envelope does not care).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKey = createPublicKey(privateKey);
const keys = new Map<string, KeyObject>([[keyIdOf(publicKey), privateKey]]);
const lookup = (id: string) => keys.get(id);
const scope = { namespace: 'default', name: 'db', key: 'password' };

test('a sealed value opens to the plaintext in its own scope', () => {
  const sealed = sealValue(publicKey, scope, 'hunter2');
  assert.equal(openValue(sealed, scope, lookup).toString(), 'hunter2');
  assert.ok(!sealed.includes('hunter2'));
  assert.equal(parseSealedValue(sealed, scope).keyId, keyIdOf(publicKey));
});

test('sealing the same value twice gives different ciphertexts (fresh data key and IV)', () => {
  assert.notEqual(sealValue(publicKey, scope, 'x'), sealValue(publicKey, scope, 'x'));
});

test('a sealed value moved to another Secret, namespace or key is rejected', () => {
  const sealed = sealValue(publicKey, scope, 'hunter2');
  for (const moved of [
    { ...scope, name: 'other' },
    { ...scope, namespace: 'prod' },
    { ...scope, key: 'username' },
  ]) {
    assert.throws(() => openValue(sealed, moved, lookup), (err) => isGitcellError(err, 'E_SEALED_TAMPERED') && /sealed for another Secret/.test(err.message) && err.message.includes(moved.name));
  }
});

test('a tampered ciphertext is rejected, whichever byte changed', () => {
  const sealed = Buffer.from(sealValue(publicKey, scope, 'hunter2'), 'base64');
  // Flip one byte in the wrapped key, the IV, the tag and the ciphertext in turn.
  for (const offset of [20, sealed.length - 40, sealed.length - 20, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[offset] = bad[offset]! ^ 0x01;
    assert.throws(() => openValue(bad.toString('base64'), scope, lookup), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));
  }
});

test('malformed values and unknown keys get their own errors', () => {
  assert.throws(() => openValue('plain text!', scope, lookup), (err) => isGitcellError(err, 'E_SEALED_FORMAT'));
  assert.throws(() => openValue(Buffer.from('GCS1').toString('base64'), scope, lookup), (err) => isGitcellError(err, 'E_SEALED_FORMAT'));
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sealed = sealValue(other.publicKey, scope, 'x');
  assert.throws(() => openValue(sealed, scope, lookup), (err) => isGitcellError(err, 'E_SEALED_UNKNOWN_KEY'));
});

// A node's key ring is X25519 (Keyring.openNode): the same envelope, its data key agreed by ECDH.
const node = generateKeyPairSync('x25519');
const nodeKeys = new Map<string, KeyObject>([[keyIdOf(node.publicKey), node.privateKey]]);
const nodeScope = { ...scope, audience: 'node-1' };

test('an X25519 envelope opens for its node only, in its own scope, and rejects any altered byte', () => {
  const sealed = sealValue(node.publicKey, nodeScope, 'hunter2');
  assert.equal(openValue(sealed, nodeScope, (id) => nodeKeys.get(id)).toString(), 'hunter2');
  assert.notEqual(sealValue(node.publicKey, nodeScope, 'hunter2'), sealed, 'a fresh ephemeral key per value');
  for (const moved of [{ ...nodeScope, audience: 'node-2' }, { ...nodeScope, key: 'username' }, { ...nodeScope, namespace: 'prod' }]) {
    assert.throws(() => openValue(sealed, moved, (id) => nodeKeys.get(id)), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));
  }
  const bytes = Buffer.from(sealed, 'base64');
  // Flip one byte in the ephemeral public key, the IV, the tag and the ciphertext in turn.
  for (const offset of [20, 50, bytes.length - 40, bytes.length - 20, bytes.length - 1]) {
    const bad = Buffer.from(bytes);
    bad[offset] = bad[offset]! ^ 0x01;
    assert.throws(() => openValue(bad.toString('base64'), nodeScope, (id) => nodeKeys.get(id)), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));
  }
  // A low-order ephemeral key (u = 0: the shared secret is all zeros whatever the node's key) is refused.
  const lowOrder = Buffer.from(bytes);
  lowOrder.fill(0, 14 + 12, 14 + 44); // header 14 bytes, then the ephemeral key's DER SPKI: 12 bytes of prefix, 32 of key
  assert.throws(() => openValue(lowOrder.toString('base64'), nodeScope, (id) => nodeKeys.get(id)), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));
  // Another node's key with the same key id (a forged lookup) does not open it either.
  const other = generateKeyPairSync('x25519');
  assert.throws(() => openValue(sealed, nodeScope, () => other.privateKey), (err) => isGitcellError(err, 'E_SEALED_TAMPERED'));
});
