/**
 * An in-memory TaskRuntime and TaskNetwork: containers that "start" after a configurable delay, run
 * until they are told to exit (or their behaviour says when), answer probes from a table, and keep
 * the runtime's contract (every method idempotent, `wait` also for adopted containers, a missing
 * container waits as lost), with no process, mount, cgroup or namespace. Hollow nodes run the real
 * agent over it (many nodes per process), and the agent's orchestration is unit-tested on it:
 *
 *   const runtime = new MemoryRuntime({ startDelayMs: 20 });
 *   runtime.behave('web-1', { exitAfterMs: 100, exitCode: 1 });   // crash-loop
 *   runtime.answer('web-1', 'liveness', false);                      // a failing probe
 *   new Agent(options, { nc, store, runtime, network: new MemoryNetwork(), log });
 */
import { ErrorCodes, ImageError, RuntimeError, UsageError, AgentError } from '../lib/index.ts';
import type { ResolvedProbe } from '../api/index.ts';
import type { ProbeKind } from './probe.ts';
import type { ProbeOutcome } from './probe-exec.ts';
import { ANNOTATION_TASK, type ContainerView, type ExitInfo, type ImagePull, type RunRequest, type TaskNetwork, type TaskRuntime } from './port.ts';

/** MemoryBehaviour is how the containers of one task behave (every field optional). */
export interface MemoryBehaviour {
  /** how long `run` takes before the container runs (default: the runtime's startDelayMs) */
  startDelayMs?: number;
  /** `run` fails with this message (E_CONTAINER_START_FAILED) after the start delay, leaving a created container */
  failStart?: string;
  /** the container exits on its own this long after it started (default: it runs until killed) */
  exitAfterMs?: number;
  /** its exit code when it exits on its own (default 0) */
  exitCode?: number;
  /** it exits as the OOM killer's victim */
  oomKilled?: boolean;
  /** SIGTERM does not end it: only SIGKILL does (a task that ignores its grace period) */
  ignoreSigterm?: boolean;
}

/** MemoryRuntimeOptions: timings and the images present. */
export interface MemoryRuntimeOptions {
  /** how long every start takes unless a behaviour says otherwise (default 0) */
  startDelayMs?: number;
  /** images present from the start (default none; any other is "pulled" by ensureImage) */
  images?: string[];
  /** images no registry has: ensureImage fails with E_IMAGE_NOT_FOUND */
  missingImages?: string[];
  /** how long a pull takes (default 0) */
  pullDelayMs?: number;
}

interface MemoryContainer {
  view: ContainerView;
  taskId: string;
  behaviour: MemoryBehaviour;
  exit: Promise<ExitInfo>;
  settle: (info: ExitInfo) => void;
  timers: NodeJS.Timeout[];
}

/** NO_BEHAVIOUR is the behaviour of a task nothing was set for. */
const NO_BEHAVIOUR: MemoryBehaviour = Object.freeze({});

/** MemoryRuntime is a TaskRuntime with no processes: containers are records whose exits and probe answers a test or hollow node scripts. */
export class MemoryRuntime implements TaskRuntime {
  private readonly containers = new Map<string, MemoryContainer>();
  private readonly present: Set<string>;
  private readonly missing: Set<string>;
  private readonly behaviours = new Map<string, MemoryBehaviour>();
  private readonly answers = new Map<string, Partial<Record<ProbeKind, boolean>>>();
  private readonly execCodes = new Map<string, number>();
  private readonly runs = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pullDelays = new Map<string, number>();
  private nextPid = 10_000;

  constructor(private readonly o: MemoryRuntimeOptions = {}) {
    this.present = new Set(o.images ?? []);
    this.missing = new Set(o.missingImages ?? []);
  }

  // ---- what a test or a hollow node sets ---------------------------------------------------------

  /** behave sets how the task's future containers behave (merged over what was set before). */
  behave(taskId: string, b: MemoryBehaviour): void {
    this.behaviours.set(taskId, { ...this.behaviours.get(taskId), ...b });
  }

  /** pullDelay sets how long a pull of `ref` takes (instead of pullDelayMs). */
  pullDelay(ref: string, ms: number): void {
    this.pullDelays.set(ref, ms);
  }

  /** answer sets the outcome of the task's `kind` probes (default: success). */
  answer(taskId: string, kind: ProbeKind, ok: boolean): void {
    this.answers.set(taskId, { ...this.answers.get(taskId), [kind]: ok });
  }

  /** execCode sets the exit code of exec in the task's containers (default 0). */
  execCode(taskId: string, code: number): void {
    this.execCodes.set(taskId, code);
  }

  /** crash ends the task's running container now, as if its process exited with `exitCode`. */
  crash(taskId: string, exitCode: number, o: { oomKilled?: boolean } = {}): boolean {
    const c = [...this.containers.values()].find((x) => x.taskId === taskId && x.view.status === 'running');
    if (!c) return false;
    this.end(c, { exitCode, oomKilled: o.oomKilled ?? false });
    return true;
  }

  /** starts counts the containers `run` was asked to start for a task (failed starts included). */
  starts(taskId: string): number {
    return this.runs.get(taskId) ?? 0;
  }

  /** running lists the ids of the task's running containers (never more than one, says the agent). */
  running(taskId: string): string[] {
    return [...this.containers.values()].filter((c) => c.taskId === taskId && c.view.status === 'running').map((c) => c.view.id);
  }

  /** runningCount counts the task's running containers (`running`, without the list: once per start). */
  private runningCount(taskId: string): number {
    let n = 0;
    for (const c of this.containers.values()) if (c.taskId === taskId && c.view.status === 'running') n++;
    return n;
  }

  /** peakRunning is the most containers of the task that ever ran at once (the agent's invariant: 1). */
  peakRunning(taskId: string): number {
    return this.peaks.get(taskId) ?? 0;
  }

  /** close cancels every pending start and exit timer (containers stay as they are). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- TaskRuntime ------------------------------------------------------------------------------

  async ensureImage(ref: string, pull?: ImagePull): Promise<void> {
    if (this.present.has(ref)) return;
    if (this.missing.has(ref)) throw new ImageError(ErrorCodes.ImageNotFound, `image ${ref} not found (in-memory runtime)`, { ref });
    // Only a pull that takes time is told: a hollow node's instant "pull" is nothing to wait for.
    const ms = this.pullDelays.get(ref) ?? this.o.pullDelayMs ?? 0;
    if (ms > 0) pull?.onPull?.();
    await this.delay(ms);
    this.present.add(ref);
  }

  async run(req: RunRequest): Promise<{ pid: number }> {
    if (this.containers.has(req.id)) throw new RuntimeError(ErrorCodes.ContainerNameInUse, `container ${req.id} already exists`, { id: req.id });
    const taskId = req.annotations[ANNOTATION_TASK] ?? req.id;
    // The task's behaviour as of now: behave replaces the object, never changes it.
    const behaviour = this.behaviours.get(taskId) ?? NO_BEHAVIOUR;
    this.runs.set(taskId, this.starts(taskId) + 1);
    let settle!: (info: ExitInfo) => void;
    const exit = new Promise<ExitInfo>((r) => (settle = r));
    const c: MemoryContainer = { view: { id: req.id, status: 'created', annotations: { ...req.annotations }, createdAt: Date.now() }, taskId, behaviour, exit, settle, timers: [] };
    this.containers.set(req.id, c);
    await this.delay(behaviour.startDelayMs ?? this.o.startDelayMs ?? 0);
    if (this.containers.get(req.id) !== c) throw new RuntimeError(ErrorCodes.ContainerNotFound, `container ${req.id} was removed while starting`, { id: req.id });
    if (c.view.status === 'stopped') throw new RuntimeError(ErrorCodes.ContainerStartFailed, `container ${req.id} was killed while starting`, { id: req.id });
    if (behaviour.failStart) throw new RuntimeError(ErrorCodes.ContainerStartFailed, behaviour.failStart, { id: req.id });
    const pid = this.nextPid++;
    await req.onCreated?.(pid);
    if (this.containers.get(req.id) !== c) throw new RuntimeError(ErrorCodes.ContainerNotFound, `container ${req.id} was removed while starting`, { id: req.id });
    c.view = { id: c.view.id, status: 'running', pid, annotations: c.view.annotations, createdAt: c.view.createdAt };
    this.peaks.set(taskId, Math.max(this.peakRunning(taskId), this.runningCount(taskId)));
    if (behaviour.exitAfterMs !== undefined) {
      this.after(c, behaviour.exitAfterMs, () => this.end(c, { exitCode: behaviour.exitCode ?? 0, oomKilled: behaviour.oomKilled ?? false }));
    }
    return { pid };
  }

  /** list hands out the views themselves, not copies: a view is replaced, never changed, when its container changes. */
  async list(): Promise<ContainerView[]> {
    return Array.from(this.containers.values(), (c) => c.view);
  }

  wait(id: string): Promise<ExitInfo> {
    return this.containers.get(id)?.exit ?? Promise.resolve({ exitCode: 255, oomKilled: false, signal: 'lost' });
  }

  /**
   * kill ends a running container, and also one still starting (created): its process exists and
   * takes the signal, and its `run` then fails. Ignoring a created one left a stop of it waiting the
   * whole grace period for an exit that came only from SIGKILL: a stray container caught while
   * starting stayed 30 s (the quiet-node test's stall under load, when its 30-ms start ran late).
   */
  async kill(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const c = this.containers.get(id);
    if (!c || c.view.status === 'stopped') return;
    if (signal === 'SIGKILL') this.end(c, { exitCode: 137, oomKilled: false, signal });
    else if (!c.behaviour.ignoreSigterm) this.end(c, { exitCode: 143, oomKilled: false, signal });
  }

  async remove(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    if (c.view.status === 'running' || c.view.status === 'created') this.end(c, { exitCode: 137, oomKilled: false, signal: 'SIGKILL' });
    this.containers.delete(id);
  }

  async exec(id: string, _argv: string[], _timeoutMs: number): Promise<number> {
    const c = this.containers.get(id);
    if (!c || c.view.status !== 'running') return 126;
    return this.execCodes.get(c.taskId) ?? 0;
  }

  logDir(_id: string): string | undefined {
    return undefined;
  }

  cgroupPath(_id: string): string {
    return '';
  }

  async images(): Promise<string[]> {
    return [...this.present].sort();
  }

  async probe(id: string, kind: ProbeKind, _probe: ResolvedProbe): Promise<ProbeOutcome> {
    const c = this.containers.get(id);
    if (!c || c.view.status !== 'running') return { ok: false, message: 'container is not running' };
    const ok = this.answers.get(c.taskId)?.[kind] ?? true;
    return ok ? { ok } : { ok, message: `${kind} probe answered failure (in-memory runtime)` };
  }

  // ---- internals --------------------------------------------------------------------------------

  private end(c: MemoryContainer, info: ExitInfo): void {
    if (c.view.status === 'stopped') return;
    for (const t of c.timers) this.clear(t);
    c.view = { id: c.view.id, status: 'stopped', annotations: c.view.annotations, createdAt: c.view.createdAt };
    c.settle(info);
  }

  private after(c: MemoryContainer, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    c.timers.push(t);
  }

  private clear(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  private delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

/** MemoryNetworkOptions: where addresses come from. */
export interface MemoryNetworkOptions {
  /** IPv4 CIDR the addresses come from (default 127.128.0.0/16: loopback, so nothing leaves the machine) */
  subnet?: string;
}

/**
 * MemoryNetwork is TaskNetwork in memory: one address per task from the subnet (the first two are
 * the network and the gateway, as with CNI's host-local), the same one again until teardown.
 */
export class MemoryNetwork implements TaskNetwork {
  private readonly base: number;
  private readonly size: number;
  private readonly byTask = new Map<string, number>();
  private readonly used = new Set<number>();

  constructor(o: MemoryNetworkOptions = {}) {
    const subnet = o.subnet ?? '127.128.0.0/16';
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(subnet);
    const octets = m ? m.slice(1, 5).map(Number) : [];
    const prefix = m ? Number(m[5]) : -1;
    if (!m || octets.some((n) => n > 255) || prefix < 8 || prefix > 30) {
      throw new UsageError(ErrorCodes.Usage, `subnet "${subnet}" is not an IPv4 CIDR with a prefix from /8 to /30`, { subnet });
    }
    const mask = (0xffffffff << (32 - prefix)) >>> 0;
    this.base = (((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0) & mask;
    this.size = 2 ** (32 - prefix);
  }

  async setup(taskId: string, opts: { netnsPath?: string } = {}): Promise<{ ip: string; netnsPath: string }> {
    let n = this.byTask.get(taskId);
    if (n === undefined) {
      n = 2;
      while (this.used.has(n) && n < this.size - 1) n++;
      if (n >= this.size - 1) throw new AgentError(ErrorCodes.IpExhausted, `no free address for task ${taskId}`, { taskId });
      this.used.add(n);
      this.byTask.set(taskId, n);
    }
    return { ip: this.ipOf(n), netnsPath: opts.netnsPath ?? `memory://netns/${taskId}` };
  }

  async get(taskId: string): Promise<{ ip: string } | undefined> {
    const n = this.byTask.get(taskId);
    return n === undefined ? undefined : { ip: this.ipOf(n) };
  }

  async teardown(taskId: string): Promise<void> {
    const n = this.byTask.get(taskId);
    if (n === undefined) return;
    this.used.delete(n);
    this.byTask.delete(taskId);
  }

  /** allocations lists each task's address (a test's leak check: empty once every task is gone). */
  allocations(): Map<string, string> {
    return new Map([...this.byTask].map(([task, n]) => [task, this.ipOf(n)]));
  }

  private ipOf(n: number): string {
    const v = (this.base + n) >>> 0;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
}
