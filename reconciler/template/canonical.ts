import { createHash } from 'node:crypto';

/**
 * canonicalJson renders a JSON-compatible value with object keys sorted at every level and
 * `undefined` members dropped, so two structurally equal values always give the same text (the
 * basis of every hash the reconciler computes). Arrays keep their order: order is meaningful there.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    // JSON.stringify(undefined) is undefined; inside arrays JSON uses null, do the same.
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** sha256Hex is the hex SHA-256 of a string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** hashOf is the hex SHA-256 of `canonicalJson(value)`: equal values, equal hashes. */
export function hashOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
