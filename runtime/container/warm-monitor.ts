// A warm monitor: the NEXT container's conmon, exec'd ahead and blocked on its start pipe, so a start
// does not pay conmon's own start (exec, ld.so of 11 libraries, glib, option parsing, log file open:
// 9.5-15 ms of the 13 ms gap to bare `runc run -d`, runtime/container/README.md).
//
//   spawn:   id chosen now ─▶ mkdir <dir>, logs/, init/ (with its mount points), upper/, work/, rootfs/ ─▶ conmon (spawn helper; fd 4 = this manager's fifo)
//            conmon: parse options, open logs/container.log ─▶ read(fd 4) ... blocked
//   create:  take() ─▶ the container gets that id (its options match: no secretEnv, default log size)
//   start:   release(): mkdir <dir>/started, link config.json there ─▶ one byte on the fifo
//            conmon: daemonizing fork, pid file, setsid, attach socket, `runc create --bundle <dir>/started`
//            ─▶ the report on the sync pipe, as a cold start's (conmon.ts) ─▶ start() ends ─▶ the next spare
//
// The owner's end: this process holds the fifo's only writer (O_RDWR, so the shell's open for reading
// never waits). When it ends, however (kill -9 too), conmon reads EOF and goes on as if let go, but
// `<dir>/started` does not exist: its pid file (`started/../shim.pid`) and its attach socket fail,
// and it exits before forking runc (no runc state, no cgroup, nothing written). What remains is
// `<dir>` with its empty skeleton (an empty log, empty directories): no container.json, so list()
// ignores it and adopt() removes it (a directory without container.json older than a minute).
// close() removes it at once.
//
// One spare waits at a time: every spare reads the same fifo, so the next one is spawned only once the
// last one's read is done (its report, or its end).
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../../lib/log.ts';
import { sharedSpawnHelper } from '../../lib/spawn-helper.ts';
import { launchConmon, type ConmonArgs, type StartReport } from './conmon.ts';
import { CONTAINER_LOG } from './logs.ts';

/** WARM_GATE is the bundle directory of a warm-started container, made by release() only. */
export const WARM_GATE = 'started';

/** MAX_FAILURES: spares in a row that ended without being let go before the manager stops making them. */
const MAX_FAILURES = 3;

interface Spare {
  id: string;
  /** its state directory (conmon's persist dir and the gate's parent: state-root.ts) */
  dir: string;
  /** where conmon opened its log (on the disk: take() checks conmon got that far) */
  logDir: string;
  report: Promise<StartReport>;
  settled: boolean;
  /** let go by release() or discard() */
  released: boolean;
}

/** WarmMonitor keeps one spare conmon for a manager; see the file comment. */
export class WarmMonitor {
  private fifo: { path: string; fd: number } | undefined;
  private spare: Spare | undefined;
  /** spares taken by create(), by container id, until start() or a failed create lets them go */
  private readonly claimed = new Map<string, Spare>();
  /** a spare exists whose read of the fifo is not done (one reader at a time) */
  private busy = false;
  private closed = false;
  private failures = 0;
  /**
   * the container a released spare is starting, until its start() ended: the next spare waits for it,
   * or its exec and fork would take the CPU of the start they follow (report → running: 2.5 → 8 ms)
   */
  private starting: string | undefined;

  /**
   * argsFor gives the monitor inputs of a default container with id `id` (async: the sealed runc);
   * makeDir makes that container's directories with what every container has in them (see the file
   * comment); removeDir removes them (a spare that ended, or close())
   */
  constructor(private readonly argsFor: (id: string) => Promise<ConmonArgs>, private readonly makeDir: (id: string) => void, private readonly removeDir: (id: string) => void, private readonly log: Logger) {}

  /** take hands create() the ready spare's container id (claimed until start), or undefined: then it makes one. */
  take(): string | undefined {
    const s = this.spare;
    if (!s || s.settled || !fs.existsSync(join(s.logDir, CONTAINER_LOG))) {
      this.refill();
      return undefined;
    }
    this.spare = undefined;
    this.claimed.set(s.id, s);
    return s.id;
  }

  /** owns tells whether `id` is a spare's (or a claimed spare's) directory: adopt() leaves it alone. */
  owns(id: string): boolean {
    return this.spare?.id === id || this.claimed.has(id);
  }

  /**
   * release lets the spare claimed for `id` start it: the gate directory with config.json (a hard
   * link), then the byte. Its report, or undefined when there is none (never claimed, or it ended:
   * the caller starts a cold monitor).
   */
  release(id: string, dir: string): Promise<StartReport> | undefined {
    const s = this.claimed.get(id);
    if (!s) return undefined;
    this.claimed.delete(id);
    if (s.settled || !this.fifo) return undefined;
    const gate = join(dir, WARM_GATE);
    fs.mkdirSync(gate, { mode: 0o700 });
    fs.linkSync(join(dir, 'config.json'), join(gate, 'config.json'));
    this.letGo(s);
    this.starting = id;
    return s.report;
  }

  /** startDone: the start of `id` ended (either way); a new spare may be made. */
  startDone(id: string): void {
    if (this.starting !== id) return;
    this.starting = undefined;
    this.refill();
  }

  /** discard lets a claimed spare go without a gate (its create failed): it exits before runc. */
  discard(id: string): void {
    const s = this.claimed.get(id);
    if (!s) return;
    this.claimed.delete(id);
    if (!s.settled) this.letGo(s);
  }

  /** close ends the spare (EOF: it exits without a gate) and removes its directory. */
  close(): void {
    this.closed = true;
    if (this.spare) this.removeDir(this.spare.id);
    this.spare = undefined;
    if (this.fifo) fs.closeSync(this.fifo.fd);
    this.fifo = undefined;
  }

  private letGo(s: Spare): void {
    s.released = true;
    try {
      fs.writeSync(this.fifo!.fd, GO);
    } catch (err) {
      this.log.warn({ id: s.id, err: (err as Error).message }, 'warm monitor: the start pipe took no byte');
    }
  }

  /** refill spawns a spare when none waits and the fifo has no reader. */
  private refill(): void {
    if (this.closed || this.busy || this.spare || this.starting || this.failures >= MAX_FAILURES) return;
    this.busy = true;
    this.spawn().catch((err: Error) => {
      this.busy = false;
      this.failed(err.message);
    });
  }

  private async spawn(): Promise<void> {
    const fifo = await this.ensureFifo();
    drain(fifo.fd); // a byte written to a spare that had just ended would start the next one
    const id = randomBytes(8).toString('hex');
    const a = await this.argsFor(id);
    if (this.closed) return void (this.busy = false);
    this.makeDir(id);
    const s: Spare = { id, dir: a.dir, logDir: a.logDir, settled: false, released: false, report: launchConmon({ ...a, gate: join(a.dir, WARM_GATE) }, { startPipe: fifo.path, unref: true }) };
    this.spare = s;
    void s.report.then((r) => this.settled(s, r));
  }

  private settled(s: Spare, r: StartReport): void {
    s.settled = true;
    this.busy = false;
    if (this.closed) return;
    if (!s.released) {
      // It ended on its own (it was never let go): its directory holds nothing of a container.
      if (this.spare === s) this.spare = undefined;
      if (!this.claimed.has(s.id)) this.removeDir(s.id);
      this.failed('error' in r ? r.error : `reported ${r.pid} unasked`);
      if (this.fifo) {
        fs.closeSync(this.fifo.fd); // made anew: the helper (and its directory) may have restarted
        this.fifo = undefined;
      }
    } else {
      this.failures = 0;
    }
    this.refill();
  }

  private failed(why: string): void {
    this.failures++;
    this.log.warn({ why, failures: this.failures }, this.failures >= MAX_FAILURES ? 'warm monitor: giving up, cold starts only' : 'warm monitor: a spare ended');
  }

  private async ensureFifo(): Promise<{ path: string; fd: number }> {
    if (this.fifo) return this.fifo;
    const path = await sharedSpawnHelper().makeFifo(`warm-${randomBytes(4).toString('hex')}.fifo`);
    // O_RDWR: a fifo opened so never waits for a peer, and the shell's open for reading finds a writer.
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    if (this.closed) {
      fs.closeSync(fd);
      throw new Error('closed');
    }
    this.fifo = { path, fd };
    return this.fifo;
  }
}

const GO = Buffer.from('g');

/** drain empties a non-blocking fifo of what no reader took. */
function drain(fd: number): void {
  const buf = Buffer.alloc(64);
  try {
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0) {
      // discard
    }
  } catch {
    // EAGAIN: empty
  }
}
