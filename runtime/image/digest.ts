import { createHash } from 'node:crypto';
import { ImageError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

const digestPattern = /^sha256:[a-f0-9]{64}$/;

/** isDigest is true for a well-formed sha256 digest ("sha256:" and 64 lowercase hex digits). */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && digestPattern.test(value);
}

/**
 * assertDigest throws E_DIGEST_INVALID unless `value` is a sha256 digest. Only sha256 is accepted:
 * it is what every registry and tool writes, and one algorithm keeps the store's layout simple.
 */
export function assertDigest(value: unknown, where: string): string {
  if (isDigest(value)) return value;
  const shown = typeof value === 'string' ? value.slice(0, 80) : typeof value;
  throw new ImageError(ErrorCodes.DigestInvalid, `${where}: "${shown}" is not a sha256 digest (sha256:<64 hex>)`, { where, value: shown });
}

/** digestHex returns the 64 hex digits of a valid digest. */
export function digestHex(digest: string): string {
  return assertDigest(digest, 'digest').slice('sha256:'.length);
}

/** sha256Digest returns the digest of an in-memory buffer. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
