/**
 * PassRunner: the one "decide from the caches, then write" loop of the control plane (the controllers,
 * the endpoints loop, the secret distributor). Its contract:
 * - `request()` asks for a pass. Asks gather: one pass follows however many asks arrive within the
 *   debounce, and asks during a pass make exactly one more pass after it (never two at once).
 * - A pass starts only once `ready()` holds (informers synced); an ask before that is remembered and
 *   acted on by the first ask after (informers ask when they sync).
 * - A pass that throws is retried after an exponential backoff (the store is in trouble: do not hammer
 *   it); one that succeeds resets the backoff. A pass may `request()` itself (a lost write race) to
 *   run again after it.
 * - `holdFor(ms)` keeps the next pass from starting sooner (pacing: a loop that decides for 300 ms
 *   waits as long before deciding again, so the watches' deliveries keep flowing).
 * - `tickMs` asks every so often (time-driven decisions: deadlines, node grace, cron).
 * - `stop()` (or the signal) cancels what is scheduled and waits for the running pass.
 */
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import type { Logger } from './log.ts';

/** PassRunnerOptions configure a PassRunner. */
export interface PassRunnerOptions {
  /** one pass; it throws if it failed and must be retried */
  pass: () => Promise<void>;
  /** aborting it stops the runner */
  signal: AbortSignal;
  /** how long asks gather before a pass, and the pause after a pass asked for again (default 5 ms) */
  debounceMs?: number;
  /** a pass starts only when this holds (default: always) */
  ready?: () => boolean;
  /** delays after failed passes (default 100 ms doubling to 5 s) */
  backoff?: BackoffOptions;
  /** ask for a pass this often (default: never) */
  tickMs?: number;
  /** told of each failed pass, with the number of failures in a row */
  onError?: (err: unknown, failures: number) => void;
}

/**
 * LoopOptions are what every leader-run loop on a PassRunner takes (controllers, endpoints,
 * autoscaler, secret distributor): the store it reads and writes, the signal that ends it, whether
 * this replica may still write, its clock and its log.
 */
export interface LoopOptions<S> {
  store: S;
  /** the loop runs until this aborts (a leader's ctx.signal, or shutdown) */
  signal: AbortSignal;
  /** whether this replica may still write (a leader's ctx.valid); checked before every write */
  valid?: () => boolean;
  now?: () => number;
  log?: Logger;
}

/** RunningLoop is a loop built on a PassRunner, as its starter returns it. */
export interface RunningLoop {
  /** resolves once the loop has stopped (its signal aborted) and its watches are closed */
  readonly done: Promise<void>;
  /** completed passes so far */
  passes(): number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5000 };

/** PassRunner runs passes by the contract in the file comment. */
export class PassRunner {
  /** completed (not failed) passes */
  passes = 0;
  /** failed passes in a row */
  failures = 0;
  private dirty = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout | undefined;
  private heldUntil = 0;
  private current: Promise<void> = Promise.resolve();

  constructor(private readonly o: PassRunnerOptions) {
    if (o.tickMs !== undefined) this.ticker = setInterval(() => this.request(0), o.tickMs);
    o.signal.addEventListener('abort', () => this.cancel(), { once: true });
  }

  /** request asks for a pass no sooner than `delayMs` from now (default: the debounce). */
  request(delayMs = this.o.debounceMs ?? 5): void {
    this.dirty = true;
    if (this.running || this.timer || this.o.signal.aborted) return;
    if (this.o.ready && !this.o.ready()) return;
    this.timer = setTimeout(() => void this.run(), Math.max(delayMs, this.heldUntil - Date.now()));
  }

  /** holdFor keeps the next pass from starting within `ms` from now. */
  holdFor(ms: number): void {
    this.heldUntil = Math.max(this.heldUntil, Date.now() + ms);
  }

  /** stop cancels what is scheduled and resolves once the running pass (if any) has ended. */
  async stop(): Promise<void> {
    this.cancel();
    await this.current;
  }

  private cancel(): void {
    clearInterval(this.ticker);
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.o.signal.aborted) return;
    this.running = true;
    this.dirty = false;
    let release!: () => void;
    this.current = new Promise((r) => (release = r));
    try {
      await this.o.pass();
      this.passes++;
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.dirty = true;
      this.o.onError?.(err, this.failures);
    } finally {
      this.running = false;
      release();
    }
    if (this.dirty && !this.o.signal.aborted) this.request(this.failures ? backoffDelay(this.o.backoff ?? DEFAULT_BACKOFF, this.failures) : undefined);
  }
}
