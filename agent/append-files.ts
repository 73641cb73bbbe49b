/**
 * Descriptors of append-only files kept open across appends, for the whole process (the journals of
 * every agent in it: a hollow process runs ~5,000).
 *
 * Opening and closing the file for each line cost a hollow process more than the line itself (open 4.0
 * + close 1.1 CPU-s against 2.0 for the writes in a 10,000-node commit, run 6, bench/README.md). Here a
 * file stays open once written:
 *   - at most `cap` descriptors (least recently used closed first; on EMFILE half of them);
 *   - a descriptor unused for an `idleMs` sweep interval is closed at the next sweep (one unref'd timer
 *     for the process, running while any is open);
 *   - the owner `release`s a path whose file it replaced (a compaction renames a new file over it) or
 *     stops using it; the next append opens the file again;
 *   - a file removed or replaced under us (a link count of 0: its dir removed by hand, or another
 *     process renamed a file over it) is opened again, the dir made again once, as when each append
 *     opened it; that check (an fstat, ~2.7 µs) is the price of keeping the descriptor.
 * Descriptors are keyed by path, so two owners of one path in a process (an agent restarted in a test)
 * share one. An append is one write(2) of the whole data to a descriptor opened with O_APPEND: a killed
 * process leaves whole lines in the page cache, as before.
 *
 *   append(path) ─► kept descriptor, still linked? ─► write (+ fsync when durable)
 *                   └─ none / unlinked ─► open (mkdir once on ENOENT, evict on cap / EMFILE)
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** AppendFilesOptions bound the kept descriptors. */
export interface AppendFilesOptions {
  /** most descriptors kept open at once */
  cap: number;
  /** a descriptor unused this long (up to twice it) is closed */
  idleMs: number;
}

interface Kept {
  fd: number;
  /** the sweep generation of the last append */
  used: number;
}

/** AppendFiles appends to files through kept descriptors (see the file comment). */
export class AppendFiles {
  /** open descriptors by path, least recently used first (a Map keeps insertion order) */
  private readonly kept = new Map<string, Kept>();
  private generation = 0;
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly o: AppendFilesOptions) {}

  /** size is how many descriptors are open now. */
  get size(): number {
    return this.kept.size;
  }

  /** append writes `data` to `path` in one write, fsynced when `durable`; the file is created if missing. */
  append(path: string, data: string, durable: boolean): void {
    let k = this.kept.get(path);
    if (k) {
      this.kept.delete(path); // to the most recently used end
      if (fstatSync(k.fd).nlink === 0) {
        closeQuietly(k.fd);
        k = undefined;
      } else this.kept.set(path, k);
    }
    k ??= this.open(path);
    k.used = this.generation;
    writeSync(k.fd, data);
    if (durable) fsyncSync(k.fd);
  }

  /** release closes `path`'s descriptor, if open (its file was replaced, or its owner stops). */
  release(path: string): void {
    const k = this.kept.get(path);
    if (!k) return;
    this.kept.delete(path);
    closeQuietly(k.fd);
  }

  /** closeAll closes every descriptor. */
  closeAll(): void {
    for (const k of this.kept.values()) closeQuietly(k.fd);
    this.kept.clear();
    this.stopSweeping();
  }

  private open(path: string): Kept {
    while (this.kept.size >= this.o.cap) this.evictOldest();
    let fd: number;
    try {
      fd = openFor(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EMFILE' && code !== 'ENFILE') throw err;
      // Out of descriptors: what we keep is the part we can give back.
      for (let n = Math.ceil(this.kept.size / 2); n > 0; n--) this.evictOldest();
      fd = openFor(path);
    }
    const k = { fd, used: this.generation };
    this.kept.set(path, k);
    this.sweeper ??= setInterval(() => this.sweep(), this.o.idleMs).unref();
    return k;
  }

  private evictOldest(): void {
    const first = this.kept.keys().next();
    if (!first.done) this.release(first.value);
  }

  /** sweep closes the descriptors not used since the sweep before this one. */
  private sweep(): void {
    this.generation++;
    for (const [path, k] of this.kept) {
      if (k.used >= this.generation - 1) break; // least recently used first: the rest are newer
      this.release(path);
    }
    if (this.kept.size === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

/** openFor opens `path` for appending, making its dir again (once) if it went away. */
function openFor(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true });
    return openSync(path, 'a');
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing to give back
  }
}
