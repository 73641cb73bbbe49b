// A thin wrapper over the runc binary: one state directory (--root) per runtime root.
import * as fs from 'node:fs';
import { basename } from 'node:path';
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

/** OciRuntimeKind names the OCI runtimes gitcell drives: runc (the default) or crun (optional, C). */
export type OciRuntimeKind = 'runc' | 'crun';

/**
 * ociRuntimeKind is the runtime selected by $GITCELL_OCI_RUNTIME ("runc", the default, or "crun");
 * anything else is a clear error naming the variable.
 */
export function ociRuntimeKind(env: NodeJS.ProcessEnv = process.env): OciRuntimeKind {
  const v = env.GITCELL_OCI_RUNTIME?.trim() || 'runc';
  if (v === 'runc' || v === 'crun') return v;
  throw new RuntimeError(ErrorCodes.ContainerInvalid, `GITCELL_OCI_RUNTIME="${v}" is not an OCI runtime gitcell drives: use "runc" (default) or "crun"`, { field: 'GITCELL_OCI_RUNTIME', value: v });
}

/**
 * findRunc returns the OCI runtime binary. runc (default): $GITCELL_RUNC, then PATH, then
 * /usr/sbin/runc (Debian's). With GITCELL_OCI_RUNTIME=crun: $GITCELL_CRUN, then PATH, then
 * /usr/bin/crun. crun starts containers with less CPU (C, no Go runtime, no self re-exec) but
 * refuses a hybrid cgroup host whose v2 hierarchy holds a controller (README: "crun").
 */
export function findRunc(): string {
  const kind = ociRuntimeKind();
  const override = kind === 'crun' ? process.env.GITCELL_CRUN : process.env.GITCELL_RUNC;
  if (override) return override;
  const found = findExecutable(kind, [...pathDirs(), '/usr/sbin', '/usr/bin', '/sbin']);
  if (found) return found;
  throw new RuntimeError(ErrorCodes.ToolMissing, `${kind} is not installed: run scripts/bootstrap.sh (Debian package ${kind})`, { tool: kind });
}

/** runtimeKindOf tells crun from runc by the binary's name (anything not named crun is driven as runc). */
export function runtimeKindOf(bin: string): OciRuntimeKind {
  return basename(bin) === 'crun' ? 'crun' : 'runc';
}

/** NOT_FOUND matches runc's and crun's "no such container" messages. */
const NOT_FOUND = /does not exist|not exist|container .* not found|error opening file `[^`]*\/status`: No such file|cannot open directory '[^']*': No such file/i;

/** Runc runs OCI runtime commands (runc's, which crun shares) against one state root. */
export class Runc {
  readonly bin: string;
  /** which runtime `bin` is: the exec fifo and the sealed copy are runc's alone */
  readonly kind: OciRuntimeKind;
  constructor(readonly root: string, bin?: string) {
    this.bin = bin ?? findRunc();
    this.kind = runtimeKindOf(this.bin);
  }

  private async exec(args: string[]): Promise<string> {
    try {
      const { stdout } = await run(this.bin, ['--root', this.root, ...args], { maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const msg = (e.stderr ?? e.message).trim();
      const notFound = NOT_FOUND.test(msg);
      throw new RuntimeError(notFound ? ErrorCodes.RuncNotFound : ErrorCodes.RuncFailed, `${this.kind} ${args[0]} failed: ${msg}`, { args });
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
