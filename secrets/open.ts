import { createHash, type KeyObject } from 'node:crypto';
import { ALLOW_PLAINTEXT_ANNOTATION, type Secret } from '../api/manifests.ts';
import { SecretsError } from '../lib/errors.ts';
import { openValue } from './envelope.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/**
 * secretVersion is the version of a Secret as committed: a hash of its sealed (or dev plaintext)
 * values, never of the plaintext. It enters the template hash of every task that mounts the Secret,
 * so changing a value in Git rolls exactly those tasks.
 */
export function secretVersion(secret: Pick<Secret, 'spec'>): string {
  const spec = secret.spec ?? {};
  const canonical = JSON.stringify([sorted(spec.encryptedData), sorted(spec.data), sorted(spec.stringData)]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** OpenSecretOptions: where the private keys are, and whether dev plaintext values are allowed. */
export interface OpenSecretOptions {
  privateKeyFor: (keyId: string) => KeyObject | undefined;
  allowPlaintextSecrets?: boolean;
}

/**
 * openSecret decrypts every value of a Secret manifest. Any value that does not open (tampered,
 * moved from another Secret, sealed with an unknown key) fails the whole Secret with an error naming
 * it and the key, so the revision carrying it is not applied.
 */
export function openSecret(secret: Secret, options: OpenSecretOptions): Map<string, Buffer> {
  const namespace = secret.metadata.namespace ?? 'default';
  const name = secret.metadata.name;
  const values = new Map<string, Buffer>();
  for (const [key, sealed] of Object.entries(secret.spec?.encryptedData ?? {})) {
    values.set(key, openValue(sealed, { namespace, name, key }, options.privateKeyFor));
  }
  const plaintext = { ...decodeBase64Values(secret.spec?.data ?? {}), ...mapValues(secret.spec?.stringData ?? {}, (v) => Buffer.from(v)) };
  if (Object.keys(plaintext).length > 0) {
    const allowed = options.allowPlaintextSecrets === true && secret.metadata.annotations?.[ALLOW_PLAINTEXT_ANNOTATION] === 'true';
    if (!allowed) {
      throw new SecretsError(ErrorCodes.SecretPlaintext, `Secret ${namespace}/${name}: plaintext values (data/stringData) are refused; seal them with \`gitcell secret seal\``, { namespace, name });
    }
    for (const [key, value] of Object.entries(plaintext)) values.set(key, value);
  }
  return values;
}

function sorted(values: Record<string, string> | undefined): [string, string][] {
  return Object.entries(values ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function mapValues<A, B>(record: Record<string, A>, fn: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v)]));
}

function decodeBase64Values(record: Record<string, string>): Record<string, Buffer> {
  return mapValues(record, (v) => Buffer.from(v, 'base64'));
}
