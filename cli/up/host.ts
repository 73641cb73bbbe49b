/**
 * HostedComponent runs one gitcell component (`reconciler ...`, `agent ...`) inside this process,
 * as Supervisor runs one as a child process: its own log file, its own NATS connections and
 * identity (its flags), restarted with the same backoff when it ends, held down by its hold file.
 * Each Node.js process costs ~40 MB of resident memory before any of gitcell's code: `gitcell up`
 * hosts its control plane in its own process and its agents in one more (as k3s runs its control
 * plane in one process), instead of a process each.
 *
 *   start ─► runInLife(life, gitcell ARGS) ─► ends ─► (stopping? done) : wait backoff ─► (held? wait) ─► start
 *   <pids>/<name>.crash appears ─► life.crash(): its connections close at once, it stops without
 *     cleanup (what kill -9 of its process did: the drill of the e2e tests) ─► restarted as above
 *   <pids>/<name>.instance: "<pid>.<n>", n counting its starts (a drill sees it restarted, or not)
 *   stop() ─► running? stop it : (startToStop, i.e. an agent: start it once more, whatever its hold) ─► stop it
 */
import { existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../lib/log.ts';
import { errorMessage } from '../../lib/errors.ts';
import { HostedLife, runInLife } from '../../lib/component-life.ts';
import { nextBackoff, startUnlessHeldBy } from './supervisor.ts';

/** HostedOptions: what to run (gitcell's arguments) and where its log goes. */
export interface HostedOptions {
  name: string;
  /** the command and its flags, as after `gitcell`: ['scheduler', '--nats', ...] */
  args: string[];
  logFile: string;
  /** directory of the hold, crash and instance files (`<state>/pids`) */
  pidDir: string;
  /** how long stop() waits for the component's own stop before crashing it (default 20 s) */
  stopGraceMs?: number;
  /**
   * Down when stop() comes (crashed and held, or waiting out its backoff): start it once more, hold
   * or not, so that it stops cleanly. An agent's stop removes its tasks; a crash left them running.
   */
  startToStop?: boolean;
  log: Logger;
}

/** CRASH_POLL_MS: how often a running component looks for its crash file. */
const CRASH_POLL_MS = 500;

/** HostedComponent keeps one component running in this process until stop(). */
export class HostedComponent {
  private life: HostedLife | undefined;
  private ended: Promise<void> = Promise.resolve();
  private stopping = false;
  private backoffMs = 500;
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private starts = 0;
  private running = false;
  private startedToStop = false;
  /** restarts counts the restarts after the component ended by itself or crashed. */
  restarts = 0;

  constructor(readonly o: HostedOptions) {
    mkdirSync(dirname(o.logFile), { recursive: true });
    mkdirSync(o.pidDir, { recursive: true });
  }

  /** holdFile: while it exists, an ended component stays down (drills, maintenance). */
  get holdFile(): string {
    return join(this.o.pidDir, `${this.o.name}.hold`);
  }

  /** crashFile: create it to crash the component as kill -9 would its process. */
  get crashFile(): string {
    return join(this.o.pidDir, `${this.o.name}.crash`);
  }

  /** instanceFile holds "<pid>.<n>": this process, and how many times the component started. */
  get instanceFile(): string {
    return join(this.o.pidDir, `${this.o.name}.instance`);
  }

  /** markStopping prevents restarts from now on (shutdown has begun). */
  markStopping(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** start runs the component (again after it ended). */
  start(): void {
    if (!this.stopping) this.launch();
  }

  private launch(): void {
    const { o } = this;
    const fd = openSync(o.logFile, 'a');
    writeSync(fd, `--- ${new Date().toISOString()} gitcell up: starting ${o.name} in process ${process.pid}: gitcell ${o.args.join(' ')}\n`);
    const life = (this.life = new HostedLife(fd));
    this.starts++;
    writeFileSync(this.instanceFile, `${process.pid}.${this.starts}\n`);
    rmSync(this.crashFile, { force: true });
    const startedAt = Date.now();
    this.running = true;
    this.poll = setInterval(() => {
      if (!existsSync(this.crashFile)) return;
      rmSync(this.crashFile, { force: true });
      o.log.warn({ component: o.name }, `${o.name}: crashed on request (its connections closed at once, nothing cleaned up)`);
      void life.crash();
    }, CRASH_POLL_MS);
    this.ended = runInLife(life, () => runCommand(o.args, fd)).then((code) => {
      clearInterval(this.poll);
      this.running = false;
      // The log's descriptor stays open: a timer of the ended instance may still log, and a closed
      // number could be reused by another file or socket. One descriptor per start.
      const exit = life.exitCode ?? (life.crashed ? 'crashed' : code);
      if (this.stopping) return;
      this.restarts++;
      this.backoffMs = nextBackoff(this.backoffMs, Date.now() - startedAt);
      o.log.warn({ component: o.name, code: exit, restartInMs: this.backoffMs, log: o.logFile }, `${o.name} exited; restarting`);
      this.timer = setTimeout(() => this.startUnlessHeld(), this.backoffMs);
    });
  }

  private startUnlessHeld(held = false): void {
    if (this.stopping) return;
    this.timer = startUnlessHeldBy({ name: this.o.name, holdFile: this.holdFile, log: this.o.log }, held, () => this.start(), () => this.startUnlessHeld(true));
  }

  /** stop asks the component to stop (as SIGTERM); after the grace period it is crashed; no more restarts. */
  async stop(): Promise<void> {
    this.markStopping();
    if (this.o.startToStop && this.life && !this.running && !this.startedToStop) {
      this.startedToStop = true;
      this.o.log.info({ component: this.o.name }, `${this.o.name} is down: starting it once more to stop it cleanly`);
      this.launch();
    }
    const life = this.life;
    if (life) {
      life.stop();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), this.o.stopGraceMs ?? 20_000)));
      if ((await Promise.race([this.ended, late])) === 'late') {
        this.o.log.warn({ component: this.o.name }, `${this.o.name} did not stop within its grace period; closing its connections`);
        await life.crash();
        // Its stop path now fails fast; the process is about to exit anyway.
        await Promise.race([this.ended, new Promise((r) => setTimeout(r, 5000).unref())]);
      }
      clearTimeout(timer);
    }
    rmSync(this.instanceFile, { force: true });
  }
}

/**
 * preloadCommands loads the modules of the commands this process is about to host, while it waits
 * on I/O (up: NATS starting), so the components start without loading them. Failures are left to
 * the component's own start to report.
 */
export function preloadCommands(names: string[]): void {
  void Promise.all([import('../main.ts'), import('../commands/index.ts').then(({ COMMANDS }) => Promise.all(names.map((n) => COMMANDS[n]?.load())))]).catch(() => undefined);
}

/** runCommand runs `gitcell ARGS` in this process and returns its exit code; a failure is written to its log. */
async function runCommand(args: string[], logFd: number): Promise<number> {
  // Loaded here: cli/main.ts registers the commands, which import this module's importers.
  const { buildProgram } = await import('../main.ts');
  const argv = [process.execPath, 'gitcell', ...args];
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    writeSync(logFd, `gitcell: ${errorMessage(err)}\n`);
    return 1;
  }
}

/** AgentsSpec is what `gitcell up --host-agents FILE` runs: the simulated nodes' agents, in one process. */
export interface AgentsSpec {
  pidDir: string;
  agents: Array<{ name: string; args: string[]; logFile: string }>;
}

/** AGENT_STOP_GRACE_MS: an agent stopping stops its tasks first. */
const AGENT_STOP_GRACE_MS = 90_000;

/**
 * hostAgents runs every agent of `spec` in this process (each its own identity, node, log, hold
 * and crash files) until SIGINT or SIGTERM (`gitcell up`'s watchdog), then stops them all.
 */
export async function hostAgents(spec: AgentsSpec, log: Logger, stopping: Promise<void>): Promise<void> {
  const hosted = spec.agents.map((a) => new HostedComponent({ ...a, pidDir: spec.pidDir, stopGraceMs: AGENT_STOP_GRACE_MS, startToStop: true, log }));
  for (const h of hosted) h.start();
  log.info({ agents: spec.agents.map((a) => a.name) }, 'agents running in one process');
  await stopping;
  await Promise.all(hosted.map((h) => h.stop()));
}
