/**
 * Exponential backoff, the one gitcell uses everywhere something is retried: a delay that starts at
 * `initialMs`, grows by `factor` per consecutive failure up to `maxMs`, optionally with jitter so
 * racing retriers stop colliding in lockstep. The constants belong to each caller (a crash loop
 * waits minutes, a watch restart milliseconds); the shape lives here once.
 */

/** BackoffOptions are one caller's constants. */
export interface BackoffOptions {
  /** the first delay */
  initialMs: number;
  /** no delay is longer than this */
  maxMs: number;
  /** growth per failure (default 2) */
  factor?: number;
  /**
   * jitter: `'full'` draws each delay uniformly from [0, delay) (AWS's "full jitter", for writers
   * racing on one key); omitted, delays are exact (restarts a human reads in a log)
   */
  jitter?: 'full';
}

/**
 * backoffDelay returns the delay before retry number `attempt` (0 = the first retry):
 * initialMs × factor^attempt, capped at maxMs (then jittered if asked). Pure but for the jitter.
 */
export function backoffDelay(opts: BackoffOptions, attempt: number): number {
  const factor = opts.factor ?? 2;
  // Cap the exponent so factor^attempt never overflows to Infinity for a long-failing caller.
  const exact = Math.min(opts.maxMs, opts.initialMs * factor ** Math.min(Math.max(0, attempt), 64));
  return opts.jitter === 'full' ? Math.random() * exact : exact;
}

/**
 * nextBackoffDelay grows a previous delay by one step: `initialMs` when there was none, else
 * previous × factor, never below initialMs nor above maxMs. For callers that store the last delay
 * (a task's journal) rather than an attempt count.
 */
export function nextBackoffDelay(opts: BackoffOptions, previousMs: number | undefined): number {
  if (previousMs === undefined) return Math.min(opts.initialMs, opts.maxMs);
  return Math.min(opts.maxMs, Math.max(opts.initialMs, previousMs * (opts.factor ?? 2)));
}

/**
 * Backoff counts consecutive failures of one retry loop: `next()` returns the delay to wait now
 * and counts the failure, `reset()` after a success starts again from initialMs.
 */
export class Backoff {
  private attempts = 0;

  constructor(readonly options: BackoffOptions) {}

  /** failures is how many delays were handed out since the last reset. */
  get failures(): number {
    return this.attempts;
  }

  /** next returns the delay before the next try and counts this failure. */
  next(): number {
    return backoffDelay(this.options, this.attempts++);
  }

  /** reset forgets the failures: the next delay is initialMs again. */
  reset(): void {
    this.attempts = 0;
  }
}

/**
 * sleep resolves after `ms`, or at once when `signal` aborts (it never rejects): a retry loop
 * checks its signal after waking. The timer does not keep the process alive past an abort.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
