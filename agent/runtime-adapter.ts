/**
 * The agent's TaskRuntime implemented with runtime/: ImageStore (shared cache, pulled on demand),
 * ContainerManager (one root and cgroup parent per node), and `runc exec` for exec probes.
 * Container names are the agent's container ids; labels carry the task id and template hash.
 */
import { existsSync } from 'node:fs';
import { isGitcellError, ErrorCodes, AgentError, sharedSpawnHelper } from '../lib/index.ts';
import { ContainerManager, ImageStore, ensureImage, limitCgroupParent, mergeAuths, type ContainerInfo, type ContainerOptions, type RegistryAuths, type RegistryMirrors } from '../runtime/index.ts';
import type { ContainerView, ExitInfo, ImageOutcome, ImagePull, RunRequest, TaskRuntime } from './port.ts';

/** RuntimeAdapterOptions: where images and containers live. */
export interface RuntimeAdapterOptions {
  /** the node's runtime root (containers, snapshots) */
  root: string;
  /** image cache shared by every agent of the machine (default: `root`) */
  imageRoot?: string;
  /** cgroup parent of this node's containers, e.g. "gitcell/node-1" */
  cgroupParent: string;
  /** maxBlobBytes refuses image blobs declared larger (default runtime/'s DEFAULT_MAX_BLOB_BYTES) */
  maxBlobBytes?: number;
  /** registry mirrors tried before an image's own registry (by registry host) */
  mirrors?: RegistryMirrors;
  /** the node's own registry credentials (`--registry-auth` config.json), after a task's pull Secrets */
  auths?: RegistryAuths;
}

/** RuntimeAdapter is the TaskRuntime of a real node: runtime/'s image store, snapshotter and runc containers. */
export class RuntimeAdapter implements TaskRuntime {
  readonly imageStore: ImageStore;
  readonly manager: ContainerManager;
  /** the pulls under way: their outcome, whether a pull began, and who waits to be told it did */
  private readonly pulls = new Map<string, { outcome: Promise<ImageOutcome>; pulling: boolean; told: Set<() => void> }>();
  /**
   * views is the node's containers as the last full listing saw them, kept current by this adapter's
   * own changes (run, remove, an exit wait() saw); listedAt is when that listing was (epoch ms).
   */
  private readonly views = new Map<string, ContainerView>();
  private listedAt = -Infinity;
  /** when the last sweep of half-created container directories began (epoch ms) */
  private sweptAt = -Infinity;

  constructor(readonly o: RuntimeAdapterOptions) {
    this.imageStore = new ImageStore(o.imageRoot ?? o.root);
    // The warm monitor (runtime/container/warm-monitor.ts): the next default container's conmon
    // exec'd ahead, so a start does not pay conmon's own start (start_ratio_vs_runc 1.2 -> 1.07).
    this.manager = new ContainerManager({ root: o.root, images: this.imageStore, cgroupParent: o.cgroupParent, warmMonitor: true });
  }

  /**
   * limitNode caps this node's cgroup parent at what the node allocates (its advertised capacity),
   * so tasks together can never take more of the host than the scheduler hands out. Returns the
   * cgroup files written.
   */
  limitNode(allocatable: { cpuMillis: number; memoryBytes: number }): string[] {
    return limitCgroupParent(this.o.cgroupParent, allocatable);
  }

  async ensureImage(ref: string, pull: ImagePull = {}): Promise<ImageOutcome> {
    const auths = mergeAuths(pull.auths, this.o.auths);
    // One pull per reference, policy and identity at a time, however many tasks want it (tasks
    // with other credentials do not share a pull that may fail for want of theirs).
    const key = [ref, pull.policy ?? '', ...[...auths].map(([host, c]) => `${host}=${c.username}`)].join('\0');
    let p = this.pulls.get(key);
    if (!p) {
      const entry = { outcome: Promise.resolve<ImageOutcome>({ pulled: false }), pulling: false, told: new Set<() => void>() };
      const onPull = (): void => {
        entry.pulling = true;
        for (const tell of entry.told) tell();
      };
      entry.outcome = ensureImage(this.imageStore, ref, {
        ...(pull.policy ? { policy: pull.policy } : {}), auths, ...(this.o.mirrors ? { mirrors: this.o.mirrors } : {}),
        ...(this.o.maxBlobBytes !== undefined ? { maxBlobBytes: this.o.maxBlobBytes } : {}), onPull,
      }).then((r) => ({ pulled: r.pulled, ...(r.from ? { from: r.from } : {}) })).finally(() => this.pulls.delete(key));
      p = entry;
      this.pulls.set(key, p);
    }
    // A task joining a pull under way is told at once; the others when it begins.
    if (pull.onPull) {
      if (p.pulling) pull.onPull();
      else p.told.add(pull.onPull);
    }
    return p.outcome;
  }

  async run(req: RunRequest): Promise<{ pid: number }> {
    const info = await this.manager.run({
      image: req.image,
      name: req.id,
      ...(req.command ? { entrypoint: req.command } : {}),
      ...(req.args ? { command: req.args } : {}),
      env: req.env.map((e) => `${e.name}=${e.value}`),
      ...(req.secretEnv?.length ? { secretEnv: req.secretEnv.map((e) => `${e.name}=${e.value}`) } : {}),
      ...(req.workingDir ? { cwd: req.workingDir } : {}),
      ...(req.user ? { user: req.user } : {}),
      ...securityOptions(req.securityContext),
      hostname: req.hostname,
      ...(req.dns ? { dns: req.dns.nameservers, dnsSearch: req.dns.search, dnsOptions: req.dns.options } : {}),
      ...(req.memoryBytes ? { memoryBytes: req.memoryBytes } : {}),
      ...(req.cpuMillis ? { cpuMillis: req.cpuMillis } : {}),
      ...(req.netnsPath ? { netnsPath: req.netnsPath } : {}),
      ...(req.mounts?.length ? { mounts: req.mounts.map((m) => ({ type: 'bind' as const, source: m.source, destination: m.destination, readonly: true })) } : {}),
      cgroupParent: this.o.cgroupParent,
      labels: req.annotations,
    }, req.onCreated ? { onCreated: req.onCreated } : {}).catch((err: unknown) => {
      this.listedAt = -Infinity; // a failed start may leave a container: the next pass lists it
      throw err;
    });
    this.views.set(info.name, toView(info));
    if (info.status !== 'running' || info.pid === undefined) {
      // It started and already exited: report the pid-less start; wait() gives the exit.
      return { pid: info.pid ?? 0 };
    }
    return { pid: info.pid };
  }

  /** sweepState removes the runtime's state root again if the closed manager has no container left (runc remade it). */
  sweepState(): void {
    this.manager.sweepState();
  }

  close(): void {
    this.manager.close();
  }

  /**
   * list is read on every convergence pass: a full listing (every container's state files) at most
   * every RELIST_MS, and in between the views this adapter keeps current itself. A burst of starts
   * runs a pass per finished operation, and a full listing per pass read every container's pid,
   * exit and fifo files: O(tasks) per start, 0.7 s of the agent's main thread over 50 starts.
   * What changes behind the adapter's back (an exit it is not waiting on, a container removed by
   * hand) shows at the next full listing, as it showed at the next pass before. The full listing is
   * also when running containers' logs rotate (conmon only caps them).
   */
  async list(): Promise<ContainerView[]> {
    const now = Date.now();
    if (now - this.listedAt >= RELIST_MS) {
      this.listedAt = now;
      const all = this.manager.list();
      this.views.clear();
      for (const c of all) {
        if (c.status === 'running') this.manager.rotateLogs(c.id);
        this.views.set(c.name, toView(c));
      }
      if (now - this.sweptAt >= SWEEP_MS) this.sweep(now);
    }
    return [...this.views.values()];
  }

  /**
   * sweep removes what a dead process left of a container never created (no container.json, a
   * minute old): above all a warm monitor's spare directory after the agent was killed (kill -9:
   * runtime/container/warm-monitor.ts). The agent adopts containers itself (resume.ts), never through
   * the manager's adopt(), so nothing else removed them. At the first listing, then every SWEEP_MS.
   */
  private sweep(now: number): void {
    this.sweptAt = now;
    void this.manager.removeHalfCreated().catch(() => {
      this.sweptAt = -Infinity; // tried again at the next full listing
    });
  }

  async wait(id: string): Promise<ExitInfo> {
    let out: ExitInfo;
    try {
      const e = await this.manager.wait(id);
      out = { exitCode: e.exitCode, oomKilled: e.oomKilled };
    } catch (err) {
      if (!(isGitcellError(err, ErrorCodes.ContainerNotFound) || isGitcellError(err, ErrorCodes.ContainerLost) || isGitcellError(err, ErrorCodes.ContainerState))) throw err;
      out = { exitCode: 255, oomKilled: false, signal: 'lost' };
    }
    const v = this.views.get(id);
    if (v) this.views.set(id, { ...v, status: 'stopped' });
    return out;
  }

  async kill(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    try {
      await this.manager.kill(id, signal);
    } catch (err) {
      if (isGitcellError(err, ErrorCodes.ContainerNotFound) || isGitcellError(err, ErrorCodes.ContainerNotRunning) || isGitcellError(err, ErrorCodes.RuncNotFound)) return;
      // A process that exited between inspect and kill makes runc fail: fine if it is gone now.
      const now = this.tryInspect(id);
      if (!now || now.status !== 'running') return;
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.manager.delete(id, { force: true });
    } catch (err) {
      if (!isGitcellError(err, ErrorCodes.ContainerNotFound)) {
        this.listedAt = -Infinity; // half removed: the next pass lists what is left
        throw err;
      }
    }
    this.views.delete(id);
  }

  /**
   * exec runs `runc exec` in the container (exec probes) through the process's spawn helper, not a
   * fork of this process: the agent's process (three agents in one under `gitcell up`) blocked its
   * event loop for each fork (384 ms of ChildProcess.spawn in 23 s of an up profile at load 50, the
   * node-logger's liveness probe, first run as its task starts). Past `timeoutMs` the command is
   * killed and the answer is 137, as before.
   */
  async exec(id: string, argv: string[], timeoutMs: number): Promise<number> {
    const info = this.tryInspect(id);
    // (no runc root: the container is gone, and runc would make the root again for nothing)
    if (!info || !existsSync(this.manager.runc.root)) return 126;
    try {
      const r = await sharedSpawnHelper().run(this.manager.runc.bin, ['--root', this.manager.runc.root, 'exec', info.id, ...argv], { timeoutMs });
      return r.code;
    } catch (e) {
      throw new AgentError(ErrorCodes.ExecFailed, `runc exec in ${id} failed: ${(e as Error).message}`, { id });
    } finally {
      this.manager.sweepState(); // an exec that outlived the last container made runc's root again
    }
  }

  /**
   * warmImage unpacks `ref` into the snapshots before any task needs it (`--warm-image`): waiting
   * until the image is in the store (the shared cache may still be importing it) for at most
   * `deadlineMs`, polled every WARM_POLL_MS. A task start meanwhile shares the same unpack. Resolves
   * true once unpacked, false at the deadline or on `signal`; other failures reject.
   */
  async warmImage(ref: string, deadlineMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + deadlineMs;
    while (!signal.aborted) {
      try {
        await this.manager.prepareImage(ref);
        return true;
      } catch (err) {
        if (!isGitcellError(err, ErrorCodes.ImageNotFound) || Date.now() + WARM_POLL_MS > deadline) {
          if (isGitcellError(err, ErrorCodes.ImageNotFound)) return false;
          throw err;
        }
      }
      await new Promise((r) => setTimeout(r, WARM_POLL_MS));
    }
    return false;
  }

  logDir(id: string): string | undefined {
    const info = this.tryInspect(id);
    return info ? this.manager.pathsOf(info.id).logs : undefined;
  }

  cgroupPath(id: string): string {
    return this.tryInspect(id)?.cgroupsPath ?? '';
  }

  /** images names the node's images for its heartbeat: the ref files only (list() resolved every manifest every 3 s). */
  async images(): Promise<string[]> {
    try {
      return (await this.imageStore.refs()).map((r) => r.ref);
    } catch {
      return (await this.imageStore.list()).map((i) => i.ref); // a damaged ref file: list() names what it can
    }
  }

  private tryInspect(id: string): ContainerInfo | undefined {
    try {
      return this.manager.inspect(id);
    } catch {
      return undefined;
    }
  }
}

/** WARM_POLL_MS: how often warmImage looks again for an image not in the store yet. */
export const WARM_POLL_MS = 200;

/** RELIST_MS: how often list() reads every container's state files (and rotates their logs). */
export const RELIST_MS = 1000;

/** SWEEP_MS: how often list() removes half-created container directories (a minute old; sweep). */
export const SWEEP_MS = 60_000;

/** securityOptions maps a template's securityContext onto the runtime's container options. */
function securityOptions(sc: RunRequest['securityContext']): Partial<ContainerOptions> {
  if (!sc) return {};
  return {
    ...(sc.runAsNonRoot ? { runAsNonRoot: true } : {}),
    ...(sc.readOnlyRootFilesystem ? { readOnlyRootfs: true } : {}),
    ...(sc.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
    ...(sc.capabilities ? { capDrop: sc.capabilities.drop, capAdd: sc.capabilities.add } : {}),
  };
}

function toView(c: ContainerInfo): ContainerView {
  // A start still under way (created, or waiting on runc's exec fifo) is not running yet: after an
  // agent restart its journaled start is redone, never adopted half-done (no network, never released).
  const status = c.status === 'exited' || c.status === 'unknown' ? 'stopped' : c.status === 'starting' ? 'created' : c.status;
  return { id: c.name, status, ...(c.pid !== undefined ? { pid: c.pid } : {}), annotations: c.labels, createdAt: Date.parse(c.createdAt) };
}
