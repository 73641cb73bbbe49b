/**
 * Progress receives byte counts of blob transfers. The CLI renders it with cli-progress on a TTY;
 * libraries and non-TTY runs use NO_PROGRESS (quiet).
 */
export interface Progress {
  /** start announces a transfer of `total` bytes, `done` of which are already there (resume). */
  start(id: string, label: string, total: number, done: number): void;
  /** advance adds `bytes` to a transfer. */
  advance(id: string, bytes: number): void;
  /** finish ends a transfer (status "done", "exists" or "failed"). */
  finish(id: string, status: 'done' | 'exists' | 'failed'): void;
  /** stop ends the whole display. */
  stop(): void;
}

/** NO_PROGRESS reports nothing. */
export const NO_PROGRESS: Progress = { start() {}, advance() {}, finish() {}, stop() {} };

/** mapLimit runs `fn` over `items` with at most `limit` running at once; rejects on the first error after all settle. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
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
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.err;
  return results;
}
