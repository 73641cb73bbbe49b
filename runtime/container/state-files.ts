// A container's state files, read and waited for: ROOT/containers/<id>/ holds container.json (what
// create decided, never rewritten), shim.pid, pid (runc's, once the process runs) and exit.json
// (written once by the shim when the container ended). liveStatus turns the last three into a status
// with as few system calls as it can: a listing reads them for every container on every agent pass.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { processAlive } from '../../lib/process.ts';
import { writeFileAtomicSync } from '../../lib/atomic-write.ts';

/** ExitFile is exit.json as the shim writes it. */
export interface ExitFile {
  exitCode: number;
  oomKills: number;
  finishedAt: string;
}

/** LiveStatus is what a container's state files say now. */
export type LiveStatus =
  | { status: 'exited'; exit: ExitFile }
  | { status: 'running' | 'unknown'; pid: number }
  | { status: 'starting' | 'unknown' | 'created' };

/**
 * liveStatus reads a container's state files: exited once exit.json exists; running while runc's
 * pid (or the shim) lives; starting while the shim runs without a pid yet (an empty shim.pid is a
 * start in progress in this or another process); unknown when the shim died without exit.json.
 */
export function liveStatus(dir: string): LiveStatus {
  const exitPath = join(dir, 'exit.json');
  if (fs.existsSync(exitPath)) {
    const exit = readJson<ExitFile>(exitPath);
    if (exit) return { status: 'exited', exit };
  }
  const pid = readPid(join(dir, 'pid'));
  if (pid !== undefined) {
    if (processAlive(pid)) return { status: 'running', pid };
    const shim = readPid(join(dir, 'shim.pid'));
    return { status: shim !== undefined && processAlive(shim) ? 'running' : 'unknown', pid };
  }
  if (!fs.existsSync(join(dir, 'shim.pid'))) return { status: 'created' };
  const shim = readPid(join(dir, 'shim.pid'));
  return { status: shim === undefined || processAlive(shim) ? 'starting' : 'unknown' };
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

/** writeJsonAtomic writes a JSON file through a unique temp file and a rename. */
export function writeJsonAtomic(path: string, value: unknown): void {
  // A unique temp name per write: two writers of one container's state never collide.
  writeFileAtomicSync(path, `${JSON.stringify(value, null, 2)}\n`);
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
