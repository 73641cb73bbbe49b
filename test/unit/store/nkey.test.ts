import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { newUserSeed, nkeyAuth, nkeySigner } from '../../../store/nkey.ts';

const te = new TextEncoder();

test('nkeySigner: the public key and signatures of nkeys, byte for byte (Ed25519 is deterministic)', () => {
  for (let i = 0; i < 5; i++) {
    const kp = createUser();
    const seed = new TextDecoder().decode(kp.getSeed());
    const s = nkeySigner(seed);
    assert.equal(s.publicKey, kp.getPublicKey());
    const data = te.encode(`nonce-${i}-${seed.slice(5, 10)}`);
    assert.deepEqual(Buffer.from(s.sign(data)), Buffer.from(kp.sign(data)));
    assert.ok(kp.verify(data, s.sign(data)));
  }
});

test('nkeySigner refuses what nkeys refuses: a damaged seed (checksum), a public key, garbage', () => {
  const seed = new TextDecoder().decode(createUser().getSeed());
  const damaged = `${seed.slice(0, 20)}${seed[20] === 'A' ? 'B' : 'A'}${seed.slice(21)}`;
  for (const bad of [damaged, createUser().getPublicKey(), 'SUnot-a-seed', '']) {
    assert.throws(() => fromSeed(te.encode(bad)));
    assert.throws(() => nkeySigner(bad), `${bad} refused`);
  }
});

test('newUserSeed makes user seeds nkeys accepts; nkeyAuth answers a nonce as nats.js does (with the JWT of a .creds file)', () => {
  const seed = newUserSeed();
  assert.match(seed, /^SU[A-Z2-7]{50,}$/);
  const kp = fromSeed(te.encode(seed));
  const s = nkeySigner(seed);
  assert.equal(s.publicKey, kp.getPublicKey());
  const auth = nkeyAuth(s)('abc') as { nkey: string; sig: string };
  assert.equal(auth.nkey, kp.getPublicKey());
  assert.ok(kp.verify(te.encode('abc'), Buffer.from(auth.sig, 'base64')));
  assert.deepEqual(nkeyAuth(s, 'JWT')(undefined), { jwt: 'JWT', nkey: kp.getPublicKey(), sig: '' });
});
