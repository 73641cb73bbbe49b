// What a check reports before it is placed in a file: a field path, a stable code and a message.
import type { FieldPath } from '../manifests/index.ts';

/** Finding is one problem of one object, located by field path. */
export interface Finding {
  path: FieldPath;
  code: string;
  message: string;
}

/** Report collects findings of one object. */
export type Report = (path: FieldPath, code: string, message: string) => void;

/** ValidationCode lists the stable codes of validation problems (quantity codes come from api/). */
export const ValidationCode = {
  schema: 'E_SCHEMA',
  unknownKind: 'E_UNKNOWN_KIND',
  duplicate: 'E_DUPLICATE_OBJECT',
  secretNotFound: 'E_SECRET_NOT_FOUND',
  secretKeyNotFound: 'E_SECRET_KEY_NOT_FOUND',
  cron: 'E_CRON_INVALID',
  timeZone: 'E_TIMEZONE_INVALID',
  limitBelowRequest: 'E_LIMIT_BELOW_REQUEST',
  plaintextSecret: 'E_PLAINTEXT_SECRET',
  sealedFormat: 'E_SEALED_FORMAT',
  conflict: 'E_FIELD_CONFLICT',
  portNotFound: 'E_PORT_NOT_FOUND',
  crd: 'E_CRD_INVALID',
  apiVersion: 'E_API_VERSION',
  tooManyProblems: 'E_TOO_MANY_PROBLEMS',
  addressClaimed: 'E_ADDRESS_CLAIMED',
} as const;

/** isRecord tells a plain mapping from everything else (arrays, null, scalars). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** recordAt returns `v[key]` when it is a mapping, else undefined; checks run on objects that may have failed the schema. */
export function recordAt(v: unknown, key: string): Record<string, unknown> | undefined {
  const x = isRecord(v) ? v[key] : undefined;
  return isRecord(x) ? x : undefined;
}

/** arrayAt returns `v[key]` when it is an array, else an empty array. */
export function arrayAt(v: unknown, key: string): unknown[] {
  const x = isRecord(v) ? v[key] : undefined;
  return Array.isArray(x) ? x : [];
}

/** stringAt returns `v[key]` when it is a string. */
export function stringAt(v: unknown, key: string): string | undefined {
  const x = isRecord(v) ? v[key] : undefined;
  return typeof x === 'string' ? x : undefined;
}
