import { Backoff, GitcellError, sleep, StoreError, StoreErrors, type FamilyError, type StoreErrorCode as LibStoreErrorCode } from '../lib/index.ts';

/**
 * StoreErrorCodes are the stable codes of errors the store raises on purpose: the Store family of
 * the error index (lib/error-codes.ts), where each one's meaning is written. Callers switch on them
 * with isGitcellError(err, StoreErrorCodes.Conflict).
 */
export const StoreErrorCodes = StoreErrors;

/** StoreErrorCode is one of StoreErrorCodes. */
export type StoreErrorCode = LibStoreErrorCode;

/** storeError builds a GitcellError with a store code; the NATS error, if any, is kept as cause. */
export function storeError(code: StoreErrorCode, message: string, data: Record<string, unknown> = {}, cause?: unknown): FamilyError<StoreErrorCode> {
  return new StoreError(code, message, data, cause === undefined ? undefined : { cause });
}

// JetStream API error codes that mean "the expected last sequence did not match" (a lost CAS).
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

/** isWrongLastSequence tells whether a JetStream error is a compare-and-set mismatch. */
export function isWrongLastSequence(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: unknown } } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'number' ? e.code : e.api_error?.err_code;
  if (typeof code === 'number' && WRONG_LAST_SEQUENCE.has(code)) return true;
  return /wrong last sequence/i.test(String((err as Error).message ?? ''));
}

/**
 * translateError maps a NATS/JetStream failure to a store GitcellError naming the operation, bucket
 * and key, so callers never have to know nats.js error classes.
 */
export function translateError(err: unknown, op: string, bucket: string, key?: string): GitcellError {
  if (err instanceof GitcellError) return err;
  const msg = String((err as Error)?.message ?? err);
  const where = key === undefined ? `bucket ${bucket}` : `${bucket}/${key}`;
  const data = { op, bucket, ...(key === undefined ? {} : { key }) };
  if (isWrongLastSequence(err)) {
    return storeError(StoreErrorCodes.Conflict, `${op} ${where}: revision conflict (someone else wrote first)`, data, err);
  }
  const name = (err as Error)?.name ?? '';
  if (name === 'PermissionViolationError' || /permissions violation/i.test(msg)) {
    return storeError(StoreErrorCodes.PermissionDenied, `${op} ${where}: permission denied (${msg})`, data, err);
  }
  if (/timeout|no responders|disconnect|closed|connection|unavailable|no suitable peers|leader/i.test(`${name} ${msg}`)) {
    return storeError(StoreErrorCodes.Unavailable, `${op} ${where}: NATS unavailable (${msg})`, data, err);
  }
  return storeError(StoreErrorCodes.Failed, `${op} ${where}: ${msg}`, data, err);
}

const TRANSIENT = /no suitable peers|insufficient resources|timeout|jetstream system temporarily unavailable|no responders/i;

/**
 * The retry delays of retryTransient: 50 ms first (a stream leader is often elected by then), growing
 * to 250 ms, so its default 40 attempts still wait about ten seconds in all for a cluster to form.
 */
const TRANSIENT_BACKOFF = { initialMs: 50, maxMs: 250 } as const;

/**
 * retryTransient runs `fn`, retrying (lib's backoff, up to `attempts` times) while it fails the way a
 * cluster that is still forming or a server that just restarted fails: no peers to place replicas
 * on, no JetStream leader yet, timeouts; and errors matching `also`, which the caller knows pass.
 */
export async function retryTransient<T>(fn: () => Promise<T>, attempts = 40, also?: RegExp): Promise<T> {
  const backoff = new Backoff(TRANSIENT_BACKOFF);
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const msg = String((err as Error)?.message ?? err);
      if (i >= attempts || !(TRANSIENT.test(msg) || also?.test(msg))) throw err;
      await sleep(backoff.next());
    }
  }
}
