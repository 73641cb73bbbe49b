// Where a runtime root's small per-start files live: on a tmpfs, as containerd keeps its task state
// under /run/containerd and its persistent data under /var/lib/containerd. runc's --root
// (state.json, the exec fifo), conmon's pid files, exit and oom files, its attach socket and ctl
// fifo, the warm gate, config.json and the init layer are written at every start; on the disk that
// also holds the overlay's upper dirs they waited on the ext4 journal, which runc's O_SYNC pid files
// keep busy: 1.5 ms per mkdir and open on the agent's main thread under a burst of 50 starts
// instead of 0.03 ms (bench/README.md, bind_to_running_50_s). They only matter while the container's
// processes live, which a reboot ends too: a container whose state directory is gone (after a reboot
// /run and /dev/shm are empty) is read as `unknown` (its monitor and exit code lost) and deleted
// like any other. An agent restart (not a reboot) finds the state where it left it.
//
//   STATE = /run/gitcell/<hash of ROOT>         when /run is a tmpfs (containerd's place)
//         | /dev/shm/gitcell-state-<hash>       else, when /dev/shm is (this machine: /run is on ext4)
//         | ROOT/state                          else (no tmpfs: the same layout on disk)
//   STATE/runc/                runc's --root
//   STATE/exits/<id>           conmon's --exit-dir (one watch for every exit)
//   STATE/containers/<id>/     config.json, init/, rootfs/, pid, shim.pid, exit, oom, exit.json, started/, attach, ctl
//
// The name is derived from ROOT alone, so every manager of ROOT (the agent after a restart, the CLI,
// a test's adopter) finds the same directory without being told. The manager removes STATE once its
// last container is gone after close() (manager.ts). ContainerDirs (below) is the layout's one owner.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { isMemoryBacked, releaseBundle } from './bundle.ts';
import { makeSkeleton } from './init.ts';
import { unmount } from './mounts.ts';
import { readdirSyncOrEmpty } from '../../lib/fs.ts';

/** stateRootOf names the state directory of runtime root `root` (see the file comment); pure but for statfs. */
export function stateRootOf(root: string): string {
  const abs = resolve(root);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  if (memoryBacked('/run')) return join('/run', 'gitcell', hash);
  if (memoryBacked('/dev/shm')) return join('/dev/shm', `gitcell-state-${hash}`);
  return join(abs, 'state');
}

/** runcRootOf is runc's --root for runtime root `root` (tools and tests that call runc themselves). */
export function runcRootOf(root: string): string {
  return join(stateRootOf(root), 'runc');
}

/**
 * ensureStateRoot makes `dir` (mode 0711, as ROOT/containers) and checks it is a real directory of
 * this user that nobody else may write: /dev/shm is world-writable and the name is predictable, so
 * a directory or link planted there first must not receive runc's state or config.json.
 */
export function ensureStateRoot(dir: string): void {
  fs.mkdirSync(join(dir, '..'), { recursive: true, mode: 0o755 });
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new RuntimeError(ErrorCodes.ContainerState, `the runtime state directory ${dir} is not a directory of uid ${uid} that only it may write; remove it`, { dir });
  }
}

function memoryBacked(dir: string): boolean {
  try {
    return isMemoryBacked(dir);
  } catch {
    return false;
  }
}

/** ContainerPaths name one container's files: `dir` on ROOT's disk, `state` (and what is in it) on the tmpfs. */
export interface ContainerPaths {
  dir: string;
  state: string;
  rootfs: string;
  init: string;
  upper: string;
  work: string;
  logs: string;
}

/** ContainerDirs makes, names and removes the directories of a runtime root's containers, on the disk and in STATE. */
export class ContainerDirs {
  /** ROOT/containers */
  readonly containers: string;
  /** STATE/containers */
  readonly states: string;
  readonly exits: string;
  readonly runcRoot: string;
  /** ROOT/containers and STATE's directories exist (made once; again after removeStateIfUnused) */
  private ready = false;

  constructor(root: string, readonly stateRoot: string) {
    this.containers = join(root, 'containers');
    this.states = join(stateRoot, 'containers');
    this.exits = join(stateRoot, 'exits');
    this.runcRoot = join(stateRoot, 'runc');
  }

  pathsOf(id: string): ContainerPaths {
    const dir = join(this.containers, id);
    const state = join(this.states, id);
    return { dir, state, rootfs: join(state, 'rootfs'), init: join(state, 'init'), upper: join(dir, 'upper'), work: join(dir, 'work'), logs: join(dir, 'logs') };
  }

  /** ensure makes ROOT/containers and STATE's directories, once (a recursive mkdir per start cost the journal too). */
  ensure(): void {
    if (this.ready) return;
    fs.mkdirSync(this.containers, { recursive: true, mode: 0o711 });
    ensureStateRoot(this.stateRoot);
    for (const d of [this.states, this.exits]) fs.mkdirSync(d, { recursive: true, mode: 0o711 });
    this.ready = true;
  }

  /** make makes container `id`'s directories (init.ts makeSkeleton). */
  make(id: string): void {
    this.ensure();
    try {
      makeSkeleton(this.pathsOf(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Another manager of ROOT removed STATE (its last container went after its close()): again.
      this.ready = false;
      this.ensure();
      this.rm(id);
      makeSkeleton(this.pathsOf(id));
    }
  }

  /** rm removes both directories of container `id` (nothing mounted in them: a warm spare's). */
  rm(id: string): void {
    const p = this.pathsOf(id);
    fs.rmSync(p.dir, { recursive: true, force: true });
    fs.rmSync(p.state, { recursive: true, force: true });
  }

  /** remove is rm after a host-mounted root file system and a secret bundle's tmpfs are unmounted. */
  async remove(id: string): Promise<void> {
    const p = this.pathsOf(id);
    await unmount(p.rootfs).catch(() => undefined);
    await releaseBundle(p.state).catch(() => undefined);
    this.rm(id);
  }

  /**
   * removeStateIfUnused removes STATE when no container of ROOT is left (the owner closed its
   * manager): with it the directories of containers never created, above all the warm spare of an
   * owner killed earlier (nothing is mounted in a spare's). A leftover it cannot remove stays.
   */
  removeStateIfUnused(): void {
    const ids = readdirSyncOrEmpty(this.containers);
    if (ids.some((id) => fs.existsSync(join(this.containers, id, 'container.json')))) return;
    try {
      for (const id of ids) this.rm(id);
      fs.rmSync(this.stateRoot, { recursive: true, force: true });
    } catch {
      // busy (a mount in a half-created container's state): the leak checks name it
    }
    this.ready = false;
  }

  /**
   * removeHalfCreated removes, a minute after they were made, the containers' directories without
   * container.json (their creator died) and the state directories whose container directory is gone
   * (their remover died between the two), except those `keep` names (a warm spare's); returns their ids.
   */
  async removeHalfCreated(keep: (id: string) => boolean): Promise<string[]> {
    const out: string[] = [];
    const old = (path: string): boolean => {
      const st = fs.statSync(path, { throwIfNoEntry: false });
      return st !== undefined && Date.now() - st.mtimeMs >= 60_000;
    };
    const half = [
      ...readdirSyncOrEmpty(this.containers).filter((id) => !fs.existsSync(join(this.containers, id, 'container.json')) && old(join(this.containers, id))),
      ...readdirSyncOrEmpty(this.states).filter((id) => !fs.existsSync(join(this.containers, id)) && old(join(this.states, id))),
    ];
    for (const id of half) {
      if (keep(id)) continue;
      await this.remove(id);
      out.push(id);
    }
    return out;
  }
}
