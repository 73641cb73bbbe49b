// A container's state files, read and waited for: ROOT/containers/<id>/ holds container.json (what
// create decided, never rewritten); its state directory on a tmpfs (state-root.ts) holds shim.pid (the monitor's pid: conmon's, or the old sh shim's), pid
// (the container process's, written by runc create), `exit` and `oom` (conmon's, when the container
// ended / the OOM killer fired) and exit.json (the old shim's; also what liveStatus makes of `exit`
// once, and what a failed start leaves). liveStatus turns them into a status with as few system
// calls as it can: a listing reads them for every container on every agent pass.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { processAlive } from '../../lib/process.ts';
import { writeFileAtomicSync } from '../../lib/atomic-write.ts';
import { parseOomKills } from './cgroups.ts';

/** ExitFile is exit.json: how the container ended. */
export interface ExitFile {
  exitCode: number;
  oomKills: number;
  finishedAt: string;
}

/** LiveStatus is what a container's state files say now. */
export type LiveStatus =
  | { status: 'exited'; exit: ExitFile }
  | { status: 'running' | 'starting' | 'unknown'; pid: number }
  | { status: 'starting' | 'unknown' | 'created' };

/** StatusPaths are the files outside the container directory that liveStatus may read. */
export interface StatusPaths {
  /** runc's exec fifo (ROOT/runc/<id>/exec.fifo): present from `runc create` until `runc start` */
  execFifo?: string;
  /** the cgroup's OOM counter file (memory.oom_control or memory.events) */
  oomFile?: string;
  /**
   * the pid an earlier call found running: the pid file and the released fifo never change after
   * that, so while the process lives it is still running (one kill(0) instead of reading the pid
   * file and looking for the fifo)
   */
  runningPid?: number;
}

/**
 * liveStatus reads the state files in a container's state directory `dir`: exited once exit.json or conmon's `exit` exists;
 * running while the process lives and runc started it (starting while runc's exec fifo waits);
 * starting while the monitor runs without a pid yet (an empty shim.pid is a start in progress in
 * this or another process); unknown when the monitor died without an exit file, or when `dir` is
 * gone (a reboot emptied the tmpfs: its processes, monitor and exit code with it).
 */
export function liveStatus(dir: string, paths: StatusPaths = {}): LiveStatus {
  const exitPath = join(dir, 'exit.json');
  if (fs.existsSync(exitPath)) {
    const exit = readJson<ExitFile>(exitPath);
    if (exit) return { status: 'exited', exit };
  }
  const exit = settleConmonExit(dir, paths.oomFile);
  if (exit) return { status: 'exited', exit };
  if (paths.runningPid !== undefined && processAlive(paths.runningPid)) return { status: 'running', pid: paths.runningPid };
  const pid = readPid(join(dir, 'pid'));
  if (pid !== undefined) {
    if (processAlive(pid)) return { status: paths.execFifo && fs.existsSync(paths.execFifo) ? 'starting' : 'running', pid };
    const shim = readPid(join(dir, 'shim.pid'));
    return { status: shim !== undefined && processAlive(shim) ? 'running' : 'unknown', pid };
  }
  if (!fs.existsSync(join(dir, 'shim.pid'))) return { status: fs.existsSync(dir) ? 'created' : 'unknown' };
  const shim = readPid(join(dir, 'shim.pid'));
  return { status: shim === undefined || processAlive(shim) ? 'starting' : 'unknown' };
}

/**
 * settleConmonExit turns conmon's `exit` (the code) and `oom` (a flag) into exit.json, once: the
 * time it ended is the exit file's, OOM kills come from the flag or the kept cgroup's counter.
 */
function settleConmonExit(dir: string, oomFile?: string): ExitFile | undefined {
  let code: number;
  let finishedAt: string;
  const path = join(dir, 'exit');
  if (!fs.existsSync(path)) return undefined; // the common case, without an ENOENT error object
  try {
    const text = fs.readFileSync(path, 'utf8').trim();
    code = /^-?\d+$/.test(text) ? Number(text) : 255;
    finishedAt = fs.statSync(path).mtime.toISOString();
  } catch {
    return undefined;
  }
  let counted = 0;
  try {
    if (oomFile) counted = parseOomKills(fs.readFileSync(oomFile, 'utf8'));
  } catch {
    // the cgroup is gone: the flag alone says it
  }
  const exit: ExitFile = { exitCode: code, oomKills: Math.max(counted, fs.existsSync(join(dir, 'oom')) ? 1 : 0), finishedAt };
  try {
    writeJsonAtomic(join(dir, 'exit.json'), exit);
  } catch {
    // deleted meanwhile: the answer stands
  }
  return exit;
}

/**
 * waitForFile resolves with the first of `names` to exist in `dir`, watching with inotify and
 * re-checking every 100 ms (inotify can miss a rename racing the watch setup). E_TIMEOUT on timeout.
 */
export function waitForFile(dir: string, names: string[], timeoutMs?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let watcher: fs.FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, name?: string): void => {
      watcher?.close();
      clearInterval(timer);
      clearTimeout(deadline);
      if (err) reject(err);
      else resolve(name!);
    };
    const check = (): boolean => {
      for (const n of names) if (fs.existsSync(join(dir, n))) {
        finish(undefined, n);
        return true;
      }
      if (!fs.existsSync(dir)) {
        finish(new RuntimeError(ErrorCodes.ContainerNotFound, `container directory ${dir} disappeared`, { dir }));
        return true;
      }
      return false;
    };
    try {
      watcher = fs.watch(dir, () => void check());
      watcher.on('error', () => undefined);
    } catch {
      // the poll below still works
    }
    if (check()) return;
    timer = setInterval(check, 100);
    if (timeoutMs !== undefined) {
      deadline = setTimeout(() => finish(new RuntimeError(ErrorCodes.Timeout, `timed out after ${timeoutMs} ms waiting for ${names.join(' or ')} in ${dir}`, { dir })), timeoutMs);
    }
  });
}

/** readJson parses a JSON file, or undefined when it is missing or unreadable. */
export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * writeJsonAtomic writes a JSON file through a unique temp file and a rename, without fsync: a
 * container's state files only need to survive its caller (the agent) dying, which the page cache
 * does; a machine that loses power loses every container with them. An fsync here blocked the
 * event loop for 7 ms per create (357 ms of the agent's main thread over 50 starts, load 4.6).
 */
export function writeJsonAtomic(path: string, value: unknown): void {
  // A unique temp name per write: two writers of one container's state never collide.
  writeFileAtomicSync(path, `${JSON.stringify(value)}\n`, { durable: false });
}

/** readPid reads a pid file, or undefined when it is missing, empty or not a pid. */
export function readPid(path: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
