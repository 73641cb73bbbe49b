/**
 * The life of a long-running component (reconciler, scheduler, dashboard, agent): when it must
 * stop, how it ends itself, where it logs. A component run as a process of its own lives by the
 * process: SIGINT or SIGTERM stop it, exit() is process.exit, it logs to stderr. `gitcell up` runs
 * several components in one process (cli/up/host.ts): each then lives in a ComponentLife of its
 * own, found through AsyncLocalStorage by every call the component's code makes, so the same
 * command code runs either way.
 *
 *   host.start ─► runInLife(life, command) ─► ... componentLife().stopping ─► the command's stop path
 *   host.stop  ─► life.stop()  : the command stops as on SIGTERM (cleans up)
 *   host.crash ─► life.crash() : its NATS connections close at once, then it stops without cleaning
 *                                up what a kill -9 would leave (leases, tasks, tables): a crash drill
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Closable is a connection a crash closes at once (a NATS connection). */
export interface Closable {
  close(): Promise<void>;
}

/** ComponentLife is how a component learns it must stop, and how it ends itself. */
export interface ComponentLife {
  /** resolves when the component must stop: a signal to its process, or its host's stop or crash */
  readonly stopping: Promise<void>;
  /** true once crashed: stop without cleaning up (as after kill -9) */
  readonly crashed: boolean;
  /** exit ends the component with `code` (75: the store was reset); a process of its own exits */
  exit(code: number): void;
  /** track: a connection the component opened, closed at once by a crash */
  track(c: Closable): void;
  /** logFd: where its logger writes (default stderr) */
  readonly logFd?: number;
}

/** HostedLife is the life of a component run by a host in its process: the host ends it. */
export class HostedLife implements ComponentLife {
  readonly stopping: Promise<void>;
  crashed = false;
  /** exitCode is what the component asked for with exit() (undefined until then) */
  exitCode: number | undefined;
  private resolveStopping!: () => void;
  private readonly connections = new Set<Closable>();

  constructor(readonly logFd?: number) {
    this.stopping = new Promise((r) => (this.resolveStopping = r));
  }

  track(c: Closable): void {
    if (this.crashed) void c.close().catch(() => undefined);
    else this.connections.add(c);
  }

  /** stop asks the component to stop and clean up, as SIGTERM does to a process. */
  stop(): void {
    this.resolveStopping();
  }

  /** crash closes its connections at once (nothing more reaches the store), then stops it without cleanup. */
  async crash(): Promise<void> {
    this.crashed = true;
    await Promise.all([...this.connections].map((c) => c.close().catch(() => undefined)));
    this.connections.clear();
    this.resolveStopping();
  }

  exit(code: number): void {
    this.exitCode = code;
    void this.crash();
  }
}

const hosted = new AsyncLocalStorage<ComponentLife>();
let own: ComponentLife | undefined;

/**
 * STOP_AT_ONCE_ENV=1: the process is started only to stop cleanly (`gitcell up` shutting down a
 * component that was down: an agent adopts its tasks and removes them), so it is stopping from the
 * start, as a hosted component whose host stops it at once.
 */
export const STOP_AT_ONCE_ENV = 'GITCELL_STOP_AT_ONCE';

/** processLife is the life of a component that is its process: stopped by SIGINT or SIGTERM (or at once, STOP_AT_ONCE_ENV). */
function processLife(): ComponentLife {
  if (!own) {
    const stopping = new Promise<void>((resolve) => {
      // Handlers either way: a SIGTERM during the cleanup must not end the process by default.
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      if (process.env[STOP_AT_ONCE_ENV] === '1') resolve();
    });
    own = { stopping, crashed: false, exit: (code) => process.exit(code), track: () => undefined };
  }
  return own;
}

/** componentLife is the life of the component whose code calls it (its process's, when it has one of its own). */
export function componentLife(): ComponentLife {
  return hosted.getStore() ?? processLife();
}

/** hostedLife is the life of a hosted component calling it, undefined in a process of its own. */
export function hostedLife(): ComponentLife | undefined {
  return hosted.getStore();
}

/** runInLife runs `fn` (a component's command) in `life`: everything it calls finds that life. */
export function runInLife<T>(life: ComponentLife, fn: () => T): T {
  return hosted.run(life, fn);
}
