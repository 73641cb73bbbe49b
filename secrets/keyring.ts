import { generateKeyPair, generateKeyPairSync, createPrivateKey, createPublicKey, scrypt, randomBytes, createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SecretsError } from '../lib/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { keyIdOf } from './envelope.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

const generateKeyPairAsync = promisify(generateKeyPair);
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** KeyType is the kind of pair a ring generates: RSA-OAEP (the cluster's) or X25519 (a node's). */
export type KeyType = 'rsa' | 'x25519';

/**
 * Keyring holds the cluster's sealing key pairs in `<stateDir>/secrets/keys/`: one `<keyId>.pem`
 * private key per pair (mode 0600) and `active` naming the pair new secrets are sealed with.
 * Old pairs stay after a rotation so values sealed with them still open.
 */
export class Keyring {
  private constructor(
    readonly dir: string,
    private readonly keys: Map<string, KeyObject>,
    private activeId: string,
    private readonly modulusLength: number,
    private readonly type: KeyType,
  ) {}

  /**
   * Keyring.open loads the key ring of a state directory, creating the first key pair if none.
   * `modulusLength` (default 4096) sizes new RSA pairs; tests use 2048 to keep key generation quick.
   * `type` 'x25519' makes new pairs X25519 (a node's ring, and `gitcell up`'s: envelope.ts); a
   * standalone control plane's stays RSA, the key users seal to with `gitcell secret seal --cert`.
   */
  static async open(stateDir: string, opts: { modulusLength?: number; type?: KeyType } = {}): Promise<Keyring> {
    const dir = join(stateDir, 'secrets', 'keys');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keys = new Map<string, KeyObject>();
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.pem')).sort()) {
      const key = createPrivateKey(await readFile(join(dir, file), 'utf8'));
      keys.set(keyIdOf(createPublicKey(key)), key);
    }
    let activeId = (await readFile(join(dir, 'active'), 'utf8').catch(() => '')).trim();
    const ring = new Keyring(dir, keys, activeId, opts.modulusLength ?? 4096, opts.type ?? 'rsa');
    if (!keys.has(activeId)) {
      activeId = keys.size > 0 ? [...keys.keys()].at(-1)! : await ring.rotate();
      await ring.setActive(activeId);
    }
    return ring;
  }

  /**
   * openNode opens a node's ring (`<node-dir>/secrets/keys`): X25519 pairs, so a node registering
   * for the first time does not spend a CPU-second (RSA-4096) before its Secrets can be delivered.
   */
  static openNode(nodeDir: string): Promise<Keyring> {
    return Keyring.open(nodeDir, { type: 'x25519' });
  }

  /**
   * openUp opens the cluster ring of a `gitcell up` cluster: a new one gets an X25519 pair, as a
   * node's does. RSA-4096 took 0.6 to 1.8 CPU-seconds on this 2-core machine (six runs), on up's
   * path to its first task: the repository's Secrets are re-sealed with the new key before the
   * control plane starts. X25519 with HKDF and AES-256-GCM (ECIES, as age does) is 128-bit
   * security, and `gitcell secret seal --cert` seals to either kind; a ring that already holds a
   * pair (RSA or not) is opened as it is.
   */
  static openUp(stateDir: string): Promise<Keyring> {
    return Keyring.open(stateDir, { type: 'x25519' });
  }

  /** activeKeyId names the key pair new secrets are sealed with. */
  get activeKeyId(): string {
    return this.activeId;
  }

  /** publicKeyPem is the active public key (SPKI PEM): what `gitcell secret pubkey` prints. */
  publicKeyPem(): string {
    return createPublicKey(this.privateKey(this.activeId)!).export({ type: 'spki', format: 'pem' }).toString();
  }

  /**
   * privateKey returns the private key of a key id, or undefined when this ring lacks it. A key
   * unknown in memory is looked up on disk once, so a pair added by `gitcell secret rotate-key`
   * while a reconciler runs opens the Secrets sealed with it without a restart.
   */
  privateKey(keyId: string): KeyObject | undefined {
    const known = this.keys.get(keyId);
    if (known || !/^[0-9a-f]{16}$/.test(keyId)) return known;
    try {
      const key = createPrivateKey(readFileSync(join(this.dir, `${keyId}.pem`), 'utf8'));
      if (keyIdOf(createPublicKey(key)) !== keyId) return undefined;
      this.keys.set(keyId, key);
      return key;
    } catch {
      return undefined;
    }
  }

  /** keyIds lists every key pair the ring holds. */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** rotate generates a new key pair (RSA, 4096 bits by default; or X25519) and makes it active; old pairs keep decrypting. */
  async rotate(): Promise<string> {
    const { privateKey } = this.type === 'x25519' ? generateKeyPairSync('x25519') : await generateKeyPairAsync('rsa', { modulusLength: this.modulusLength });
    await this.add(privateKey);
    const id = keyIdOf(createPublicKey(privateKey));
    await this.setActive(id);
    return id;
  }

  /**
   * exportBackup returns every key pair encrypted with a passphrase (scrypt + AES-256-GCM), for
   * keeping in the store: a lost state directory then loses no secret.
   */
  async exportBackup(passphrase: string): Promise<string> {
    const payload = JSON.stringify({
      active: this.activeId,
      keys: [...this.keys.values()].map((k) => k.export({ type: 'pkcs8', format: 'pem' }).toString()),
    });
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = await scryptAsync(passphrase, salt, 32, SCRYPT);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const ciphertext = Buffer.concat([cipher.update(payload), cipher.final()]);
    return JSON.stringify({ v: 1, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: ciphertext.toString('base64') });
  }

  /** importBackup adds the key pairs of a backup to the ring (E_KEY_BACKUP on a wrong passphrase). */
  async importBackup(backup: string, passphrase: string): Promise<void> {
    let parsed: { salt: string; iv: string; tag: string; data: string };
    let payload: { active: string; keys: string[] };
    try {
      parsed = JSON.parse(backup);
      const key = await scryptAsync(passphrase, Buffer.from(parsed.salt, 'base64'), 32, SCRYPT);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parsed.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(parsed.tag, 'base64'));
      payload = JSON.parse(Buffer.concat([decipher.update(Buffer.from(parsed.data, 'base64')), decipher.final()]).toString('utf8'));
    } catch (err) {
      throw new SecretsError(ErrorCodes.KeyBackup, 'sealing key backup cannot be opened: wrong passphrase or damaged backup', {}, { cause: err });
    }
    for (const pem of payload.keys) await this.add(createPrivateKey(pem));
    if (this.keys.has(payload.active)) await this.setActive(payload.active);
  }

  private async add(privateKey: KeyObject): Promise<void> {
    const id = keyIdOf(createPublicKey(privateKey));
    const path = join(this.dir, `${id}.pem`);
    await writeFileAtomic(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    this.keys.set(id, privateKey);
  }

  private async setActive(id: string): Promise<void> {
    await writeFileAtomic(join(this.dir, 'active'), `${id}\n`, { mode: 0o600 });
    this.activeId = id;
  }
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
