// The per-container monitor: Debian's `conmon` (podman's and CRI-O's), one small C process per
// container for its whole life, so the exit status survives the agent. Before it, every container
// kept `sh` + `runc run` + two `awk` log writers resident (~3 MB PSS and 5-6 processes per task).
//
//   spawnConmon ─▶ (spawn helper) conmon (forks once, setsid, subreaper; its pid in shim.pid via --conmon-pidfile)
//                    └─ runc create ─▶ container process waits on runc's exec fifo; runc exits
//                 ◀── {"data": pid} on the sync pipe (fd 3), or {"data": -1, "message": runc's stderr}
//   caller: reads runc's exec fifo (what runc start does; releaseExecFifo) ─▶ the process execs (running)
//   conmon: stdout/stderr pipes ─▶ logs/container.log (CRI format, capped at --log-size-max)
//           OOM watch (v1 eventfd on memory.oom_control, v2 memory.events) ─▶ <dir>/oom
//           container exit ─▶ <dir>/exit (the exit code, temp + rename; --persist-dir) and
//                             STATE/exits/<id> (--exit-dir: one directory watch for every container)
// (<dir> is the container's state directory on a tmpfs, STATE/containers/<id>: state-root.ts.)
//
// conmon holds the exit code, the log pipes and the OOM watch; runc is resident for milliseconds.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { findExecutable, pathDirs } from '../../lib/fs.ts';
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { sharedSpawnHelper } from '../../lib/spawn-helper.ts';
import { CONTAINER_LOG } from './logs.ts';
import type { Runc } from './runc.ts';
import { writeJsonAtomic } from './state-files.ts';

/** findConmon returns the conmon binary: $GITCELL_CONMON, then PATH, then /usr/bin/conmon (Debian's). */
export function findConmon(): string {
  if (process.env.GITCELL_CONMON) return process.env.GITCELL_CONMON;
  const found = findExecutable('conmon', [...pathDirs(), '/usr/bin', '/usr/libexec/podman']);
  if (found) return found;
  throw new RuntimeError(ErrorCodes.ToolMissing, 'conmon is not installed: run scripts/bootstrap.sh (Debian package conmon)', { tool: 'conmon' });
}

/** ConmonArgs are a monitor's inputs; every path absolute. */
export interface ConmonArgs {
  conmon: string;
  runc: string;
  runcRoot: string;
  id: string;
  /** the container's state directory (tmpfs, state-root.ts): conmon's working and persist directory (exit, oom, shim.pid, pid) */
  dir: string;
  /** STATE/exits: conmon writes the exit code to <exitDir>/<id> too, so one watch sees every exit */
  exitDir: string;
  logDir: string;
  logMaxBytes: number;
  /** the directory holding config.json (the container dir, or its in-memory bundle) */
  bundle: string;
  /**
   * a warm monitor's bundle (warm-monitor.ts): a directory start() makes only when it lets the
   * monitor go. conmon's pid file is written through it (`<gate>/../shim.pid`), so a monitor let go
   * by EOF instead (its owner died) fails at its pid file and its attach socket, before runc
   */
  gate?: string;
}

/** conmonArgv is conmon's command line for one container. */
export function conmonArgv(a: ConmonArgs): string[] {
  return [
    '--api-version', '1', '-c', a.id, '-u', a.id, '-n', a.id,
    '-r', a.runc, '--runtime-arg', '--root', '--runtime-arg', a.runcRoot,
    // Not join(): `<gate>/..` must stay in the path for the kernel to resolve (and fail without the gate).
    '-b', a.gate ?? a.bundle, '-p', join(a.dir, 'pid'), '-P', a.gate ? `${a.gate}/../shim.pid` : join(a.dir, 'shim.pid'),
    '-l', `k8s-file:${join(a.logDir, CONTAINER_LOG)}`, '--log-size-max', String(a.logMaxBytes),
    // --full-attach: the attach socket and ctl fifo stay in the bundle (no symlink in /var/run/crio).
    '--persist-dir', a.dir, '--exit-dir', a.exitDir, '--full-attach',
    // The logs were never fsynced per line; a sync at exit only slows every stop on a busy disk.
    '--no-sync-log', '--log-level', 'error',
  ];
}

/** START_REPORT is what conmon reports once `runc create` returned: the container's pid, or why not. */
export type StartReport = { pid: number } | { error: string };

/** LaunchOptions: a warm monitor's start pipe and liveness (see warm-monitor.ts). */
export interface LaunchOptions {
  /** a fifo opened onto conmon's fd 4, its start pipe (_OCI_STARTPIPE): conmon waits for a byte or EOF */
  startPipe?: string;
  /** the wait for the report does not keep this process alive (a spare waits for its container) */
  unref?: boolean;
}

/**
 * launchConmon starts conmon for one container through the process's spawn helper (lib/spawn-helper.ts:
 * no fork of the agent's heap per start; conmon's daemon makes itself a session leader, so it outlives
 * the helper and the agent) and resolves with what conmon reports on its sync pipe once `runc create`
 * returned (the pid, or runc's error), or once conmon ended without a report. No deadline: see spawnConmon.
 */
export function launchConmon(a: ConmonArgs, o: LaunchOptions = {}): Promise<StartReport> {
  return sharedSpawnHelper().run(a.conmon, conmonArgv(a), {
    cwd: a.dir,
    syncFd3: true,
    ...(o.startPipe ? { fd4From: o.startPipe } : {}),
    ...(o.unref ? { unref: true } : {}),
    // UTC log timestamps ("+00:00"), whatever the node's zone; _OCI_SYNCPIPE is the fd 3 above.
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', TZ: 'UTC', _OCI_SYNCPIPE: '3', ...(o.startPipe ? { _OCI_STARTPIPE: '4' } : {}) },
  }).then((r): StartReport => {
    if (r.sync) return parseSyncMessage(r.sync);
    // No report: conmon (or runc create under it) ended first.
    const why = r.stderr.trim();
    return { error: why ? `conmon: ${why}` : 'conmon exited without reporting (runc create failed without a message)' };
  }, (err: Error): StartReport => ({ error: `conmon could not start: ${err.message}` }));
}

/** reportWithin is `report`, or an error once `timeoutMs` passed without one. */
export async function reportWithin(report: Promise<StartReport>, timeoutMs: number): Promise<StartReport> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<StartReport>((resolve) => {
    timer = setTimeout(() => resolve({ error: `conmon did not report within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([report, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** spawnConmon is launchConmon with a deadline for the report (`timeoutMs`). */
export function spawnConmon(a: ConmonArgs, timeoutMs: number): Promise<StartReport> {
  return reportWithin(launchConmon(a), timeoutMs);
}

/** parseSyncMessage reads conmon's `{"data": N, "message": "..."}` (api version 1). */
export function parseSyncMessage(line: string): StartReport {
  try {
    const m = JSON.parse(line) as { data?: unknown; message?: unknown };
    if (typeof m.data === 'number' && m.data > 0) return { pid: m.data };
    return { error: typeof m.message === 'string' && m.message.trim() ? m.message.trim() : `conmon reported ${String(m.data)}` };
  } catch {
    return { error: `conmon sent an unreadable report: ${line.slice(0, 200)}` };
  }
}

/**
 * startUnderConmon has conmon run `runc create`, calls `onCreated` with the created process's pid,
 * then starts the process. A failure (of `onCreated` too) leaves exit.json
 * (exit code 1, as `runc run` reported one) so the container reads as exited, and names runc's reason
 * (E_CONTAINER_START_FAILED). `warm` is the report of a warm monitor already let go (warm-monitor.ts)
 * instead of a new conmon.
 */
export async function startUnderConmon(runc: Runc, a: ConmonArgs, name: string, timeoutMs: number, onCreated?: (pid: number) => Promise<void>, warm?: Promise<StartReport>): Promise<void> {
  const report = await (warm ? reportWithin(warm, timeoutMs) : spawnConmon(a, timeoutMs));
  let why = 'error' in report ? report.error : undefined;
  if (!why) {
    try {
      // The process exists (its namespaces too) and waits on the exec fifo: the caller's moment to
      // prepare what it must find at its start (the agent attaches the network namespace here).
      if (onCreated && 'pid' in report) await onCreated(report.pid);
      const fifo = join(a.runcRoot, a.id, 'exec.fifo');
      if (!(await releaseExecFifo(fifo))) await runc.start(a.id);
    } catch (err) {
      why = (err as Error).message;
    }
  }
  if (why === undefined) return;
  await runc.kill(a.id, 'SIGKILL', true).catch(() => undefined);
  writeJsonAtomic(join(a.dir, 'exit.json'), { exitCode: 1, oomKills: 0, finishedAt: new Date().toISOString() });
  throw new RuntimeError(ErrorCodes.ContainerStartFailed, `container ${name} did not start: ${why}`, { id: a.id });
}

/**
 * releaseExecFifo does what `runc start` does for a created container (runc 1.x, libcontainer's
 * exec()): open runc's exec fifo for reading, which lets the container's init (blocked opening it
 * for writing) write one byte and exec the process; EOF comes with the exec (init's end is
 * close-on-exec); remove the fifo. One Go process (and one fork of the agent) less per start: the
 * profile of 50 starts put `runc start` at 7% of the agent's busy time. False when there is no fifo
 * (the caller asks `runc start`, which then explains).
 *
 * The fifo is opened non-blocking (at once, on this thread) and read through the event loop: Linux
 * reports no hang-up on a fifo whose reader never saw a writer, so the read waits for init's byte
 * and then its exec. A blocking open and reads in the thread pool were four round trips through it
 * per start and held a thread of the pool for as long as init took. An init that died (or is slow)
 * never writes: after UNBLOCK_MS the read gives up and `runc start` decides (it waits for a slow one).
 */
export async function releaseExecFifo(fifo: string): Promise<boolean> {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return false; // no fifo: not created by runc, or started already
  }
  const data = await new Promise<number>((resolve) => {
    const pipe = new net.Socket({ fd, readable: true, writable: false });
    let got = 0;
    const done = (): void => {
      clearTimeout(timer);
      pipe.destroy(); // closes fd
      resolve(got);
    };
    const timer = setTimeout(done, UNBLOCK_MS);
    pipe.on('data', (b: Buffer) => (got += b.length));
    pipe.on('end', done);
    pipe.on('error', done);
  });
  if (data === 0) return false; // no word from init: let runc start decide
  fs.rmSync(fifo, { force: true });
  return true;
}

/** UNBLOCK_MS bounds how long releaseExecFifo waits for init's byte and exec. */
export const UNBLOCK_MS = 10_000;
