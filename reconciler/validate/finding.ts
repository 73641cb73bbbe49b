// What a check reports before it is placed in a file: a field path, a stable code and a message.
import type { FieldPath } from '../manifests/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

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
  schema: ErrorCodes.Schema,
  unknownKind: ErrorCodes.UnknownKind,
  duplicate: ErrorCodes.DuplicateObject,
  secretNotFound: ErrorCodes.SecretNotFound,
  secretKeyNotFound: ErrorCodes.SecretKeyNotFound,
  cron: ErrorCodes.CronInvalid,
  timeZone: ErrorCodes.TimezoneInvalid,
  limitBelowRequest: ErrorCodes.LimitBelowRequest,
  plaintextSecret: ErrorCodes.PlaintextSecret,
  sealedFormat: ErrorCodes.SealedFormat,
  conflict: ErrorCodes.FieldConflict,
  unknownMetric: ErrorCodes.UnknownMetric,
  portNotFound: ErrorCodes.PortNotFound,
  crd: ErrorCodes.CrdInvalid,
  apiVersion: ErrorCodes.ApiVersion,
  tooManyProblems: ErrorCodes.TooManyProblems,
  addressClaimed: ErrorCodes.AddressClaimed,
  sloNoData: ErrorCodes.SloNoData,
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
