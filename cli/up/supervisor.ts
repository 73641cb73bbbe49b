/**
 * Supervisor runs one gitcell component (`node dist/<build>/cli/entry.js <args>`) as a child
 * process with its output in a log file, and restarts it with backoff when it dies: 1 s doubling
 * to 30 s, back to 1 s once it has run for a minute. stop() sends SIGTERM and SIGKILLs after a grace period.
 *
 *   start ──spawn──► running ──exit──► (stopping? done) : wait backoff ──► (held? wait)
 *     ──► (earlier instance still alive? SIGKILL it, look again) ──► spawn again
 *   stop ──► running? SIGTERM (its watchdog) : (startToStop, i.e. agents: spawn once more with
 *     GITCELL_STOP_AT_ONCE=1, hold or not: it stops by itself, removing its tasks) ──► wait, SIGKILL late
 *
 * At most one instance of a component runs at a time, which lets `up` give the reconciler and the
 * scheduler a stable leader identity: restarted, they take their own lease back at once instead of
 * waiting a lease period for it to lapse.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../lib/log.ts';
import { processAlive, WATCHDOG_SCRIPT } from '../../lib/process.ts';
import { STOP_AT_ONCE_ENV } from '../../lib/component-life.ts';
import { nextBackoffDelay } from '../../lib/backoff.ts';
import { PROMETHEUS_BIN } from '../../reconciler/monitor/prometheus.ts';

/** SupervisorOptions: what to run and where its output goes. */
export interface SupervisorOptions {
  name: string;
  /** argv after the binary, e.g. [cli/bin.js, 'scheduler', ...] */
  args: string[];
  /** the binary (absolute); default this Node.js (gitcell components), else e.g. /usr/bin/prometheus */
  command?: string;
  logFile: string;
  /** directory of the pid files (`<state>/pids`) */
  pidDir: string;
  /** grace between SIGTERM and SIGKILL on stop (default 20 s: agents stop their tasks) */
  stopGraceMs?: number;
  log: Logger;
  /** told about every exit that was not asked for */
  onCrash?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
  /** down when stop() comes (crashed and held, or in its backoff): run it once more, stopping from the start (agents: it removes its tasks) */
  startToStop?: boolean;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;

/** nextBackoff doubles the delay up to the cap, or resets it when the run was long enough. Pure. */
export function nextBackoff(previousMs: number, ranForMs: number): number {
  return nextBackoffDelay({ initialMs: MIN_BACKOFF_MS, maxMs: MAX_BACKOFF_MS }, ranForMs >= HEALTHY_AFTER_MS ? undefined : previousMs);
}

/** Supervisor keeps one component running until stop(). */
export class Supervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs = MIN_BACKOFF_MS / 2;
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  private startedToStop = false;
  /** restarts counts the restarts after crashes. */
  restarts = 0;

  constructor(readonly o: SupervisorOptions) {
    mkdirSync(dirname(o.logFile), { recursive: true });
    mkdirSync(dirname(this.pidFile), { recursive: true });
  }

  /**
   * pidFile holds the component's pid (written by its watchdog): `kill -9 $(cat ...)` is a crash
   * drill, and a later `up` stops a component somehow left behind.
   */
  get pidFile(): string {
    return join(this.o.pidDir, `${this.o.name}.pid`);
  }

  /** markStopping prevents restarts from now on (shutdown has begun). */
  markStopping(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** pid of the running child, if any. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** start spawns the component (again after a crash). */
  start(): void {
    if (!this.stopping) this.spawn();
  }

  private spawn(env: Record<string, string> = {}): void {
    const fd = openSync(this.o.logFile, 'a');
    const command = this.o.command ?? process.execPath;
    writeSync(fd, `--- ${new Date().toISOString()} gitcell up: starting ${this.o.name}: ${command} ${this.o.args.join(' ')}\n`);
    // Its own process group: a terminal's Ctrl-C reaches only `gitcell up`, which then stops the
    // components in order (agents first, while NATS still runs).
    // Under a small sh watchdog holding a pipe from us (like the embedded nats-server): if `gitcell
    // up` dies in any way the pipe closes and the component gets SIGTERM, so agents still stop
    // their tasks and nothing outlives its owner.
    const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, `gitcell-${this.o.name}`, this.pidFile, command, ...this.o.args], {
      stdio: ['pipe', fd, fd],
      detached: true,
      env: { ...process.env, GITCELL_COMPONENT: this.o.name, ...env },
    });
    child.stdin?.on('error', () => undefined); // EPIPE once the watchdog is gone
    closeSync(fd);
    this.child = child;
    const startedAt = Date.now();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        // Ends the watchdog's pipe reader too, should the watchdog alone have been killed.
        child.stdin?.destroy();
        if (this.stopping) return;
        this.restarts++;
        this.backoffMs = nextBackoff(this.backoffMs, Date.now() - startedAt);
        this.o.log.warn({ component: this.o.name, code, signal, restartInMs: this.backoffMs, log: this.o.logFile }, `${this.o.name} exited; restarting`);
        this.o.onCrash?.(this.o.name, code, signal);
        this.timer = setTimeout(() => this.startUnlessHeld(), this.backoffMs);
      });
      child.once('error', (err) => this.o.log.error({ component: this.o.name, err: err.message }, `${this.o.name} cannot start`));
    });
  }

  /**
   * holdFile: while `<state>/pids/<name>.hold` exists, a crashed component stays down (failure
   * drills, maintenance); remove the file and it is started again within a second.
   */
  get holdFile(): string {
    return join(this.o.pidDir, `${this.o.name}.hold`);
  }

  private startUnlessHeld(held = false): void {
    if (this.stopping) return;
    const stray = strayInstance(this.pidFile, [process.execPath, ...this.o.args]);
    if (stray !== undefined) {
      // Its watchdog died but it did not: a second instance would share its leader identity.
      this.o.log.warn({ component: this.o.name, pid: stray }, `${this.o.name}: an earlier instance still runs; killing it before the restart`);
      try {
        process.kill(stray, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      this.timer = setTimeout(() => this.startUnlessHeld(held), 200);
      return;
    }
    this.timer = startUnlessHeldBy({ name: this.o.name, holdFile: this.holdFile, log: this.o.log }, held, () => this.start(), () => this.startUnlessHeld(true));
  }

  /** stop ends the component: SIGTERM, SIGKILL after the grace period; no more restarts. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const down = !this.child || this.child.exitCode !== null || this.child.signalCode !== null;
    // Once: up stops the agents first, then everything (a second stop() must not start it again).
    if (down && this.o.startToStop && this.child && !this.startedToStop) {
      this.startedToStop = true;
      this.o.log.info({ component: this.o.name }, `${this.o.name} is down: starting it once more to stop it cleanly`);
      this.spawn({ [STOP_AT_ONCE_ENV]: '1' }); // no SIGTERM: it stops by itself, and one before its handlers would end it uncleaned
    } else if (down) {
      rmSync(this.pidFile, { force: true });
      return;
    } else {
      this.child!.stdin?.end(); // the watchdog sends the component SIGTERM and exits with its status
    }
    const child = this.child!;
    const kill = setTimeout(() => killGroup(child.pid, 'SIGKILL'), this.o.stopGraceMs ?? 20_000);
    await this.exited;
    clearTimeout(kill);
    rmSync(this.pidFile, { force: true });
  }
}

/**
 * startUnlessHeldBy starts a component now unless its hold file exists; held, it says so once (a
 * drill, or a person, knows the crash was seen and the hold obeyed) and returns the timer that
 * looks again in a second (`retry`).
 */
export function startUnlessHeldBy(c: { name: string; holdFile: string; log: Logger }, held: boolean, start: () => void, retry: () => void): NodeJS.Timeout | undefined {
  if (!existsSync(c.holdFile)) {
    if (held) c.log.info({ component: c.name, hold: c.holdFile }, `${c.name} released: starting`);
    start();
    return undefined;
  }
  if (!held) c.log.warn({ component: c.name, hold: c.holdFile }, `${c.name} held down until its hold file is removed`);
  return setTimeout(retry, 1000);
}

/**
 * stopLeftovers stops components a previous `up` on this state dir left running (it was killed
 * before it could stop them): a pid file whose process still runs `cli/bin.js` (or a build's
 * `cli/entry.js`) with this state dir on its command line gets SIGTERM, then SIGKILL after
 * `graceMs`. Two agents for one node, or two schedulers racing, would otherwise follow.
 */
export async function stopLeftovers(pidDir: string, stateDir: string, graceMs = 20_000): Promise<string[]> {
  const found: { name: string; pid: number }[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(pidDir).filter((f) => f.endsWith('.pid'));
  } catch {
    return [];
  }
  for (const f of names) {
    const pid = Number(readFileSync(join(pidDir, f), 'utf8').trim());
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // gone
    }
    if (pid > 0 && (/cli\/(bin|entry)\.js\0/.test(cmd) || cmd.startsWith(`${PROMETHEUS_BIN}\0`)) && cmd.includes(stateDir)) {
      process.kill(pid, 'SIGTERM'); // the component itself (its watchdog exits with it)
      found.push({ name: f.replace(/\.pid$/, ''), pid });
    }
    rmSync(join(pidDir, f), { force: true });
  }
  const deadline = Date.now() + graceMs;
  for (const { pid } of found) {
    while (Date.now() < deadline && processAlive(pid)) await new Promise((r) => setTimeout(r, 100));
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  return found.map((f) => `${f.name} (pid ${f.pid})`);
}

/**
 * strayInstance is the pid in `pidFile` if that process is alive and runs exactly `argv` (pids are
 * reused: a different command line is someone else's process; a zombie has an empty one).
 */
export function strayInstance(pidFile: string, argv: readonly string[]): number | undefined {
  let pid: number;
  let cmdline: string;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!(pid > 0)) return undefined;
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  return cmdline === `${argv.join('\0')}\0` ? pid : undefined;
}

/** killGroup signals the watchdog's process group (the watchdog and the component). */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

