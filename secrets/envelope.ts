import { createCipheriv, createDecipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, privateDecrypt, publicEncrypt, randomBytes, constants, type KeyObject } from 'node:crypto';
import { SecretsError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/**
 * Sealed value format (base64 of the bytes below), one per Secret value:
 *
 *   "GCS1" | keyId (8 bytes) | wrappedKeyLength (uint16 BE) | wrappedKey | iv (12) | tag (16) | ciphertext
 *
 * A fresh AES-256-GCM data key per value is wrapped with the cluster's RSA-OAEP (SHA-256) public key.
 * The scope `<namespace>/<name>/<key>` is the GCM additional data AND the OAEP label, so a sealed
 * value moved to another Secret, namespace or key fails to open. keyId names the key pair, so values
 * sealed before a key rotation still find their private key.
 *
 * An X25519 key pair (a node's: generated in well under a millisecond, where RSA-4096 takes about a
 * CPU-second) wraps nothing: the "wrapped key" is a fresh ephemeral public key (DER SPKI), and the
 * data key is HKDF-SHA256 of the X25519 shared secret, salted with both public keys, with the scope as
 * its info (ECIES, as age and HPKE do). The recipient's key type says which of the two a value is.
 */
const MAGIC = Buffer.from('GCS1');
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** SealScope binds a sealed value to one key of one Secret. */
export interface SealScope {
  namespace: string;
  name: string;
  key: string;
  /** Node a copy is re-sealed for: a copy for node A does not open as node B's. */
  audience?: string;
}

/** scopeLabel is the additional authenticated data of a scope. */
export function scopeLabel(scope: SealScope): Buffer {
  const base = `gitcell.io/v1/Secret/${scope.namespace}/${scope.name}/${scope.key}`;
  return Buffer.from(scope.audience === undefined ? base : `${base}@${scope.audience}`);
}

/** keyIdOf is the 8-byte fingerprint of a public key (sha256 of its DER SPKI), hex encoded. */
export function keyIdOf(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const der = key.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

/** sealValue encrypts one plaintext value for the holder of `publicKey`, bound to `scope`. */
export function sealValue(publicKey: KeyObject | string, scope: SealScope, plaintext: Buffer | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const label = scopeLabel(scope);
  const ecies = key.asymmetricKeyType === 'x25519';
  const ephemeral = ecies ? generateKeyPairSync('x25519') : undefined;
  const dataKey = ephemeral ? eciesDataKey(ephemeral.privateKey, key, ephemeral.publicKey, key, label) : randomBytes(32);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  cipher.setAAD(label);
  const ciphertext = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext) : plaintext), cipher.final()]);
  const wrapped = ephemeral ? spki(ephemeral.publicKey) : publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, dataKey);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(wrapped.length);
  return Buffer.concat([MAGIC, Buffer.from(keyIdOf(key), 'hex'), length, wrapped, iv, cipher.getAuthTag(), ciphertext]).toString('base64');
}

const spki = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });

/**
 * eciesDataKey derives the data key of an X25519 envelope: HKDF-SHA256 over the shared secret of
 * `privateKey` and `peer`, salted with the ephemeral and the recipient public keys, the scope label
 * as info. The sealer holds the ephemeral private key, the recipient its own. A low-order peer key
 * (all-zero shared secret) throws.
 */
function eciesDataKey(privateKey: KeyObject, peer: KeyObject, ephemeral: KeyObject, recipient: KeyObject, label: Buffer): Buffer {
  const shared = diffieHellman({ privateKey, publicKey: peer });
  if (shared.every((b) => b === 0)) throw new Error('X25519: all-zero shared secret');
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([spki(ephemeral), spki(recipient)]), label, 32));
}

/** ParsedSealedValue is the envelope of a sealed value, before decryption. */
export interface ParsedSealedValue {
  keyId: string;
  wrappedKey: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** parseSealedValue splits a sealed value into its parts; E_SEALED_FORMAT when it is not one. */
export function parseSealedValue(sealed: string, scope: SealScope): ParsedSealedValue {
  const bytes = Buffer.from(sealed, 'base64');
  const fail = (reason: string): never => {
    throw new SecretsError(ErrorCodes.SealedFormat, `Secret ${scope.namespace}/${scope.name}: value "${scope.key}" is not a sealed value (${reason})`, { ...scope, reason });
  };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sealed.replace(/\s+/g, ''))) fail('not base64');
  if (bytes.length < MAGIC.length + KEY_ID_BYTES + 2 || !bytes.subarray(0, 4).equals(MAGIC)) fail('missing the GCS1 header');
  let at = MAGIC.length;
  const keyId = bytes.subarray(at, at + KEY_ID_BYTES).toString('hex');
  at += KEY_ID_BYTES;
  const wrappedLength = bytes.readUInt16BE(at);
  at += 2;
  if (bytes.length < at + wrappedLength + IV_BYTES + TAG_BYTES) fail('truncated');
  const wrappedKey = bytes.subarray(at, at + wrappedLength);
  at += wrappedLength;
  const iv = bytes.subarray(at, at + IV_BYTES);
  at += IV_BYTES;
  const tag = bytes.subarray(at, at + TAG_BYTES);
  at += TAG_BYTES;
  return { keyId, wrappedKey, iv, tag, ciphertext: bytes.subarray(at) };
}

/**
 * openValue decrypts a sealed value with the private key `privateKeyFor(keyId)` returns.
 * E_SEALED_UNKNOWN_KEY when no key pair matches; E_SEALED_TAMPERED when the value was altered or
 * sealed for another scope (the two cannot be told apart, by design).
 */
export function openValue(sealed: string, scope: SealScope, privateKeyFor: (keyId: string) => KeyObject | undefined): Buffer {
  const parts = parseSealedValue(sealed, scope);
  const privateKey = privateKeyFor(parts.keyId);
  const where = `Secret ${scope.namespace}/${scope.name}: value "${scope.key}"`;
  if (!privateKey) {
    throw new SecretsError(ErrorCodes.SealedUnknownKey, `${where} was sealed with key ${parts.keyId}, which this cluster does not have`, { ...scope, keyId: parts.keyId });
  }
  const label = scopeLabel(scope);
  try {
    const ephemeral = privateKey.asymmetricKeyType === 'x25519' ? createPublicKey({ key: parts.wrappedKey, format: 'der', type: 'spki' }) : undefined;
    const dataKey = ephemeral
      ? eciesDataKey(privateKey, ephemeral, ephemeral, createPublicKey(privateKey), label)
      : privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, parts.wrappedKey);
    const decipher = createDecipheriv('aes-256-gcm', dataKey, parts.iv);
    decipher.setAAD(label);
    decipher.setAuthTag(parts.tag);
    return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch {
    throw new SecretsError(ErrorCodes.SealedTampered, `${where} cannot be opened: it was tampered with or sealed for another Secret (sealed values are bound to namespace, name and key)`, { ...scope });
  }
}
