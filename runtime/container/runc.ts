// A thin wrapper over the runc binary: one state directory (--root) per runtime root.
import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findExecutable, pathDirs } from '../../lib/fs.ts';
import { GitcellError, RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

const run = promisify(execFile);

/** RuncState is `runc state` output (the fields gitcell reads). */
export interface RuncState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  created: string;
}

/** findRunc returns the runc binary: $GITCELL_RUNC, then PATH, then /usr/sbin/runc (Debian's). */
export function findRunc(): string {
  if (process.env.GITCELL_RUNC) return process.env.GITCELL_RUNC;
  const found = findExecutable('runc', [...pathDirs(), '/usr/sbin', '/usr/bin', '/sbin']);
  if (found) return found;
  throw new RuntimeError(ErrorCodes.ToolMissing, 'runc is not installed: run scripts/bootstrap.sh (Debian package runc)', { tool: 'runc' });
}

/** Runc runs runc commands against one state root. */
export class Runc {
  readonly bin: string;
  /** `afterEach` runs when each command has ended (the manager's sweep of a removed state root) */
  constructor(readonly root: string, bin?: string, private readonly afterEach?: () => void) {
    this.bin = bin ?? findRunc();
  }

  private async exec(args: string[]): Promise<string> {
    // runc makes its root (MkdirAll) for any command: one that ran after the owner removed its
    // state (a kill or delete racing the agent's shutdown) left an empty root behind. No root, no
    // container: answered here instead (the container is created through conmon, not this wrapper).
    if (!fs.existsSync(this.root)) throw new RuntimeError(ErrorCodes.RuncNotFound, `runc ${args[0]}: no container: the state root ${this.root} does not exist`, { args });
    try {
      const { stdout } = await run(this.bin, ['--root', this.root, ...args], { maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const msg = (e.stderr ?? e.message).trim();
      const notFound = /does not exist|not exist|container .* not found/i.test(msg);
      throw new RuntimeError(notFound ? ErrorCodes.RuncNotFound : ErrorCodes.RuncFailed, `runc ${args[0]} failed: ${msg}`, { args });
    } finally {
      // A command that started before the root was removed made it again (see above).
      this.afterEach?.();
    }
  }

  /** state returns runc's view of a container, or undefined when runc does not know it. */
  async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.exec(['state', id])) as RuncState;
    } catch (err) {
      if (err instanceof GitcellError && err.code === ErrorCodes.RuncNotFound) return undefined;
      throw err;
    }
  }

  /** start runs the process of a container `runc create` prepared (its exec fifo releases it). */
  async start(id: string): Promise<void> {
    await this.exec(['start', id]);
  }

  /** kill sends a signal to the container's init (or every process with `all`). */
  async kill(id: string, signal: string, all = false): Promise<void> {
    await this.exec(['kill', ...(all ? ['--all'] : []), id, signal]);
  }

  /** delete removes runc's state and cgroups of a container; `force` kills it first. Unknown is fine. */
  async delete(id: string, force = false): Promise<void> {
    try {
      await this.exec(['delete', ...(force ? ['--force'] : []), id]);
    } catch (err) {
      if (!(err instanceof GitcellError && err.code === ErrorCodes.RuncNotFound)) throw err;
    }
  }

  /** pause freezes every process of a container (freezer cgroup). */
  async pause(id: string): Promise<void> {
    await this.exec(['pause', id]);
  }

  /** resume thaws a paused container. */
  async resume(id: string): Promise<void> {
    await this.exec(['resume', id]);
  }

  /** list returns every container runc knows under this root. */
  async list(): Promise<RuncState[]> {
    if (!fs.existsSync(this.root)) return [];
    const out = (await this.exec(['list', '--format', 'json'])).trim();
    return out && out !== 'null' ? (JSON.parse(out) as RuncState[]) : [];
  }
}
