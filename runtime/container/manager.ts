// ContainerManager: the container lifecycle over one runtime root. All state is in files (records on
// the disk, per-start state on a tmpfs that outlives the process: state-root.ts), so a new manager
// (after the agent was kill -9'ed) sees exactly what the old one saw: `adopt()` is a listing.
//
//   create: validate ─▶ resolve image ─▶ snapshots ─▶ init layer ─▶ user (from the layers) ─▶ config.json
//           whose first mount is the overlay (runc mounts it inside the container's mount namespace)
//           ─▶ container.json (written last: a container exists once this file does)
//   start:  conmon ─▶ runc create (pid reported on conmon's sync pipe, or runc's error) ─▶ exec fifo read (runc start's job)
//   wait:   wait for conmon's `exit` (written by the monitor, whoever started it)
//   delete: SIGKILL if asked ─▶ runc delete ─▶ umount ─▶ leftover cgroups ─▶ rm -rf
//
// ROOT/containers/<id>/ (disk): container.json, upper/, work/, logs/. STATE/containers/<id>/ (a tmpfs,
// state-root.ts): config.json (or bundle/config.json on a tmpfs of its own when given secretEnv),
// rootfs/ (empty mount point), init/, and the state files of state-files.ts; STATE/runc is runc's
// --root. ROOT/names/<name> -> <id> makes names unique atomically.
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { GitcellError, RuntimeError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { ImageStore } from '../image/index.ts';
import { Snapshotter, chainIds } from '../snapshot/index.ts';
import { cgroupsPathOf, DEFAULT_CGROUP_PARENT, oomEventsFile, removeCgroup } from './cgroups.ts';
import { releaseBundle, writeBundle } from './bundle.ts';
import { writeInitLayer } from './init.ts';
import { EXIT_FILES, followLogFiles, readLogs, rotateLogs, type LogLine } from './logs.ts';
import { mountOverlay, overlayMount, overlayRootMount, unmount } from './mounts.ts';
import { argsOf, mergeEnv, validateOptions, type ContainerOptions } from './options.ts';
import { Runc } from './runc.ts';
import { findConmon, startUnderConmon, type ConmonArgs } from './conmon.ts';
import { runcForInit } from './sealed-runc.ts';
import { buildSpec, DEFAULT_PATH } from './spec.ts';
import { resolveContainerUser } from './user.ts';
import { applyCapabilities } from './capabilities.ts';
import { containerRlimits } from './rlimits.ts';
import { readdirSyncOrEmpty } from '../../lib/fs.ts';
import { compareCodeUnits } from '../../lib/compare.ts';
import { liveStatus, readJson, waitForFile, writeJsonAtomic } from './state-files.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { claimName, releaseName } from './names.ts';
import { ExitWatch, type Verdict } from './exit-watch.ts';
import { WarmMonitor } from './warm-monitor.ts';
import { ContainerDirs, stateRootOf, type ContainerPaths } from './state-root.ts';
export { DEFAULT_LOG_LIMITS, type ContainerInfo, type ContainerManagerOptions, type ContainerRecord, type ContainerStatus, type ExitStatus, type StartHooks } from './types.ts';
import { DEFAULT_LOG_LIMITS, type ContainerInfo, type ContainerManagerOptions, type ContainerRecord, type ExitStatus, type StartHooks } from './types.ts';

/** ContainerManager creates, starts, watches and deletes containers under ROOT/containers. */
export class ContainerManager {
  readonly root: string;
  readonly dir: string;
  /** the tmpfs directory of the per-start files (state-root.ts): runc's root, exits, STATE/containers */
  readonly stateRoot: string;
  /** the directories of the containers, on the disk and in STATE */
  private readonly dirs: ContainerDirs;
  private closed = false;
  readonly images: ImageStore;
  readonly snapshots: Snapshotter;
  readonly runc: Runc;
  private readonly namesDir: string;
  private readonly cgroupParent: string;
  private readonly log: Logger;
  /** container.json of each container seen, by id (immutable once written; forgotten on delete) */
  private readonly records = new Map<string, ContainerRecord>();
  /** the pid of each container last seen running (state-files.ts liveStatus: a cheaper check next time) */
  private readonly runningPids = new Map<string, number>();
  /** rlimits every container gets: DEFAULT_RLIMITS within this process's own hard limits (read once) */
  private readonly rlimits = containerRlimits();
  private conmonBin: string | undefined;
  /** every wait() of this manager, over one watch of ROOT/exits */
  private readonly exits: ExitWatch<ExitStatus>;
  private readonly warm: WarmMonitor | undefined;

  constructor(opts: ContainerManagerOptions) {
    // Absolute from here on: the shim and runc run with their working directory inside a container's
    // directory, so a root relative to the caller's (`--root .gitcell/runtime`) would point nowhere.
    const root = resolve(opts.root);
    this.root = root;
    this.dir = join(root, 'containers');
    this.namesDir = join(root, 'names');
    this.images = opts.images ?? new ImageStore(root);
    this.snapshots = opts.snapshots ?? new Snapshotter(root);
    this.stateRoot = opts.stateRoot ?? stateRootOf(root);
    this.dirs = new ContainerDirs(root, this.stateRoot);
    this.runc = new Runc(this.dirs.runcRoot, opts.runc, () => this.sweepState());
    this.cgroupParent = opts.cgroupParent ?? DEFAULT_CGROUP_PARENT;
    this.log = opts.log ?? silentLogger();
    this.conmonBin = opts.conmon;
    this.exits = new ExitWatch(this.dirs.exits, (id) => this.exitVerdict(id));
    if (opts.warmMonitor) this.warm = new WarmMonitor((id) => this.conmonArgs(id, DEFAULT_LOG_LIMITS.maxBytes), (id) => this.dirs.make(id), (id) => this.dirs.rm(id), this.log);
  }

  /** conmonArgs are the monitor inputs of container `id` whose config.json is in its state directory (or `bundle`). */
  private async conmonArgs(id: string, logMaxBytes: number, bundle?: string): Promise<ConmonArgs> {
    const p = this.pathsOf(id);
    this.conmonBin ??= findConmon();
    this.dirs.ensure();
    // runc create runs from the process's sealed copy (sealed-runc.ts): its init skips cloning itself.
    return { conmon: this.conmonBin, runc: await runcForInit(this.runc.bin, this.log), runcRoot: this.runc.root, id, dir: p.state, exitDir: this.dirs.exits, logDir: p.logs, logMaxBytes, bundle: bundle ?? p.state };
  }

  /**
   * pathsOf names the files of one container: `dir` on ROOT's disk (container.json, upper/, work/,
   * logs/), `state` on the tmpfs (state-root.ts: config.json, init/, rootfs/, the state files).
   */
  pathsOf(id: string): ContainerPaths {
    return this.dirs.pathsOf(id);
  }

  /**
   * prepareImage unpacks `ref`'s layers into the snapshots now (what the first create() of that image
   * would do), so that first start does not wait for it; concurrent calls and creates share one unpack.
   */
  async prepareImage(ref: string): Promise<void> {
    const image = await this.images.resolve(ref);
    await this.snapshots.prepare(this.images.content, image.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: image.diffIds[i]! })));
  }

  /** create prepares a container (mounted root filesystem, bundle) without starting it. */
  async create(input: ContainerOptions): Promise<ContainerInfo> {
    const opts = validateOptions(input);
    const image = await this.images.resolve(opts.image);
    // The warm monitor's id when the container's monitor is a default one (its directory exists).
    const warmId = this.warm && !opts.secretEnv?.length && (opts.log?.maxBytes ?? DEFAULT_LOG_LIMITS.maxBytes) === DEFAULT_LOG_LIMITS.maxBytes ? this.warm.take() : undefined;
    const id = warmId ?? randomBytes(8).toString('hex');
    const name = opts.name ?? id;
    const cgroupsPath = cgroupsPathOf(opts.cgroupParent ?? this.cgroupParent, id);
    claimName(this.namesDir, this.dir, name, id);
    const p = this.pathsOf(id);
    let mounted = false;
    let bundled = false;
    try {
      const lowers = await this.snapshots.prepare(this.images.content, image.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: image.diffIds[i]! })));
      if (!warmId) this.dirs.make(id);
      const hostname = opts.hostname ?? (NAME_AS_HOST.test(name) ? name : id).slice(0, 63);
      writeInitLayer(p.init, { hostname, ...(opts.hosts ? { hosts: opts.hosts } : {}), ...(opts.dns ? { dns: opts.dns } : {}), ...(opts.dnsSearch ? { dnsSearch: opts.dnsSearch } : {}), ...(opts.dnsOptions ? { dnsOptions: opts.dnsOptions } : {}), ...(opts.mounts ? { mounts: opts.mounts } : {}) });
      // runc mounts the overlay inside the container (see overlayRootMount). When absolute lower paths
      // overflow the kernel's one-page option limit (dozens of layers), the plan switches to paths
      // relative to ROOT, which only a mount(8) run from ROOT can use: then the host mounts it.
      const plan = overlayMount({ id, lowers, init: p.init, upper: p.upper, work: p.work, target: p.rootfs, base: this.root });
      if (plan.cwd) {
        await mountOverlay(plan);
        mounted = true;
      }
      const rootfsMount = plan.cwd ? undefined : overlayRootMount(plan);
      const chain = chainIds(image.diffIds);
      const user = resolveContainerUser(opts, image, (path) => this.snapshots.readLayered(chain, path));
      const args = argsOf(image, opts);
      const env = mergeEnv([`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`, `HOME=${user.home}`], mergeEnv(image.config.Env ?? [], mergeEnv(opts.env ?? [], opts.secretEnv ?? [])));
      const spec = buildSpec({
        rootfs: p.rootfs, args, env, cwd: opts.cwd ?? (image.config.WorkingDir || '/'), uid: user.uid, gid: user.gid, additionalGids: user.additionalGids,
        hostname, cgroupsPath, ...(rootfsMount ? { rootfsMount } : {}),
        ...(opts.readOnlyRootfs ? { readonlyRootfs: true } : {}),
        rlimits: this.rlimits,
        ...(opts.capDrop !== undefined || opts.capAdd !== undefined ? { capabilities: applyCapabilities(opts.capDrop, opts.capAdd) } : {}),
        ...(opts.memoryBytes !== undefined ? { memoryBytes: opts.memoryBytes } : {}),
        ...(opts.cpuMillis !== undefined ? { cpuMillis: opts.cpuMillis } : {}),
        ...(opts.cpuShares !== undefined ? { cpuShares: opts.cpuShares } : {}),
        ...(opts.pidsLimit !== undefined ? { pidsLimit: opts.pidsLimit } : {}),
        ...(opts.mounts ? { mounts: opts.mounts } : {}),
        ...(opts.netnsPath ? { netnsPath: opts.netnsPath } : {}),
        annotations: { 'io.gitcell.name': name, 'io.gitcell.image': image.ref },
      });
      const inMemory = (opts.secretEnv?.length ?? 0) > 0;
      bundled = inMemory;
      const bundle = await writeBundle(p.state, id, spec, inMemory);
      const record: ContainerRecord = {
        id, name, createdAt: new Date().toISOString(), args, hostname, cgroupsPath, oomFile: oomEventsFile(cgroupsPath),
        image: { ref: image.ref, manifestDigest: image.manifestDigest, chainIds: chain },
        limits: { ...(opts.memoryBytes !== undefined ? { memoryBytes: opts.memoryBytes } : {}), ...(opts.cpuMillis !== undefined ? { cpuMillis: opts.cpuMillis } : {}), ...(opts.pidsLimit !== undefined ? { pidsLimit: opts.pidsLimit } : {}) },
        labels: { ...(opts.labels ?? {}) },
        log: { ...DEFAULT_LOG_LIMITS, ...(opts.log ?? {}) },
        ...(bundle !== p.state ? { bundle } : {}),
      };
      writeJsonAtomic(join(p.dir, 'container.json'), record);
      this.log.debug({ id, name, image: image.ref }, 'container created');
      return { ...record, status: 'created' };
    } catch (err) {
      if (mounted) await unmount(p.rootfs).catch(() => undefined);
      if (bundled) await releaseBundle(p.state).catch(() => undefined);
      this.dirs.rm(id);
      if (warmId) this.warm!.discard(warmId);
      releaseName(this.namesDir, name, id);
      throw err;
    }
  }

  /** start launches a created container and resolves once its process runs (or fails to start: hooks' failures too). */
  async start(idOrName: string, hooks: StartHooks = {}): Promise<ContainerInfo> {
    const id = this.resolveId(idOrName);
    const info = this.inspect(id);
    if (info.status !== 'created') throw new RuntimeError(ErrorCodes.ContainerState, `container ${info.name} is ${info.status}, not created`, { id, status: info.status });
    const p = this.pathsOf(id);
    // Claim the start: a second start of the same container fails here instead of racing runc.
    try {
      fs.writeFileSync(join(p.state, 'shim.pid'), '', { flag: 'wx' });
    } catch {
      throw new RuntimeError(ErrorCodes.ContainerState, `container ${info.name} is already starting`, { id });
    }
    const args = await this.conmonArgs(id, info.log.maxBytes, info.bundle);
    // A warm monitor made for this id (create took it) is let go; else a cold one is started.
    const warm = this.warm?.release(id, p.state);
    try {
      await startUnderConmon(this.runc, args, info.name, START_TIMEOUT_MS, hooks.onCreated, warm);
    } finally {
      this.warm?.startDone(id);
    }
    return this.inspect(id);
  }

  /** run is create then start. */
  async run(opts: ContainerOptions, hooks: StartHooks = {}): Promise<ContainerInfo> {
    const c = await this.create(opts);
    return this.start(c.id, hooks);
  }

  /** inspect returns a container's record and live status (from its files; no runc call). */
  inspect(idOrName: string): ContainerInfo {
    return this.inspectId(this.resolveId(idOrName), idOrName);
  }

  private inspectId(id: string, asked: string): ContainerInfo {
    const record = this.recordOf(id);
    if (!record) throw new RuntimeError(ErrorCodes.ContainerNotFound, `no container ${asked}`, { id: asked });
    const known = this.runningPids.get(id);
    const live = liveStatus(this.dirs.pathsOf(id).state, { execFifo: join(this.runc.root, id, 'exec.fifo'), oomFile: record.oomFile, ...(known !== undefined ? { runningPid: known } : {}) });
    if (live.status === 'running' && 'pid' in live) this.runningPids.set(id, live.pid);
    else if (known !== undefined) this.runningPids.delete(id);
    if (live.status === 'exited') return { ...record, status: 'exited', exit: { exitCode: live.exit.exitCode, oomKilled: live.exit.oomKills > 0, finishedAt: live.exit.finishedAt } };
    return { ...record, ...live };
  }

  /** recordOf reads container.json once per container: it is never rewritten after create. */
  private recordOf(id: string): ContainerRecord | undefined {
    let record = this.records.get(id);
    if (!record) {
      record = readJson<ContainerRecord>(join(this.dir, id, 'container.json'));
      if (record) this.records.set(id, record);
    }
    return record;
  }

  /** state is inspect under the name of the OCI runtime operation (the agent's vocabulary). */
  state(idOrName: string): ContainerInfo {
    return this.inspect(idOrName);
  }

  /** list returns every container of this root, oldest first (a directory without container.json is not one yet). */
  list(): ContainerInfo[] {
    const out: ContainerInfo[] = [];
    for (const id of readdirSyncOrEmpty(this.dir)) {
      try {
        if (this.recordOf(id)) out.push(this.inspectId(id, id));
      } catch {
        // deleted while listing
      }
    }
    return out.sort((a, b) => compareCodeUnits(a.createdAt, b.createdAt));
  }

  /**
   * adopt is what a restarted agent calls: it removes half-created containers (no container.json,
   * older than a minute: their creator died) and returns the rest, running or not.
   */
  async adopt(): Promise<ContainerInfo[]> {
    await this.removeHalfCreated();
    // A start whose caller died between `runc create` and `runc start`: finish it.
    for (const c of this.list()) if (c.status === 'starting' && c.pid !== undefined) await this.runc.start(c.id).catch(() => undefined);
    return this.list();
  }

  /**
   * removeHalfCreated removes the directories without container.json older than a minute (a creator,
   * or a warm monitor's owner, that died: warm-monitor.ts) and returns their ids; adopt()'s first step,
   * also for a caller that adopts containers its own way (the agent, at each minute).
   */
  async removeHalfCreated(): Promise<string[]> {
    return this.dirs.removeHalfCreated((id) => this.warm?.owns(id) ?? false);
  }

  /**
   * rotateLogs keeps the `log.keep` earlier files of a container's log as conmon caps it (logs.ts
   * rotateLogs): the agent calls it for its running containers on each pass. Never throws.
   */
  rotateLogs(id: string): void {
    const record = this.recordOf(id);
    if (record) rotateLogs(this.pathsOf(id).logs, record.log.keep);
  }

  /** kill sends a signal (default SIGTERM) to the container's process. */
  async kill(idOrName: string, signal = 'SIGTERM'): Promise<void> {
    const info = this.inspect(idOrName);
    if (info.status !== 'running') throw new RuntimeError(ErrorCodes.ContainerNotRunning, `container ${info.name} is ${info.status}`, { id: info.id, status: info.status });
    await this.runc.kill(info.id, signal);
  }

  /** wait resolves with the exit status once the container has exited. */
  async wait(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<ExitStatus> {
    const info = this.inspect(idOrName);
    if (info.status === 'created') throw new RuntimeError(ErrorCodes.ContainerState, `container ${info.name} was never started`, { id: info.id });
    const timeout = () => new RuntimeError(ErrorCodes.Timeout, `timed out after ${opts.timeoutMs} ms waiting for container ${info.name} to exit`, { id: info.id });
    return this.exits.wait(info.id, opts.timeoutMs, timeout);
  }

  /** close stops watching for exits: pending wait()s never settle, and no handle keeps the process alive. */
  close(): void {
    this.exits.close();
    this.warm?.close();
    this.closed = true;
    this.dirs.removeStateIfUnused();
  }

  /** sweepState: once closed, STATE again if unused (runc remakes its root for any command: e2e/up-kill). */
  sweepState(): void { if (this.closed) this.dirs.removeStateIfUnused(); }

  /**
   * exitVerdict is one check of a waited container: exited, or lost (its monitor died without an exit
   * file, once its process is gone too: a monitor killed from outside), or gone; else still running.
   */
  private exitVerdict(id: string): Verdict<ExitStatus> {
    if (!fs.existsSync(join(this.dir, id))) return { failed: new RuntimeError(ErrorCodes.ContainerNotFound, `container ${id} was deleted while waited on`, { id }) };
    const now = this.inspectId(id, id);
    if (now.status === 'exited') return { done: now.exit! };
    if (now.status === 'unknown') return { failed: new RuntimeError(ErrorCodes.ContainerLost, `the monitor of container ${now.name} is gone; its exit status is lost`, { id }) };
    return undefined;
  }

  /** stop sends SIGTERM, waits up to `timeoutMs` (default 10 s), then SIGKILL. */
  async stop(idOrName: string, opts: { timeoutMs?: number; signal?: string } = {}): Promise<ExitStatus> {
    const info = this.inspect(idOrName);
    if (info.status === 'exited') return info.exit!;
    await this.kill(info.id, opts.signal ?? 'SIGTERM').catch(() => undefined);
    try {
      return await this.wait(info.id, { timeoutMs: opts.timeoutMs ?? 10_000 });
    } catch (err) {
      if (!(err instanceof GitcellError && err.code === ErrorCodes.Timeout)) throw err;
    }
    await this.runc.kill(info.id, 'SIGKILL', true).catch(() => undefined);
    return this.wait(info.id, { timeoutMs: 30_000 });
  }

  /** delete removes a container and everything it owns; a running one only with `force`. */
  async delete(idOrName: string, opts: { force?: boolean } = {}): Promise<void> {
    const info = this.inspect(idOrName);
    const p = this.pathsOf(info.id);
    if (info.status === 'running' || info.status === 'starting') {
      if (!opts.force) throw new RuntimeError(ErrorCodes.ContainerRunning, `container ${info.name} is ${info.status}; stop it first or force`, { id: info.id });
      await this.runc.kill(info.id, 'SIGKILL', true).catch(() => undefined);
      await waitForFile(p.state, EXIT_FILES, 15_000).catch(() => undefined);
    }
    this.warm?.discard(info.id); // created, never started: its claimed spare goes too
    await this.runc.delete(info.id, true);
    await unmount(p.rootfs); // only images with dozens of layers are mounted on the host
    await releaseBundle(p.state); // containers given secretEnv have their config.json on a tmpfs of its own
    const left = removeCgroup(info.cgroupsPath);
    if (left.length) this.log.warn({ id: info.id, left }, 'cgroups still populated after delete');
    this.dirs.rm(info.id);
    fs.rmSync(join(this.dirs.exits, info.id), { force: true });
    this.records.delete(info.id);
    this.runningPids.delete(info.id);
    releaseName(this.namesDir, info.name, info.id);
    if (this.closed) this.dirs.removeStateIfUnused(); // the last container of a closed manager takes STATE with it
  }

  /** logs returns every stored log line of a container. */
  logs(idOrName: string): LogLine[] {
    return readLogs(this.pathsOf(this.resolveId(idOrName)).logs);
  }

  /**
   * followLogs calls onLine for every log line, from the first, until the container has exited and
   * its logs are drained (or `signal` aborts).
   */
  followLogs(idOrName: string, onLine: (line: LogLine) => void, signal?: AbortSignal): Promise<void> {
    const p = this.pathsOf(this.resolveId(idOrName));
    return followLogFiles(p.state, p.logs, onLine, signal);
  }

  /** resolveId accepts an id, a unique id prefix (>= 4 chars) or a name. */
  resolveId(idOrName: string): string {
    if (/^[0-9a-f]{16}$/.test(idOrName) && fs.existsSync(join(this.dir, idOrName))) return idOrName;
    try {
      const target = fs.readlinkSync(join(this.namesDir, idOrName));
      if (fs.existsSync(join(this.dir, target))) return target;
    } catch {
      // not a name
    }
    if (/^[0-9a-f]{4,15}$/.test(idOrName)) {
      const hits = readdirSyncOrEmpty(this.dir).filter((d) => d.startsWith(idOrName));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw new RuntimeError(ErrorCodes.ContainerAmbiguous, `${idOrName} matches ${hits.length} containers`, { id: idOrName });
    }
    throw new RuntimeError(ErrorCodes.ContainerNotFound, `no container ${idOrName}`, { id: idOrName });
  }
}

/** START_TIMEOUT_MS bounds how long start() waits for runc to report the process running. */
export const START_TIMEOUT_MS = 120_000;

const NAME_AS_HOST = /^[a-zA-Z0-9][a-zA-Z0-9.-]*$/;

