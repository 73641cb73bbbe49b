// config.json as a named pipe, so `run()` can start conmon (whose `runc create` reads config.json)
// while create() still prepares the container: runc 1.1's loadSpec only os.Open()s config.json and
// json-decodes one value from it, so runc simply waits in read() until the spec arrives. conmon's
// own start (exec, 11 shared libraries, glib, its daemonizing fork) and runc's Go start overlap with
// the snapshot lookup, init layer and spec instead of following them.
//
//   FifoPool.take(dest) ─▶ rename a fifo made ahead (one mkfifo process per FIFO_BATCH) to dest
//   SpecFeed.open(dest) ─▶ hold a reader and a writer end (runc's open never blocks: a writer exists)
//   conmon ─▶ runc create ─▶ open(config.json) ─▶ read() waits
//   SpecFeed.feed(spec) ─▶ write the JSON into the pipe ─▶ rename a regular file over the fifo
//                          (later readers, people, tests, see a plain config.json)
//   conmon's report ─▶ SpecFeed.close() (runc has read the spec or is gone)
//   abort() (create failed) ─▶ write `{}` into the pipe: a spec without a process, which runc
//                          refuses at once ("process property must not be empty"); conmon reports it
//
// Only runc create reads config.json: conmon never opens it (strace of one start), runc's other
// commands read ROOT/runc/<id>/state.json, and gitcell's own code never reads it back.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../lib/atomic-write.ts';
import { readdirSyncOrEmpty } from '../../lib/fs.ts';
import { sharedSpawnHelper } from '../../lib/spawn-helper.ts';

/** FIFO_BATCH is how many fifos one mkfifo process makes: one process per this many starts. */
export const FIFO_BATCH = 32;
/** MKFIFO is coreutils' mkfifo (Node has no mkfifo(3)). */
export const MKFIFO = '/usr/bin/mkfifo';
const MKFIFO_TIMEOUT_MS = 10_000;

/**
 * FifoPool keeps fifos made ahead in one directory (ROOT/fifos, on the file system of the
 * containers so a rename moves one). take() claims one with an atomic rename, so processes sharing
 * a root never hand out the same one; an empty pool refills in the background and the caller goes
 * without this time.
 */
export class FifoPool {
  private names: string[] | undefined;
  private refilling = false;

  constructor(readonly dir: string) {}

  /** take moves a fifo to `dest`; false when the pool is empty (a refill is then under way). */
  take(dest: string): boolean {
    this.names ??= readdirSyncOrEmpty(this.dir).filter((n) => n.startsWith('f-'));
    let taken = false;
    while (!taken && this.names.length > 0) {
      try {
        fs.renameSync(join(this.dir, this.names.pop()!), dest);
        taken = true;
      } catch {
        // claimed by another process sharing the root, or removed: the next one
      }
    }
    if (this.names.length < FIFO_BATCH / 4) this.refill();
    return taken;
  }

  private refill(): void {
    if (this.refilling) return;
    this.refilling = true;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const fresh = Array.from({ length: FIFO_BATCH }, () => `f-${randomBytes(8).toString('hex')}`);
    sharedSpawnHelper().run(MKFIFO, ['-m', '600', ...fresh.map((n) => join(this.dir, n))], { timeoutMs: MKFIFO_TIMEOUT_MS })
      .then((r) => {
        if (r.code === 0) this.names = [...fresh, ...(this.names ?? [])];
      }, () => undefined)
      .finally(() => (this.refilling = false));
  }
}

/** SpecFeed is one container's config.json while it is a fifo: see the file comment. */
export class SpecFeed {
  private readonly reader: number;
  private readonly writer: net.Socket;
  private fed = false;
  private closed = false;

  /**
   * Opens both ends of the fifo at `path` without blocking: our reader first (an O_WRONLY open
   * needs one), then the writer. The reader is never read: runc gets every byte.
   */
  constructor(readonly path: string) {
    this.reader = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      fs.closeSync(this.reader);
      throw err;
    }
    // Written through the event loop: a spec larger than the pipe (64 KiB) waits for runc to read
    // without holding a thread; when runc opened the regular file instead, close() drops the rest.
    this.writer = new net.Socket({ fd, readable: false, writable: true });
    this.writer.on('error', () => undefined);
  }

  /**
   * feed puts the spec at `path` as a regular file (a runc that opens config.json from now on reads
   * that), then writes it into the pipe (for a runc that opened the fifo already). File first: if
   * that write fails, runc has been given nothing and abort() can still refuse it.
   */
  feed(text: string): void {
    if (this.fed) throw new Error(`spec of ${this.path} fed twice`);
    writeFileAtomicSync(this.path, text, { mode: 0o600, durable: false });
    this.fed = true;
    // Closed already: conmon reported (a failure) before the spec was ready; the file is for the record.
    if (!this.closed) this.writer.write(text);
  }

  /**
   * abort makes `runc create` fail at once, whenever it opens config.json: `{}` goes into the pipe
   * (a spec without a process, which runc refuses) and both ends stay open until the start settles
   * (startEarly closes them), so runc never waits in open() for a writer that left. Unlinking the
   * fifo and closing instead raced a runc between its path lookup and its open: it then waited for a
   * writer until the start's deadline. Nothing to do after feed (runc has the spec; the caller
   * removes what started).
   */
  abort(): void {
    if (this.fed || this.closed) return;
    this.fed = true;
    this.writer.write(REFUSED_SPEC);
  }

  /** close releases both ends once runc has read the spec or is gone (conmon reported); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.destroy();
    fs.closeSync(this.reader);
  }
}

/**
 * unblockSpecFifo is for a directory whose creator died before feeding its fifo: a runc blocked in
 * open() (no writer left) gets one for a moment and then reads EOF, so `runc create` fails and
 * conmon exits. Returns whether `path` was a fifo.
 */
export function unblockSpecFifo(path: string): boolean {
  const st = fs.lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isFIFO()) return false;
  try {
    fs.closeSync(fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK));
  } catch {
    // gone meanwhile
  }
  return true;
}

/** REFUSED_SPEC is what abort() feeds: valid JSON runc decodes, then refuses (no process). */
const REFUSED_SPEC = '{}';

/** EarlyStart is a start begun before its spec exists: feed the spec, then await `started`. */
export interface EarlyStart {
  feed: SpecFeed;
  /** the start (conmon, runc create, ...); never an unhandled rejection: await it or abort the feed */
  started: Promise<void>;
}

/**
 * startEarly puts a fifo from `pool` at `path` (config.json) and calls `start` at once; undefined
 * (nothing started) when the pool is empty. The feed closes when the start settles.
 */
export function startEarly(pool: FifoPool, path: string, start: () => Promise<void>): EarlyStart | undefined {
  if (!pool.take(path)) return undefined;
  const feed = new SpecFeed(path);
  const started = start().finally(() => feed.close());
  started.catch(() => undefined);
  return { feed, started };
}
