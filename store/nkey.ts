// NATS nkeys (Ed25519) with Node's native crypto. @nats-io/nkeys derives the key pair in
// JavaScript (tweetnacl) for every public key and every signature: about 0.1 s of CPU each in a
// freshly started process, and a connection needed three of them (our public key, then the
// authenticator's public key and signature), most of a client command's start. nkeys still
// decodes and checks the seed (prefix, CRC) and encodes the public key; the curve is OpenSSL's.
import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { Authenticator } from '@nats-io/transport-node';
import { encode as base64, Prefix } from '@nats-io/nkeys';
// Not re-exported by the package's index; the same Codec its key pairs use.
import { Codec } from '@nats-io/nkeys/lib/codec.js';

/** PKCS8_ED25519 is the DER of a PKCS#8 Ed25519 private key up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** NkeySigner is an nkey seed's public key (`U...` for a user) and a signer. */
export interface NkeySigner {
  publicKey: string;
  sign(data: Uint8Array): Uint8Array;
}

/**
 * nkeySigner decodes an nkey seed (`SU...`): throws on a bad prefix or checksum, like nkeys'
 * fromSeed. Signatures are Ed25519 and deterministic: byte for byte those of nkeys' KeyPair.sign.
 */
export function nkeySigner(seed: string): NkeySigner {
  const { prefix, buf } = Codec.decodeSeed(new TextEncoder().encode(seed));
  const key: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, buf]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = new TextDecoder().decode(Codec.encode(prefix, spki.subarray(spki.length - 32)));
  return { publicKey, sign: (data) => sign(null, data, key) };
}

/**
 * nkeyAuth is a NATS authenticator for an nkey seed, or with `jwt` for a `.creds` file's user
 * (what nats.js' nkeyAuthenticator and credsAuthenticator return, signed natively).
 */
export function nkeyAuth(signer: NkeySigner, jwt?: string): Authenticator {
  return (nonce?: string) => {
    const sig = nonce ? base64(signer.sign(new TextEncoder().encode(nonce))) : '';
    return jwt === undefined ? { nkey: signer.publicKey, sig } : { jwt, nkey: signer.publicKey, sig };
  };
}

/** newUserSeed makes a random nkey user seed (`SU...`), as nkeys' createUser().getSeed() does. */
export function newUserSeed(): string {
  return new TextDecoder().decode(Codec.encodeSeed(Prefix.User, randomBytes(32)));
}
