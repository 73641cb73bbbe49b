/**
 * Restart policy and crash-loop backoff with kubelet's shape, pure. After an exit the restart
 * policy decides whether the task runs again; if so it waits a delay that starts at `initialMs`,
 * doubles per consecutive crash up to `maxMs`, and resets after the container ran cleanly for
 * `resetAfterMs`.
 */
import type { RestartPolicy } from '../api/index.ts';
import { nextBackoffDelay, type BackoffOptions as DelayOptions } from '../lib/index.ts';

/**
 * BackoffOptions tune the crash-loop delay (lib/'s exponential backoff, exact, factor 2) and when a
 * clean run resets it; every field is configurable so tests run in seconds.
 */
export interface BackoffOptions extends DelayOptions {
  resetAfterMs: number;
}

/** defaultBackoffOptions: 10 s doubling to 5 min, reset after 10 min of clean running (kubelet). */
export function defaultBackoffOptions(overrides: Partial<BackoffOptions> = {}): BackoffOptions {
  return { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000, ...overrides };
}

/** shouldRestart applies a restart policy to an exit: Always restarts, OnFailure only non-zero, Never never. */
export function shouldRestart(policy: RestartPolicy, exitCode: number): boolean {
  switch (policy) {
    case 'Always':
      return true;
    case 'OnFailure':
      return exitCode !== 0;
    case 'Never':
      return false;
  }
}

/**
 * nextBackoff returns the delay before the next restart, given the previous delay (undefined if
 * none yet) and how long the container that just exited ran.
 */
export function nextBackoff(opts: BackoffOptions, previousMs: number | undefined, ranForMs: number): number {
  return nextBackoffDelay(opts, ranForMs >= opts.resetAfterMs ? undefined : previousMs);
}

/** ExitOutcome is what happens to a task after its container exited. */
export type ExitOutcome =
  | { action: 'restart'; delayMs: number; state: 'backoff' }
  | { action: 'finish'; state: 'succeeded' | 'failed' };

/**
 * decideExit combines policy and backoff: a batch or service task's exit becomes a delayed restart
 * or a terminal state (succeeded for exit 0, failed otherwise).
 */
export function decideExit(
  policy: RestartPolicy,
  exitCode: number,
  opts: BackoffOptions,
  previousMs: number | undefined,
  ranForMs: number,
): ExitOutcome {
  if (shouldRestart(policy, exitCode)) {
    return { action: 'restart', delayMs: nextBackoff(opts, previousMs, ranForMs), state: 'backoff' };
  }
  return { action: 'finish', state: exitCode === 0 ? 'succeeded' : 'failed' };
}

/**
 * startFailureBackoff is the delay before retrying a start that failed (no container ran: a missing
 * image, a Secret not delivered yet): `initialMs` first, then the previous delay doubled, up to
 * `maxMs`. Unlike a crash, a clean run never came in between, so nothing resets it.
 */
export function startFailureBackoff(opts: BackoffOptions, previousMs: number | undefined): number {
  return nextBackoffDelay(opts, previousMs);
}
