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

