import type { Secret } from '../../api/manifests.ts';
import { errorMessage, isGitcellError } from '../../lib/errors.ts';
import { openSecret, type OpenSecretOptions } from '../../secrets/index.ts';
import type { Located } from '../apply/build.ts';
import type { ValidationMessage } from '../apply/sync.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/**
 * checkSealedSecrets opens every Secret of a revision with the cluster's keys, as part of its
 * validation: a value that was tampered with, moved from another Secret or sealed with a key this
 * cluster lacks makes the whole revision invalid (Stalled, nothing applied; the last good revision
 * keeps running), with a problem naming the Secret, its file and line, and the key. Plaintext is
 * dropped at once; only the verdict leaves this function.
 */
export function checkSealedSecrets(objects: readonly Located[], options: OpenSecretOptions): ValidationMessage[] {
  const problems: ValidationMessage[] = [];
  for (const { object, source } of objects) {
    if (object.kind !== 'Secret') continue;
    const secret = object as unknown as Secret;
    try {
      for (const value of openSecret(secret, options).values()) value.fill(0);
    } catch (err) {
      const key = isGitcellError(err) && typeof err.data.key === 'string' ? err.data.key : undefined;
      problems.push({
        file: source?.file ?? '-',
        line: source?.line ?? 0,
        column: source?.column ?? 0,
        code: isGitcellError(err) ? err.code : ErrorCodes.SecretInvalid,
        message: errorMessage(err),
        object: `Secret/${secret.metadata.name}`,
        ...(key ? { path: `spec.encryptedData.${key}` } : {}),
      });
    }
  }
  return problems;
}
