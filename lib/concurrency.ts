/**
 * mapLimit, the one bounded worker pool: runs `fn` over `items` with at most `limit` calls in
 * flight, started in order, and returns the results in the items' order. The first failure stops
 * new starts; the pool waits for the calls already running and then rejects with that failure (so
 * no work is left running behind the caller's back).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure) throw failure.err;
  return results;
}

/**
 * Limiter bounds how many independently arriving jobs run at once (mapLimit's bound for work that
 * does not come as one array): `run` waits for a free slot, first come first served.
 */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** run calls `fn` once fewer than `limit` jobs are running, and resolves with its result. */
  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next(); // the slot passes straight to the next job
      else this.active--;
    }
  }

  /** pending is how many jobs are running or waiting. */
  get pending(): number {
    return this.active + this.queue.length;
  }
}

/** withDeadline settles as `p` does, or rejects after `ms` (every wait has a deadline); the timer never keeps the process alive. */
export function withDeadline<T>(p: Promise<T>, ms: number, what = 'the wait'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
