// Container logs, read here. Two formats on disk:
//   CRI (conmon, Kubernetes' format): logs/container.log, both streams, one line each:
//     `2026-12-04T21:19:30.123456789+00:00 stdout F text` (P = a fragment the next line continues)
//     rotated: container.log.live (a hard link, see rotateLogs), container.log.1 .. .N
//   plain (the sh/awk shim before conmon, and archives of it): stdout.log / stderr.log(.1..N),
//     `<RFC 3339 UTC timestamp, seconds> <text>`
// A LogLine's time is ISO 8601 UTC (`...Z`; milliseconds in the CRI format), so times compare as strings.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { readdirSyncOrEmpty } from '../../lib/fs.ts';

/** CONTAINER_LOG is the file conmon writes (k8s-file driver), in the container's log directory. */
export const CONTAINER_LOG = 'container.log';
/** LIVE_SUFFIX names rotateLogs' hard link to the file conmon writes now (see rotateLogs). */
const LIVE_SUFFIX = '.live';

/** LogStream names the two captured streams. */
export type LogStream = 'stdout' | 'stderr';

/** LogLine is one captured line. */
export interface LogLine {
  stream: LogStream;
  time: string;
  text: string;
}

/** parseLogLine splits a stored line of the plain format into its timestamp and text. */
export function parseLogLine(stream: LogStream, raw: string): LogLine {
  const sp = raw.indexOf(' ');
  return sp < 0 ? { stream, time: '', text: raw } : { stream, time: raw.slice(0, sp), text: raw.slice(sp + 1) };
}

/** criTime turns a CRI timestamp (nanoseconds, zone offset) into ISO 8601 UTC with milliseconds. */
export function criTime(ts: string): string {
  if (ts.endsWith('+00:00') && ts.length >= 24) return `${ts.slice(0, 23)}Z`;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toISOString();
}

/**
 * LineDecoder turns raw lines of one file into LogLines of one stream: CRI lines of the other stream
 * are skipped and P fragments are joined to the line that completes them; plain lines pass as they are.
 */
export class LineDecoder {
  private pending: { time: string; text: string } | undefined;
  constructor(readonly stream: LogStream, readonly cri: boolean) {}

  /** decode returns the line `raw` completes, or undefined (another stream's, or a fragment). */
  decode(raw: string): LogLine | undefined {
    if (!this.cri) return parseLogLine(this.stream, raw);
    const a = raw.indexOf(' ');
    const b = raw.indexOf(' ', a + 1);
    const c = raw.indexOf(' ', b + 1);
    if (a < 0 || b < 0) return undefined;
    if (raw.slice(a + 1, b) !== this.stream) return undefined;
    const tag = c < 0 ? raw.slice(b + 1) : raw.slice(b + 1, c);
    const text = c < 0 ? '' : raw.slice(c + 1);
    const time = this.pending?.time ?? criTime(raw.slice(0, a));
    if (tag.split(':').includes('P')) {
      this.pending = { time, text: (this.pending?.text ?? '') + text };
      return undefined;
    }
    const full = (this.pending?.text ?? '') + text;
    this.pending = undefined;
    return { stream: this.stream, time, text: full };
  }

  /** flush returns the fragments no F line completed (the output ended without a newline). */
  flush(): LogLine | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p ? { stream: this.stream, time: p.time, text: p.text } : undefined;
  }
}

/** isCriLog tells the format of a log file from its name. */
export function isCriLog(path: string): boolean {
  return /(^|\/)container\.log(\.live|\.\d+)?$/.test(path);
}

/** readLogFile returns the lines of `stream` in one stored file, in order. */
export function readLogFile(file: string, stream: LogStream): LogLine[] {
  const dec = new LineDecoder(stream, isCriLog(file));
  const out: LogLine[] = [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out; // rotated away meanwhile
  }
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const l = dec.decode(raw);
    if (l) out.push(l);
  }
  const rest = dec.flush();
  if (rest) out.push(rest);
  return out;
}

function rotated(logDir: string, base: string): string[] {
  const out: { n: number; path: string }[] = [];
  const re = new RegExp(`^${base.replace('.', '\\.')}\\.(\\d+)$`);
  for (const name of readdirSyncOrEmpty(logDir)) {
    const m = re.exec(name);
    if (m) out.push({ n: Number(m[1]), path: join(logDir, name) });
  }
  return out.sort((a, b) => b.n - a.n).map((r) => r.path);
}

/**
 * logFiles lists the files holding a stream, oldest first: the plain format's `stream.log.N ...
 * stream.log`, then the CRI format's `container.log.N ... .1`, `.live` (unless it is the current
 * file under a second name) and `container.log`.
 */
export function logFiles(logDir: string, stream: LogStream): string[] {
  const plain = join(logDir, `${stream}.log`);
  const out = [...rotated(logDir, `${stream}.log`), ...(fs.existsSync(plain) ? [plain] : [])];
  const cur = join(logDir, CONTAINER_LOG);
  const live = `${cur}${LIVE_SUFFIX}`;
  const curSt = fs.statSync(cur, { throwIfNoEntry: false });
  const liveSt = fs.statSync(live, { throwIfNoEntry: false });
  out.push(...rotated(logDir, CONTAINER_LOG));
  if (liveSt && liveSt.ino !== curSt?.ino) out.push(live);
  if (curSt) out.push(cur);
  return out;
}

/** readLogs returns every stored line of both streams, each stream in order. */
export function readLogs(logDir: string): LogLine[] {
  const out: LogLine[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    for (const file of logFiles(logDir, stream)) out.push(...readLogFile(file, stream));
  }
  return out;
}

/**
 * rotateLogs keeps up to `keep` earlier files of a container's CRI log. conmon caps container.log at
 * the size limit by replacing it with an empty file; the old one survives only through a second
 * name. So: container.log gets a hard link `.live`; once conmon replaced container.log, `.live` is a
 * finished file and moves to `.1` (older ones shift, the oldest beyond `keep` is removed), and the
 * new container.log gets the link. Call it often while the container writes (the agent does on each
 * pass): a file conmon filled and replaced twice between two calls is lost, the size cap always
 * holds. Never throws.
 */
export function rotateLogs(logDir: string, keep: number): void {
  const cur = join(logDir, CONTAINER_LOG);
  const live = `${cur}${LIVE_SUFFIX}`;
  try {
    const curSt = fs.statSync(cur, { throwIfNoEntry: false });
    const liveSt = fs.statSync(live, { throwIfNoEntry: false });
    if (liveSt && curSt && liveSt.ino === curSt.ino) return;
    if (liveSt) {
      fs.rmSync(`${cur}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) if (fs.existsSync(`${cur}.${i}`)) fs.renameSync(`${cur}.${i}`, `${cur}.${i + 1}`);
      if (keep >= 1) fs.renameSync(live, `${cur}.1`);
      else fs.rmSync(live, { force: true });
    }
    if (curSt) fs.linkSync(cur, live);
  } catch {
    // a race with conmon's own replacement or a delete: the next call sees a settled state
  }
}

/**
 * LogFollower tails one stream of one file across rotations: it keeps the open file descriptor, so
 * a renamed or replaced file is read to its end before the new one is opened.
 */
export class LogFollower {
  private fd: number | undefined;
  private ino = -1;
  private pos = 0;
  private partial = '';
  private dec: LineDecoder;
  constructor(private readonly path: string, readonly stream: LogStream) {
    this.dec = new LineDecoder(stream, isCriLog(path));
  }

  /**
   * poll returns the complete lines written since the last call; `final` (the writer has exited) also
   * returns a last line that has no newline.
   */
  poll(final = false): LogLine[] {
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
        this.flushInto(lines);
        fs.closeSync(this.fd);
        this.fd = undefined;
        continue;
      }
      if (final) this.flushInto(lines);
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
      for (const raw of parts) {
        const l = raw ? this.dec.decode(raw) : undefined;
        if (l) lines.push(l);
      }
    }
  }

  private flushInto(lines: LogLine[]): void {
    const rest = this.dec.flush();
    if (rest) lines.push(rest);
  }

  /** close releases the file descriptor. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** logFollowers returns a follower per stream of a log directory's current files, in its format. */
export function logFollowers(logDir: string): LogFollower[] {
  if (fs.existsSync(join(logDir, 'stdout.log'))) return [new LogFollower(join(logDir, 'stdout.log'), 'stdout'), new LogFollower(join(logDir, 'stderr.log'), 'stderr')];
  const cur = join(logDir, CONTAINER_LOG);
  return [new LogFollower(cur, 'stdout'), new LogFollower(cur, 'stderr')];
}

/**
 * followLogFiles calls onLine for every line of a container's current log files, from the first,
 * until the container has exited (an exit file in its state directory `stateDir`, state-root.ts) and its logs are drained, or
 * `signal` aborts. Polls every 20 ms: log files are written by another process.
 */
export async function followLogFiles(stateDir: string, logDir: string, onLine: (line: LogLine) => void, signal?: AbortSignal): Promise<void> {
  const followers = logFollowers(logDir);
  try {
    for (;;) {
      const done = EXIT_FILES.some((f) => fs.existsSync(join(stateDir, f))) || !fs.existsSync(stateDir);
      for (const f of followers) for (const l of f.poll(done)) onLine(l);
      if (done || signal?.aborted) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    for (const f of followers) f.close();
  }
}

/** EXIT_FILES: conmon's `exit` (the code), and exit.json (the sh shim's, and start failures). */
export const EXIT_FILES = ['exit.json', 'exit'];
