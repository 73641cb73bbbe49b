import cliProgress from 'cli-progress';
import type { Progress } from '../runtime/index.ts';

/**
 * Transfer progress of `gitcell image pull|push` on stderr, like docker's: on a terminal one bar per
 * blob with human units, rate and ETA (cli-progress redraws them); elsewhere (pipes, CI logs) plain
 * lines without escape sequences, and only for transfers slow enough to be worth a line, so quick
 * pulls stay quiet:
 *
 *   pull 3f4e5d6c7b8a [=========>          ]  48%  19.2 MiB / 40.0 MiB  3.1 MiB/s  ETA 7s
 *   pull 3f4e5d6c7b8a 19.2 MiB / 40.0 MiB (48%) 3.1 MiB/s ETA 7s          (not a terminal, every 10 s)
 *   pull 3f4e5d6c7b8a done: 40.0 MiB in 13s (3.1 MiB/s)                   (not a terminal, took ≥ 2 s)
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** formatBytes renders a byte count in binary units: "512 B", "1.5 KiB", "40.0 MiB", "1.02 GiB". */
export function formatBytes(n: number): string {
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[u]}`;
}

/** formatDuration renders milliseconds as "0s", "42s", "3m05s", "2h07m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Transfer is one blob's progress: bytes done of total, and what was there when it began (a resume). */
export interface Transfer {
  label: string;
  total: number;
  done: number;
  /** bytes already there at the start (resumed): not counted in the rate */
  startDone: number;
  startedAt: number;
  status?: 'done' | 'exists' | 'failed';
  finishedAt?: number;
}

/** TransferFigures are the human parts of a transfer's line. */
export interface TransferFigures {
  percent: string;
  amount: string;
  rate: string;
  eta: string;
}

/** transferFigures computes percent, "done / total", rate (over this run's bytes) and ETA at `now`. */
export function transferFigures(t: Transfer, now: number): TransferFigures {
  const elapsed = Math.max(1, (t.finishedAt ?? now) - t.startedAt);
  const moved = Math.max(0, t.done - t.startDone);
  const perSec = (moved * 1000) / elapsed;
  const left = Math.max(0, t.total - t.done);
  const percent = t.total > 0 ? Math.floor((t.done * 100) / t.total) : 100;
  return {
    percent: `${percent}%`,
    amount: `${formatBytes(t.done)} / ${formatBytes(t.total)}`,
    rate: moved > 0 && elapsed >= 200 ? `${formatBytes(perSec)}/s` : '--/s',
    eta: left === 0 ? '' : perSec > 0 && elapsed >= 200 ? `ETA ${formatDuration((left * 1000) / perSec)}` : 'ETA --',
  };
}

/** barOf draws `[=====>    ]` of `width` cells for a fraction 0..1. */
export function barOf(fraction: number, width = 20): string {
  const full = Math.min(width, Math.max(0, Math.floor(fraction * width)));
  return `[${'='.repeat(full)}${full < width ? '>' : ''}${' '.repeat(Math.max(0, width - full - 1))}]`;
}

/** ttyLine is a transfer's bar line on a terminal. */
export function ttyLine(verb: string, t: Transfer, now: number): string {
  const f = transferFigures(t, now);
  const tail = t.status === 'done' ? 'done' : t.status === 'failed' ? 'failed' : `${f.rate}  ${f.eta}`.trim();
  return `${verb} ${t.label} ${barOf(t.total > 0 ? t.done / t.total : 1)} ${f.percent.padStart(4)}  ${f.amount}  ${tail}`;
}

/** PlainOptions: where plain lines go, the clock, and when a transfer earns them. */
export interface PlainOptions {
  write: (line: string) => void;
  now?: () => number;
  /** a transfer that took at least this long gets a "done" line (default 2 s) */
  slowMs?: number;
}

/** PlainProgress is a Progress that prints plain lines; tick() prints a line per running transfer. */
export interface PlainProgress extends Progress {
  tick(): void;
}

/** plainProgress reports transfers as plain lines (no escape sequences): see the file comment. */
export function plainProgress(verb: string, o: PlainOptions): PlainProgress {
  const now = o.now ?? Date.now;
  const slowMs = o.slowMs ?? 2000;
  const transfers = new Map<string, Transfer>();
  return {
    start(id, label, total, done) {
      transfers.set(id, { label, total, done, startDone: done, startedAt: now() });
    },
    advance(id, bytes) {
      const t = transfers.get(id);
      if (t) t.done += bytes;
    },
    finish(id, status) {
      const t = transfers.get(id);
      if (!t) return;
      t.status = status;
      t.finishedAt = now();
      if (t.finishedAt - t.startedAt < slowMs && status === 'done') return;
      const f = transferFigures(t, t.finishedAt);
      o.write(status === 'done'
        ? `${verb} ${t.label} done: ${formatBytes(t.total)} in ${formatDuration(t.finishedAt - t.startedAt)} (${f.rate})\n`
        : `${verb} ${t.label} ${status} at ${f.amount}\n`);
    },
    tick() {
      const at = now();
      for (const t of transfers.values()) {
        if (t.status) continue;
        const f = transferFigures(t, at);
        o.write(`${verb} ${t.label} ${f.amount} (${f.percent}) ${f.rate} ${f.eta}`.trimEnd() + '\n');
      }
    },
    stop() {},
  };
}

/** TerminalProgressOptions: the stream (default stderr) and the plain-line interval. */
export interface TerminalProgressOptions {
  stream?: NodeJS.WriteStream;
  intervalMs?: number;
}

/**
 * terminalProgress renders transfers on stderr: bars with units, rate and ETA on a terminal, plain
 * lines for slow transfers otherwise (see the file comment).
 */
export function terminalProgress(verb: string, o: TerminalProgressOptions = {}): Progress {
  const stream = o.stream ?? process.stderr;
  if (!stream.isTTY) {
    const plain = plainProgress(verb, { write: (l) => stream.write(l) });
    const timer = setInterval(() => plain.tick(), o.intervalMs ?? 10_000);
    timer.unref();
    return { ...plain, stop() { clearInterval(timer); } };
  }
  const transfers = new Map<string, Transfer>();
  const multi = new cliProgress.MultiBar({
    stream,
    format: (_opts, _params, payload: { id: string }) => {
      const t = transfers.get(payload.id);
      return t ? ttyLine(verb, t, Date.now()) : '';
    },
    hideCursor: true,
    clearOnComplete: false,
  });
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    start(id, label, total, done) {
      transfers.set(id, { label, total, done, startDone: done, startedAt: Date.now() });
      bars.set(id, multi.create(total, done, { id }));
    },
    advance(id, bytes) {
      const t = transfers.get(id);
      if (t) t.done += bytes;
      bars.get(id)?.increment(bytes);
    },
    finish(id, status) {
      const t = transfers.get(id);
      if (t) {
        t.status = status;
        t.finishedAt = Date.now();
        bars.get(id)?.update(t.done);
      } else if (status === 'exists') multi.log(`${verb} ${id.slice(7, 19)}: already there\n`);
    },
    stop() {
      multi.stop();
    },
  };
}
