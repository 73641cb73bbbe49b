/**
 * Lease decisions for leader election, pure (no I/O, time passed in) so every case is unit tested.
 *
 * NATS 2.9 has no per-key TTL, so a lease never expires on the server: a candidate judges it lapsed
 * when it has watched the lease record stay at the same revision for a full lease period on its own
 * monotonic clock (as Kubernetes' client-go does). Wall-clock times in the record are for people and
 * tools; no decision compares clocks of two machines.
 *
 * Safety: a leader counts its lease from the moment it SENT its last successful renewal and stops
 * acting `safetyMs` before a lease period has passed since then. A candidate can only observe that
 * renewal after it was sent, and waits a full lease period after observing it, so the old leader has
 * stopped before a new one starts (given clocks that run at about the same rate). The term, raised
 * by every takeover, is the fencing token for what still slips through (a paused process).
 */
import { StoreError, ErrorCodes } from '../lib/index.ts';

/** Lease is the record in the `leases` bucket under the lease's name. */
export interface Lease {
  /** identity of the holder; "" once released */
  holder: string;
  /** raised by one on every change of holder: the fencing token */
  term: number;
  leaseMs: number;
  acquiredAt: string;
  renewedAt: string;
}

/** Observation is what a candidate last saw of the lease record and since when (monotonic ms). */
export interface Observation {
  revision: number;
  since: number;
}

/** LeaseDecision is what a candidate does next. */
export type LeaseDecision =
  | { action: 'acquire'; lease: Lease; expectRevision: number | undefined; reason: string }
  | { action: 'wait'; untilMs: number; holder: string };

/** observe updates a candidate's observation: the clock restarts whenever the revision changes. */
export function observe(prev: Observation | undefined, revision: number, now: number): Observation {
  return prev && prev.revision === revision ? prev : { revision, since: now };
}

/**
 * decideCandidate says whether a candidate takes the lease now: when there is none (term 1), it was
 * released or held under the candidate's own identity (term + 1 at once), or it stayed unrenewed for
 * a full lease period as observed by this candidate (term + 1). `expectRevision` is the CAS guard
 * (undefined: create).
 */
export function decideCandidate(args: {
  identity: string;
  current: { value: Lease; revision: number } | undefined;
  observation: Observation | undefined;
  now: number;
  leaseMs: number;
  wallNow: string;
}): LeaseDecision {
  const { identity, current, observation, now, leaseMs, wallNow } = args;
  const fresh = (term: number): Lease => ({ holder: identity, term, leaseMs, acquiredAt: wallNow, renewedAt: wallNow });
  if (!current) return { action: 'acquire', lease: fresh(1), expectRevision: undefined, reason: 'no lease yet' };
  const { value, revision } = current;
  const next = fresh(value.term + 1);
  if (value.holder === '') return { action: 'acquire', lease: next, expectRevision: revision, reason: 'lease released' };
  if (value.holder === identity) return { action: 'acquire', lease: next, expectRevision: revision, reason: 'lease held under our own identity (restart)' };
  if (!observation || observation.revision !== revision) {
    return { action: 'wait', untilMs: now + leaseMs, holder: value.holder };
  }
  const lapseAt = observation.since + leaseMs;
  if (now >= lapseAt) return { action: 'acquire', lease: next, expectRevision: revision, reason: `lease of ${value.holder} unrenewed for ${now - observation.since} ms` };
  return { action: 'wait', untilMs: lapseAt, holder: value.holder };
}

/** leaderDeadline is when a leader must stop acting: lease period minus margin after its last renewal was sent. */
export function leaderDeadline(lastRenewSentAt: number, leaseMs: number, safetyMs: number): number {
  return lastRenewSentAt + leaseMs - safetyMs;
}

/** leaseTimings fills renew period and safety margin from a lease period, and checks them. */
export function leaseTimings(leaseMs: number, renewMs?: number, safetyMs?: number): { leaseMs: number; renewMs: number; safetyMs: number } {
  const renew = renewMs ?? Math.max(1, Math.floor(leaseMs / 3));
  const safety = safetyMs ?? Math.min(renew, Math.floor(leaseMs / 4));
  if (!(leaseMs > 0) || !(renew > 0) || renew + safety >= leaseMs) {
    throw new StoreError(ErrorCodes.LeaseTimings, `lease timings: need renewMs (${renew}) + safetyMs (${safety}) < leaseMs (${leaseMs})`, { leaseMs, renewMs: renew, safetyMs: safety });
  }
  return { leaseMs, renewMs: renew, safetyMs: safety };
}
