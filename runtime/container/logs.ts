// Container logs: written by awk in the shim (one process per stream, timestamps, size-based rotation
// keeping N files), read here. Line format: `<RFC 3339 UTC timestamp, seconds> <text>`.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { readdirSyncOrEmpty } from '../../lib/fs.ts';

/**
 * LOG_AWK timestamps each line and rotates LOGF (from the environment) when it passes `max` bytes:
 * LOGF.(keep-1) -> LOGF.keep, ..., LOGF -> LOGF.1. Only numbers are spliced into the shell command;
 * the path travels in the environment, so no path can inject shell syntax.
 */
export const LOG_AWK = [
  'BEGIN { f = ENVIRON["LOGF"]; n = 0 }',
  '{ line = strftime("%Y-%m-%dT%H:%M:%SZ", systime(), 1) " " $0; print line > f; fflush(f); n += length(line) + 1;',
  '  if (n >= max + 0) { close(f);',
  '    system("i=" (keep - 1) "; while [ $i -ge 1 ]; do if [ -e \\"$LOGF.$i\\" ]; then mv -f \\"$LOGF.$i\\" \\"$LOGF.$((i+1))\\"; fi; i=$((i-1)); done; mv -f \\"$LOGF\\" \\"$LOGF.1\\"");',
  '    n = 0 } }',
].join('\n');

/** LogStream names the two captured streams. */
export type LogStream = 'stdout' | 'stderr';

/** LogLine is one captured line. */
export interface LogLine {
  stream: LogStream;
  time: string;
  text: string;
}

/** parseLogLine splits a stored line into its timestamp and text. */
export function parseLogLine(stream: LogStream, raw: string): LogLine {
  const sp = raw.indexOf(' ');
  return sp < 0 ? { stream, time: '', text: raw } : { stream, time: raw.slice(0, sp), text: raw.slice(sp + 1) };
}

/** logFiles lists a stream's files oldest first (LOGF.N ... LOGF.1, LOGF). */
export function logFiles(logDir: string, stream: LogStream): string[] {
  const base = join(logDir, `${stream}.log`);
  const rotated: { n: number; path: string }[] = [];
  for (const name of readdirSyncOrEmpty(logDir)) {
    const m = new RegExp(`^${stream}\\.log\\.(\\d+)$`).exec(name);
    if (m) rotated.push({ n: Number(m[1]), path: join(logDir, name) });
  }
  rotated.sort((a, b) => b.n - a.n);
  return [...rotated.map((r) => r.path), ...(fs.existsSync(base) ? [base] : [])];
}

/** readLogs returns every stored line of both streams, each stream in order. */
export function readLogs(logDir: string): LogLine[] {
  const out: LogLine[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    for (const file of logFiles(logDir, stream)) {
      for (const raw of fs.readFileSync(file, 'utf8').split('\n')) if (raw) out.push(parseLogLine(stream, raw));
    }
  }
  return out;
}

/**
 * LogFollower tails one stream's current file across rotations: it keeps the open file descriptor,
 * so a renamed file is read to its end before the new one is opened.
 */
export class LogFollower {
  private fd: number | undefined;
  private ino = -1;
  private pos = 0;
  private partial = '';
  constructor(private readonly path: string, readonly stream: LogStream) {}

  /** poll returns the complete lines written since the last call. */
  poll(): LogLine[] {
    const lines: LogLine[] = [];
    for (;;) {
      if (this.fd === undefined) {
        try {
          this.fd = fs.openSync(this.path, 'r');
        } catch {
          return lines;
        }
        this.ino = fs.fstatSync(this.fd).ino;
        this.pos = 0;
      }
      this.drain(lines);
      const cur = fs.statSync(this.path, { throwIfNoEntry: false });
      if (cur && cur.ino !== this.ino) {
        this.drain(lines); // the old file is complete once renamed
        fs.closeSync(this.fd);
        this.fd = undefined;
        continue;
      }
      return lines;
    }
  }

  private drain(lines: LogLine[]): void {
    if (this.fd === undefined) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = fs.readSync(this.fd, buf, 0, buf.length, this.pos);
      if (n <= 0) break;
      this.pos += n;
      const text = this.partial + buf.subarray(0, n).toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const raw of parts) lines.push(parseLogLine(this.stream, raw));
    }
  }

  /** close releases the file descriptor. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * followLogFiles calls onLine for every line of a container's logs, from the first, until the
 * container has exited (exit.json in `containerDir`) and its logs are drained, or `signal` aborts.
 * Polls every 20 ms: log files are written by another process.
 */
export async function followLogFiles(containerDir: string, logDir: string, onLine: (line: LogLine) => void, signal?: AbortSignal): Promise<void> {
  const followers = [new LogFollower(join(logDir, 'stdout.log'), 'stdout'), new LogFollower(join(logDir, 'stderr.log'), 'stderr')];
  try {
    for (;;) {
      const done = fs.existsSync(join(containerDir, 'exit.json')) || !fs.existsSync(containerDir);
      for (const f of followers) for (const l of f.poll()) onLine(l);
      if (done || signal?.aborted) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    for (const f of followers) f.close();
  }
}
