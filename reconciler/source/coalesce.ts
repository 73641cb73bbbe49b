// Both sources read their branch tip on bursts of triggers (file events, webhooks, polls); reads must
// never overlap, yet a trigger that lands during a read must not be lost. One small primitive serves both.

/** Coalesced is a run that never overlaps itself (see coalesce). */
export interface Coalesced<T> {
  /** call starts a run, or joins the one in flight and queues one more behind it. */
  call(): Promise<T>;
  /** inFlight is the run in progress, if any, for a stop() to wait on. */
  inFlight(): Promise<T> | undefined;
}

/** CoalesceOptions tune what happens to the queued run. */
export interface CoalesceOptions {
  /** rerun says whether the queued run may start now (default: always); a refused one stays queued. */
  rerun?: () => boolean;
  /** onRerunError hears the failure of a queued run, which no caller awaits. */
  onRerunError?: (err: unknown) => void;
}

/**
 * coalesce wraps `run` so that calls never overlap: a call while a run is in flight joins it and
 * queues one more run after it, so a burst of any size costs at most two runs and the last caller's
 * trigger is always followed by a complete run.
 */
export function coalesce<T>(run: () => Promise<T>, opts: CoalesceOptions = {}): Coalesced<T> {
  let current: Promise<T> | undefined;
  let again = false;
  const call = (): Promise<T> => {
    if (current) {
      again = true;
      return current;
    }
    current = run().finally(() => {
      current = undefined;
      if (again && (opts.rerun?.() ?? true)) {
        again = false;
        call().catch((err: unknown) => opts.onRerunError?.(err));
      }
    });
    return current;
  };
  return { call, inFlight: () => current };
}
