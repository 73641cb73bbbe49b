/**
 * Agent: the node agent. It registers its node and heartbeats, watches the bindings of its node and
 * the task specs, and converges: starts what is missing, stops what was removed, replaces what
 * changed; it probes, restarts with backoff, reports status, serves logs, and survives its own
 * restarts by journaling every step and adopting running containers.
 *
 *   watches (bindings, tasks, nodespec) ─┐
 *   exits, probe kills, backoff timers  ─┼─► pass(): converge() ─► start / stop / adopt / forget
 *   resync timer                        ─┘        each action: journal ─► runtime / CNI ─► journal ─► status
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { GitcellError, errorMessage, type Logger } from '../lib/index.ts';
import { statusKey, type Binding, type NodeRecord, type NodeSpec, type Resources, type TaskSpec } from '../api/index.ts';
import { appendEvent, type ClusterStore, type Watch } from '../store/index.ts';
import type { NetworkManager } from '../runtime/index.ts';
import { converge, type Action, type ObservedContainer, type StopReason } from './converge.ts';
import { decideExit, defaultBackoffOptions, type BackoffOptions } from './backoff.ts';
import { dueProbes, isReady, newHealth, recordProbe, type Health, type ProbeKind } from './probe.ts';
import { runProbe } from './probe-exec.ts';
import { Journal, type LocalTask } from './journal.ts';
import { DEFAULT_RECOVERY_HOLD_MS, heldAfterRebuild, keepCompleted, releaseHeld } from './recovery.ts';
import { buildStatus, stateOf } from './status.ts';
import { AgentMetrics, startHttp } from './metrics.ts';
import { cpuMillisBetween, readCgroup, type CgroupSample } from './cgroup.ts';
import { serveLogs } from './logs.ts';
import { SecretVolumes, numericOwner, type SecretSource } from './secret-volumes.ts';
import { ANNOTATION_HASH, ANNOTATION_TASK, containerName, type ContainerView, type ExitInfo, type TaskRuntime } from './port.ts';

/** AGENT_VERSION is reported in the node record. */
export const AGENT_VERSION = '0.1.0';

/** AgentOptions configure one agent; only node and stateDir are required. */
export interface AgentOptions {
  node: string;
  stateDir: string;
  labels?: Record<string, string>;
  capacity: Resources;
  subnet?: string;
  addresses?: string[];
  versions?: { runc: string; kernel: string };
  heartbeatMs?: number;
  resyncMs?: number;
  probeTickMs?: number;
  usageMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** host:port of /healthz and /metrics; undefined: no HTTP endpoint */
  http?: { host: string; port: number };
  maxPods?: number;
  /**
   * storeIncarnation names the store this agent talks to (store/incarnation.ts). When it differs from
   * the one recorded in the state dir, NATS lost its data: running tasks are held (recovery.ts).
   */
  storeIncarnation?: string;
  /** how long a held task nobody claims keeps running after a store rebuild (default 5 min) */
  recoveryHoldMs?: number;
}

/** NodeSecrets is what opens this node's Secrets: its key ring and its own secrets bucket. */
export interface NodeSecrets {
  keyring: import('../secrets/index.ts').Keyring;
  bucket: SecretSource;
}

/** usesSecrets tells whether a task mounts a Secret or reads one into its environment. */
export function usesSecrets(spec: TaskSpec): boolean {
  return spec.template.secretMounts.length > 0 || (spec.template.secretEnv?.length ?? 0) > 0;
}

/** AgentDeps are the agent's edges: store, runtime, network, logger. */
export interface AgentDeps {
  nc: NatsConnection;
  store: Pick<ClusterStore, 'tasks' | 'bindings' | 'status' | 'nodes' | 'nodespec' | 'events'>;
  runtime: TaskRuntime;
  network: NetworkManager;
  log: Logger;
  /** the node's key ring and secrets bucket; without them tasks using Secrets fail to start */
  secrets?: NodeSecrets;
}

interface Live {
  containerId: string;
  exited: Promise<ExitInfo>;
  health?: Health;
  probing: Set<ProbeKind>;
  killing?: boolean;
  sample?: { at: number; s: CgroupSample };
  usage?: Resources;
}

export class Agent {
  readonly metrics: AgentMetrics;
  readonly journal: Journal;
  /** succeeded tasks the control plane deleted: what ran to completion, re-reported after a store rebuild */
  readonly completed: Journal;
  httpUrl?: string;
  private readonly o: Required<Omit<AgentOptions, 'http' | 'subnet' | 'labels' | 'addresses' | 'versions' | 'backoff' | 'storeIncarnation'>> & AgentOptions;
  private readonly backoff: BackoffOptions;
  private readonly specs = new Map<string, TaskSpec>();
  private readonly bindings = new Map<string, Binding>();
  /** tasks bound to another node: a held task bound there is not ours any more */
  private readonly boundElsewhere = new Set<string>();
  /** tasks kept running after a store rebuild until a binding claims them (recovery.ts) */
  private readonly held = new Set<string>();
  /**
   * where a binding of a held task pointed, remembered: a batch task adopted, bound and deleted again
   * (its Job already Complete) between two passes was still decided by that binding
   */
  private readonly decided = new Map<string, 'here' | 'elsewhere'>();
  private holdUntil = 0;
  private nodeSpec: NodeSpec | undefined;
  private records = new Map<string, LocalTask>();
  private readonly live = new Map<string, Live>();
  private readonly busy = new Set<string>();
  /** tasks whose last status write failed */
  private readonly unsent = new Set<string>();
  private readonly watches: Watch<unknown>[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private logSub?: Subscription;
  private server?: Server;
  private passRunning = false;
  private passAgain = false;
  private stopped = false;
  /** set once every watch delivered its snapshot: before that, "nothing desired" is not true */
  private synced = false;
  private lastPassAt = 0;
  private startedAt = new Date().toISOString();
  private readonly log: Logger;
  private readonly ops = new Set<Promise<unknown>>();

  private volumes?: SecretVolumes;

  constructor(options: AgentOptions, private d: AgentDeps) {
    this.o = { heartbeatMs: 3000, resyncMs: 2000, probeTickMs: 250, usageMs: 10_000, maxPods: 110, recoveryHoldMs: DEFAULT_RECOVERY_HOLD_MS, ...options };
    this.backoff = defaultBackoffOptions(options.backoff);
    this.metrics = new AgentMetrics(options.node);
    this.journal = new Journal(join(options.stateDir, 'tasks'));
    this.completed = new Journal(join(options.stateDir, 'completed'));
    this.log = d.log.child({ node: options.node });
    if (d.secrets) this.volumes = this.secretVolumes(d.secrets);
  }

  private secretVolumes(s: NodeSecrets): SecretVolumes {
    // Not <stateDir>/secrets: that is where the key ring keeps the node's key pair.
    return new SecretVolumes({ root: join(this.o.stateDir, 'secret-volumes'), node: this.o.node, keyring: s.keyring, source: s.bucket });
  }

  /** start recovers from the journal, registers the node and begins converging. */
  async start(): Promise<void> {
    this.records = await this.journal.load((file, err) => this.log.warn({ file, err: errorMessage(err) }, 'agent: skipping unreadable journal entry'));
    await this.holdAfterRebuild();
    await this.recover();
    await this.heartbeat();
    const synced = await Promise.all([
      this.follow(this.d.store.tasks.watch(), (k, v) => (v ? this.specs.set(k, v) : this.specs.delete(k))),
      this.follow(this.d.store.bindings.watch(), (k, v) => {
        if (v && v.node === this.o.node) this.bindings.set(k, v);
        else this.bindings.delete(k);
        if (v && v.node !== this.o.node) this.boundElsewhere.add(k);
        else this.boundElsewhere.delete(k);
        if (v && this.held.has(k)) this.decided.set(k, v.node === this.o.node ? 'here' : 'elsewhere');
      }),
      this.follow(this.d.store.nodespec.watch({ key: this.o.node }), (_k, v) => { this.nodeSpec = v; }),
    ]);
    void synced;
    this.synced = true;
    this.logSub = serveLogs(this.d.nc, this.o.node, (taskId) => {
      const id = this.records.get(taskId)?.containerId;
      const dir = id ? this.d.runtime.logDir(id) : undefined;
      if (!id || !dir) return undefined;
      return { dir, live: () => { const t = this.records.get(taskId); return t?.containerId === id && (t.phase === 'running' || t.phase === 'stopping' || t.phase === 'starting'); } };
    });
    if (this.o.http) {
      const h = await startHttp(this.metrics, () => this.healthProblem(), this.o.http.host, this.o.http.port);
      this.server = h.server;
      this.httpUrl = h.url;
    }
    this.timers.push(setInterval(() => void this.heartbeat(), this.o.heartbeatMs));
    this.timers.push(setInterval(() => this.kick(), this.o.resyncMs));
    this.timers.push(setInterval(() => this.probeTick(), this.o.probeTickMs));
    this.timers.push(setInterval(() => void this.sampleUsage(), this.o.usageMs));
    this.kick();
    this.log.info({ http: this.httpUrl }, 'agent: started');
  }

  /** stop ends watches, timers and endpoints; running tasks keep running (a restart adopts them). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.watches.map((w) => w.close()));
    this.logSub?.unsubscribe();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await Promise.allSettled([...this.ops]);
  }

  /**
   * setSecrets hands the agent its node key ring and secrets bucket once ready: the CLI generates the
   * key pair in the background (RSA-4096 takes seconds) rather than delaying the node's registration.
   */
  setSecrets(s: NodeSecrets): void {
    this.d.secrets = s;
    this.volumes = this.secretVolumes(s);
    void this.heartbeat();
    this.kick();
  }

  /** tasks returns the journal entries (for tests and the CLI). */
  tasks(): LocalTask[] {
    return [...this.records.values()];
  }

  // ---- store edges ------------------------------------------------------------------------------

  /** follow applies a watch's events to local state and resolves once its snapshot is in. */
  private follow<T>(w: Watch<T>, apply: (key: string, value: T | undefined) => void): Promise<void> {
    this.watches.push(w as Watch<unknown>);
    return new Promise((resolve, reject) => {
      let isSynced = false;
      (async () => {
        for await (const ev of w) {
          if (ev.type === 'synced') {
            isSynced = true;
            resolve();
          } else {
            apply(ev.key, ev.type === 'put' ? ev.value : undefined);
          }
          if (isSynced) this.kick();
        }
      })().catch((err) => {
        this.log.error({ err: errorMessage(err) }, 'agent: watch ended');
        reject(err);
      });
    });
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    const images = await this.d.runtime.images().catch(() => []);
    const cap = { ...this.o.capacity, pods: this.o.maxPods };
    const rec: NodeRecord = {
      name: this.o.node,
      labels: { 'gitcell.io/hostname': this.o.node, ...this.o.labels },
      taints: [],
      capacity: cap,
      allocatable: cap,
      addresses: this.o.addresses ?? [],
      ...(this.o.subnet ? { subnet: this.o.subnet } : {}),
      runtime: { runc: this.o.versions?.runc ?? 'unknown', kernel: this.o.versions?.kernel ?? 'unknown', agentVersion: AGENT_VERSION },
      images,
      ...(this.d.secrets ? { sealingKey: this.d.secrets.keyring.publicKeyPem() } : {}),
      ...(this.o.storeIncarnation ? { storeIncarnation: this.o.storeIncarnation } : {}),
      startedAt: this.startedAt,
      heartbeatAt: new Date().toISOString(),
    };
    try {
      await this.d.store.nodes.put(this.o.node, rec);
      this.metrics.heartbeats.inc({ result: 'ok' });
    } catch (err) {
      this.metrics.heartbeats.inc({ result: 'error' });
      this.log.warn({ err: errorMessage(err) }, 'agent: heartbeat failed');
    }
  }

  private async writeStatus(t: LocalTask): Promise<void> {
    const l = this.live.get(t.taskId);
    const ready = !!l?.health && isReady(l.health);
    const usage = l?.usage;
    const unclaimed = this.held.has(t.taskId) ? { unclaimed: true } : {};
    try {
      await this.d.store.status.put(statusKey(this.o.node, t.taskId), { ...buildStatus(this.o.node, t, { ready, ...(usage ? { usage } : {}) }, Date.now()), ...unclaimed });
      this.unsent.delete(t.taskId);
    } catch (err) {
      // Retried by the next pass: the status must not stay wrong because NATS was busy once.
      this.unsent.add(t.taskId);
      this.log.warn({ task: t.taskId, err: errorMessage(err) }, 'agent: status write failed, will retry');
    }
    this.updateGauges();
  }

  private updateGauges(): void {
    const counts = new Map<string, number>();
    for (const t of this.records.values()) counts.set(stateOf(t), (counts.get(stateOf(t)) ?? 0) + 1);
    this.metrics.tasks.reset();
    for (const [state, n] of counts) this.metrics.tasks.set({ state }, n);
  }

  private async save(t: LocalTask, status = true): Promise<void> {
    this.records.set(t.taskId, t);
    await this.journal.save(t);
    if (status) await this.writeStatus(t);
  }

  /** event records a cluster event about a task; losing one is not worth failing an operation. */
  private event(type: 'Normal' | 'Warning', reason: string, taskId: string, message: string): void {
    void appendEvent(this.d.store.events, {
      time: new Date().toISOString(), type, reason, object: { kind: 'Task', name: taskId }, message, source: `agent/${this.o.node}`,
    }).catch((err) => this.log.debug({ err: errorMessage(err) }, 'agent: event not recorded'));
  }

  private healthProblem(): string | undefined {
    if (this.d.nc.isClosed()) return 'NATS connection closed';
    if (Date.now() - this.lastPassAt > Math.max(30_000, this.o.resyncMs * 5)) return 'convergence loop stalled';
    return undefined;
  }

  // ---- recovery ---------------------------------------------------------------------------------

  private get incarnationFile(): string {
    return join(this.o.stateDir, 'store-incarnation');
  }

  /**
   * holdAfterRebuild compares the store's incarnation with the one this node last served. A change
   * means NATS lost its data: every running task is held until a binding decides its fate. The new
   * incarnation is recorded only once nothing is held, so an agent restarted mid-recovery holds again.
   */
  private async holdAfterRebuild(): Promise<void> {
    const current = this.o.storeIncarnation;
    if (!current) return;
    const known = (await readFile(this.incarnationFile, 'utf8').catch(() => '')).trim();
    if (known === current) return;
    const completed = await this.completed.load((file, err) => this.log.warn({ file, err: errorMessage(err) }, 'agent: skipping unreadable completed-task entry'));
    const recent = keepCompleted(completed.values(), Date.now());
    for (const t of completed.values()) if (!recent.has(t.taskId)) await this.completed.remove(t.taskId);
    if (known) {
      // A batch task that ran to completion must not run again because the store forgot it did.
      for (const t of recent.values()) {
        if (this.records.has(t.taskId)) continue;
        this.records.set(t.taskId, t);
        await this.journal.save(t);
        await this.completed.remove(t.taskId);
      }
      for (const id of heldAfterRebuild(this.records.values())) this.held.add(id);
      this.holdUntil = Date.now() + this.o.recoveryHoldMs;
      this.log.warn({ was: known, now: current, held: this.held.size, holdSeconds: this.o.recoveryHoldMs / 1000 }, 'agent: the store was rebuilt; keeping this node\'s tasks running until bindings claim them');
    }
    if (this.held.size === 0) await this.recordIncarnation();
  }

  private async recordIncarnation(): Promise<void> {
    if (!this.o.storeIncarnation) return;
    const tmp = `${this.incarnationFile}.tmp`;
    await writeFile(tmp, `${this.o.storeIncarnation}\n`);
    await rename(tmp, this.incarnationFile);
  }

  /** releaseHeldTasks lets go of held tasks a binding now decides (or whose hold ended). */
  private async releaseHeldTasks(): Promise<void> {
    if (this.held.size === 0) return;
    const released = releaseHeld(this.held, {
      now: Date.now(),
      until: this.holdUntil,
      boundHere: (id) => this.bindings.has(id) || this.decided.get(id) === 'here',
      boundElsewhere: (id) => this.boundElsewhere.has(id) || this.decided.get(id) === 'elsewhere',
      known: (id) => this.records.has(id),
    });
    for (const r of released) {
      this.held.delete(r.taskId);
      this.decided.delete(r.taskId);
      this.log.info({ task: r.taskId, why: r.why }, 'agent: held task released');
      const t = this.records.get(r.taskId);
      if (t && r.why === 'bound here') await this.writeStatus(t);
    }
    if (released.length && this.held.size === 0) {
      await this.recordIncarnation();
      this.log.info('agent: recovery after the store rebuild complete');
    }
  }

  /**
   * recover finishes what a previous run of this agent left half-done: running containers are
   * adopted (same process, no restart counted), half-started ones redone, half-stopped ones stopped.
   */
  private async recover(): Promise<void> {
    const containers = new Map((await this.d.runtime.list()).map((c) => [c.id, c]));
    for (const t of this.records.values()) {
      const c = t.containerId ? containers.get(t.containerId) : undefined;
      const alive = !!c && c.status !== 'stopped';
      if (t.phase === 'starting') {
        if (c?.status === 'running') {
          this.log.info({ task: t.taskId }, 'agent: adopting a container whose start was not recorded');
          await this.markRunning(t, c.pid ?? 0, t.ip);
        } else {
          if (c) await this.d.runtime.remove(c.id);
          // Redo the start on the next pass; a start that never ran is not a restart.
          await this.save({ ...t, phase: 'backoff', restartAt: 0, containerId: undefined, message: 'resuming an interrupted start' });
        }
      } else if (t.phase === 'running') {
        if (alive) this.attach(t, c!.id, true);
        else {
          const info: ExitInfo = c ? await this.d.runtime.wait(c.id) : { exitCode: 255, oomKilled: false, signal: 'lost' };
          this.runExclusive(t.taskId, () => this.onExit(t.taskId, t.containerId ?? '', info));
        }
      } else if (t.phase === 'stopping') {
        if (alive) this.attach(t, c!.id, false);
        this.runExclusive(t.taskId, () => this.runStop(t.taskId, t.stopReason ?? 'unbound'));
      }
    }
    // Re-assert what this agent knows, so readers see a fresh status from the new incarnation.
    for (const t of this.records.values()) if (t.phase === 'running' || t.phase === 'backoff' || t.phase === 'finished') await this.writeStatus(t);
  }

  // ---- convergence ------------------------------------------------------------------------------

  /** kick asks for a convergence pass; passes never overlap, requests during one coalesce. */
  private kick(): void {
    if (this.stopped || !this.synced) return;
    if (this.passRunning) {
      this.passAgain = true;
      return;
    }
    this.passRunning = true;
    void (async () => {
      do {
        this.passAgain = false;
        const end = this.metrics.passes.startTimer();
        try {
          await this.pass();
        } catch (err) {
          this.log.error({ err: errorMessage(err) }, 'agent: convergence pass failed');
        }
        end();
        this.lastPassAt = Date.now();
      } while (this.passAgain && !this.stopped);
      this.passRunning = false;
    })();
  }

  private desired(): Map<string, TaskSpec> {
    const out = new Map<string, TaskSpec>();
    for (const taskId of this.bindings.keys()) {
      const spec = this.specs.get(taskId);
      if (spec) out.set(taskId, spec);
    }
    // Held after a store rebuild: still wanted, as journaled, until a binding decides.
    for (const taskId of this.held) {
      const t = this.records.get(taskId);
      if (t && !out.has(taskId)) out.set(taskId, t.spec);
    }
    return out;
  }

  private async pass(): Promise<void> {
    await this.releaseHeldTasks();
    for (const taskId of [...this.unsent]) {
      const t = this.records.get(taskId);
      if (t && !this.busy.has(taskId)) await this.writeStatus(t);
      else if (!t) this.unsent.delete(taskId);
    }
    const containers = await this.d.runtime.list();
    const observed: ObservedContainer[] = containers.filter((c) => c.annotations[ANNOTATION_TASK]).map((c: ContainerView) => ({
      id: c.id,
      taskId: c.annotations[ANNOTATION_TASK]!,
      templateHash: c.annotations[ANNOTATION_HASH] ?? '',
      running: c.status !== 'stopped',
      createdAt: c.createdAt,
    }));
    const desired = this.desired();
    const actions = converge({
      desired: [...desired.values()].map((s) => ({ taskId: s.id, templateHash: s.templateHash })),
      containers: observed,
      records: [...this.records.values()],
      draining: this.nodeSpec?.draining === true,
      busy: this.busy,
    });
    const byTask = new Map<string, Action[]>();
    for (const a of actions) byTask.set(a.taskId, [...(byTask.get(a.taskId) ?? []), a]);
    for (const [taskId, list] of byTask) this.runExclusive(taskId, () => this.execute(list, desired.get(taskId), containers));
    // Restarts due after a backoff (the lifecycle part that converge leaves to us).
    const now = Date.now();
    for (const t of this.records.values()) {
      const spec = desired.get(t.taskId);
      if (t.phase === 'backoff' && (t.restartAt ?? 0) <= now && spec && spec.templateHash === t.templateHash && !this.busy.has(t.taskId) && this.nodeSpec?.draining !== true) {
        this.runExclusive(t.taskId, () => this.runStart(spec, t));
      }
    }
  }

  private runExclusive(taskId: string, fn: () => Promise<void>): void {
    if (this.busy.has(taskId) || this.stopped) return;
    this.busy.add(taskId);
    this.track(fn().catch((err) => this.log.error({ task: taskId, err: errorMessage(err) }, 'agent: task operation failed')).finally(() => {
      this.busy.delete(taskId);
      this.kick();
    }));
  }

  private track(p: Promise<unknown>): void {
    this.ops.add(p);
    void p.finally(() => this.ops.delete(p));
  }

  private async execute(actions: Action[], spec: TaskSpec | undefined, containers: ContainerView[]): Promise<void> {
    for (const a of actions) {
      switch (a.type) {
        case 'start':
          if (spec) await this.runStart(spec, this.records.get(a.taskId));
          break;
        case 'stop':
          await this.runStop(a.taskId, a.reason, a.containerId);
          break;
        case 'removeContainer':
          await this.d.runtime.remove(a.containerId);
          break;
        case 'adopt': {
          const c = containers.find((x) => x.id === a.containerId);
          if (spec && c) await this.adopt(spec, c);
          break;
        }
        case 'forget':
          await this.forget(a.taskId, a.containerIds);
          break;
      }
    }
  }

  // ---- task operations --------------------------------------------------------------------------

  private async runStart(spec: TaskSpec, previous: LocalTask | undefined): Promise<void> {
    const sameTemplate = previous && previous.templateHash === spec.templateHash;
    const attempt = (previous?.attempt ?? 0) + 1;
    const containerId = containerName(spec.id, attempt);
    if (previous?.containerId) await this.d.runtime.remove(previous.containerId);
    const t: LocalTask = {
      taskId: spec.id,
      templateHash: spec.templateHash,
      spec,
      phase: 'starting',
      attempt,
      containerId,
      restarts: sameTemplate ? previous!.restarts : 0,
      ...(sameTemplate && previous?.backoffMs !== undefined ? { backoffMs: previous.backoffMs } : {}),
      ...(previous?.ip ? { ip: previous.ip } : {}),
    };
    await this.save(t);
    try {
      const net = await this.d.network.setup(spec.id);
      t.ip = net.ip;
      await this.d.runtime.ensureImage(spec.template.image);
      let secrets: { mounts: { source: string; destination: string }[]; env: { name: string; value: string }[] } = { mounts: [], env: [] };
      if (usesSecrets(spec)) {
        if (!this.volumes) throw new GitcellError('E_SECRETS_UNAVAILABLE', `task ${spec.id} uses Secrets but this node's key pair is not ready yet`, { taskId: spec.id });
        // A fresh copy per start: a restart or a new template never sees stale files.
        await this.volumes.release(spec.id);
        const p = await this.volumes.prepare(spec, numericOwner(spec.template.user));
        secrets = { mounts: p.mounts.map((m) => ({ source: m.source, destination: m.destination })), env: p.env };
      }
      const tpl = spec.template;
      const { pid } = await this.d.runtime.run({
        id: containerId,
        image: tpl.image,
        ...(tpl.command ? { command: tpl.command } : {}),
        ...(tpl.args ? { args: tpl.args } : {}),
        env: tpl.env,
        ...(secrets.env.length ? { secretEnv: secrets.env } : {}),
        ...(secrets.mounts.length ? { mounts: secrets.mounts } : {}),
        ...(tpl.workingDir ? { workingDir: tpl.workingDir } : {}),
        ...(tpl.user ? { user: tpl.user } : {}),
        hostname: spec.id.slice(0, 63),
        ...(tpl.resources.limits.memoryBytes ? { memoryBytes: tpl.resources.limits.memoryBytes } : {}),
        ...(tpl.resources.limits.cpuMillis ? { cpuMillis: tpl.resources.limits.cpuMillis } : {}),
        netnsPath: net.netnsPath,
        annotations: { [ANNOTATION_TASK]: spec.id, [ANNOTATION_HASH]: spec.templateHash },
      });
      this.metrics.starts.inc({ result: 'ok' });
      this.event('Normal', 'Started', spec.id, `started container ${containerId} (pid ${pid}, ip ${net.ip})`);
      await this.markRunning(t, pid, net.ip);
    } catch (err) {
      this.metrics.starts.inc({ result: 'error' });
      await this.d.runtime.remove(containerId).catch(() => {});
      const delay = Math.min((t.backoffMs ?? this.backoff.initialMs / 2) * 2, this.backoff.maxMs);
      this.log.warn({ task: spec.id, err: errorMessage(err) }, 'agent: start failed');
      this.event('Warning', 'FailedStart', spec.id, errorMessage(err));
      await this.save({ ...t, phase: 'backoff', containerId: undefined, backoffMs: delay, restartAt: Date.now() + delay, message: `start failed: ${errorMessage(err)}` });
    }
  }

  private async markRunning(t: LocalTask, pid: number, ip: string | undefined): Promise<void> {
    const now = new Date().toISOString();
    const next: LocalTask = { ...t, phase: 'running', pid, ...(ip ? { ip } : {}), startedAt: now, ready: false, message: undefined, exitCode: undefined, oomKilled: undefined, finishedAt: undefined, restartAt: undefined, state: undefined };
    this.attach(next, next.containerId!, true);
    await this.save(next);
  }

  /** attach follows a container's exit and (for a running task) its probes. */
  private attach(t: LocalTask, containerId: string, probe: boolean): void {
    const exited = this.d.runtime.wait(containerId);
    const started = t.startedAt ? Date.parse(t.startedAt) : Date.now();
    let health = probe ? newHealth(t.spec.template.probes, started) : undefined;
    if (health && t.ready) {
      // Adopted after an agent restart: keep the verdict the previous incarnation reached.
      health = { ...health, started: true, ...(health.readiness ? { readiness: { ...health.readiness, result: 'success' as const } } : {}) };
    }
    const l: Live = { containerId, exited, probing: new Set(), ...(health ? { health } : {}) };
    this.live.set(t.taskId, l);
    exited.then(
      (info) => {
        if (this.live.get(t.taskId) !== l) return;
        const cur = this.records.get(t.taskId);
        if (cur?.phase === 'running' && cur.containerId === containerId) this.runExclusiveExit(t.taskId, containerId, info);
      },
      (err) => this.log.error({ task: t.taskId, err: errorMessage(err) }, 'agent: waiting for a container failed'),
    );
  }

  private runExclusiveExit(taskId: string, containerId: string, info: ExitInfo): void {
    if (this.stopped) return;
    // An exit can arrive while another operation holds the task (e.g. a probe kill): retry shortly.
    if (this.busy.has(taskId)) {
      setTimeout(() => this.runExclusiveExit(taskId, containerId, info), 50);
      return;
    }
    this.runExclusive(taskId, () => this.onExit(taskId, containerId, info));
  }

  private async adopt(spec: TaskSpec, c: ContainerView): Promise<void> {
    const net = await this.d.network.get(spec.id);
    const t: LocalTask = {
      taskId: spec.id, templateHash: spec.templateHash, spec, phase: 'running', attempt: Number(c.id.split('_').pop()) || 1,
      containerId: c.id, ...(c.pid !== undefined ? { pid: c.pid } : {}), ...(net ? { ip: net.ip } : {}), restarts: 0,
      startedAt: new Date(c.createdAt).toISOString(),
    };
    this.attach(t, c.id, true);
    await this.save(t);
  }

  /** onExit applies the restart policy to a container that exited on its own (or by a probe kill). */
  private async onExit(taskId: string, containerId: string, info: ExitInfo): Promise<void> {
    const t = this.records.get(taskId);
    if (!t || t.containerId !== containerId || (t.phase !== 'running' && t.phase !== 'stopping')) return;
    this.live.delete(taskId);
    const killedBy = t.stopReason === 'liveness' || t.stopReason === 'startup' ? t.stopReason : undefined;
    const exitCode = killedBy && info.exitCode === 0 ? 137 : info.exitCode;
    const ranFor = t.startedAt ? Date.now() - Date.parse(t.startedAt) : 0;
    const outcome = decideExit(t.spec.template.restartPolicy, exitCode, this.backoff, t.backoffMs, ranFor);
    const base = {
      ...t, exitCode, oomKilled: info.oomKilled, finishedAt: new Date().toISOString(), pid: undefined, stopReason: undefined, stopDeadline: undefined,
    };
    const why = killedBy ? `${killedBy} probe failed` : info.oomKilled ? 'OOM killed' : `exited with ${exitCode}`;
    if (outcome.action === 'restart') {
      this.metrics.restarts.inc();
      this.event('Warning', 'BackOff', taskId, `${why}; restarting in ${outcome.delayMs} ms`);
      await this.save({ ...base, phase: 'backoff', restarts: t.restarts + 1, backoffMs: outcome.delayMs, restartAt: Date.now() + outcome.delayMs, message: `${why}; restarting in ${Math.round(outcome.delayMs / 100) / 10} s` });
      setTimeout(() => this.kick(), outcome.delayMs + 5).unref();
    } else {
      await this.save({ ...base, phase: 'finished', state: outcome.state, message: why });
      this.event(outcome.state === 'succeeded' ? 'Normal' : 'Warning', outcome.state === 'succeeded' ? 'Completed' : 'Failed', taskId, why);
      // A finished task keeps its container (and log) until it is unbound; the address goes back now.
      await this.d.network.teardown(taskId);
    }
  }

  /**
   * runStop stops a task's container gracefully: SIGTERM, the task's grace period, then SIGKILL.
   * The deadline is journaled, so a restarted agent keeps the original deadline.
   */
  private async runStop(taskId: string, reason: StopReason | 'liveness' | 'startup', containerId?: string): Promise<void> {
    let t = this.records.get(taskId);
    const cid = containerId ?? t?.containerId;
    if (!cid) return;
    if (!t || t.containerId !== cid) {
      // A container without a record (duplicate or stray): stop it without touching the task.
      await this.stopContainer(cid, 30_000, reason);
      return;
    }
    const graceMs = t.spec.template.terminationGracePeriodSeconds * 1000;
    if (t.phase !== 'stopping') {
      t = { ...t, phase: 'stopping', stopReason: reason, stopDeadline: Date.now() + graceMs, message: stopMessage(reason) };
      await this.save(t);
    }
    const info = await this.stopContainer(cid, Math.max(0, (t.stopDeadline ?? Date.now()) - Date.now()), reason);
    if (reason === 'liveness' || reason === 'startup') {
      await this.onExit(taskId, cid, info);
      return;
    }
    this.live.delete(taskId);
    this.event('Normal', 'Stopped', taskId, `${stopMessage(reason)} (exit ${info.exitCode})`);
    await this.save({ ...t, phase: 'stopped', exitCode: info.exitCode, oomKilled: info.oomKilled, finishedAt: new Date().toISOString(), pid: undefined, stopDeadline: undefined });
  }

  private async stopContainer(id: string, graceMs: number, reason: string): Promise<ExitInfo> {
    const exited = this.live.get([...this.live.entries()].find(([, l]) => l.containerId === id)?.[0] ?? '')?.exited ?? this.d.runtime.wait(id);
    await this.d.runtime.kill(id, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), graceMs); });
    const first = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') {
      this.metrics.stops.inc({ reason, forced: 'false' });
      return first;
    }
    await this.d.runtime.kill(id, 'SIGKILL');
    this.metrics.stops.inc({ reason, forced: 'true' });
    return exited;
  }

  /** forget removes every trace of a task: containers, network, journal entry, status record. */
  private async forget(taskId: string, containerIds: string[]): Promise<void> {
    for (const id of containerIds) await this.d.runtime.remove(id);
    const t = this.records.get(taskId);
    if (t?.containerId) await this.d.runtime.remove(t.containerId);
    await this.d.network.teardown(taskId);
    await this.volumes?.release(taskId);
    this.live.delete(taskId);
    this.metrics.cpu.remove({ task: taskId });
    this.metrics.memory.remove({ task: taskId });
    if (this.bindings.has(taskId) && t) {
      // Still bound (a drain): keep a final status so the scheduler sees why it stopped.
      await this.writeStatus({ ...t, phase: 'stopped', message: t.message ?? 'stopped' });
    } else {
      await this.d.store.status.delete(statusKey(this.o.node, taskId)).catch(() => {});
    }
    this.records.delete(taskId);
    if (t && t.phase === 'finished' && stateOf(t) === 'succeeded') await this.completed.save(t);
    await this.journal.remove(taskId);
    this.updateGauges();
  }

  // ---- probes and usage -------------------------------------------------------------------------

  private probeTick(): void {
    const now = Date.now();
    for (const [taskId, l] of this.live) {
      const t = this.records.get(taskId);
      if (!l.health || l.killing || t?.phase !== 'running') continue;
      for (const kind of dueProbes(l.health, now)) {
        if (l.probing.has(kind)) continue;
        l.probing.add(kind);
        const probe = l.health[kind]!.probe;
        this.track(runProbe(probe, {
          ...(t.ip ? { ip: t.ip } : {}),
          exec: (argv, timeoutMs) => this.d.runtime.exec(l.containerId, argv, timeoutMs),
        }).then(async (res) => {
          l.probing.delete(kind);
          if (this.stopped || this.live.get(taskId) !== l || !l.health) return;
          this.metrics.probes.inc({ kind, result: res.ok ? 'success' : 'failure' });
          const wasReady = isReady(l.health);
          const v = recordProbe(l.health, kind, res.ok, Date.now());
          l.health = v.health;
          const cur = this.records.get(taskId);
          if (!cur) return;
          if (v.kill && !l.killing) {
            l.killing = true;
            this.log.info({ task: taskId, kind: v.kill.kind }, `agent: ${v.kill.message}, killing the container`);
            this.event('Warning', 'Unhealthy', taskId, `${v.kill.message}: ${res.message ?? ''}`);
            this.runExclusiveKill(taskId, v.kill.kind, `${v.kill.message}: ${res.message ?? ''}`.trim());
          } else if (isReady(l.health) !== wasReady && cur.phase === 'running' && cur.containerId === l.containerId) {
            await this.save({ ...cur, ready: isReady(l.health), message: res.ok ? undefined : `${kind} probe: ${res.message ?? 'failed'}` });
          }
        }));
      }
    }
  }

  private runExclusiveKill(taskId: string, kind: 'liveness' | 'startup', message: string): void {
    if (this.stopped) return;
    if (this.busy.has(taskId)) {
      setTimeout(() => this.runExclusiveKill(taskId, kind, message), 50);
      return;
    }
    this.runExclusive(taskId, async () => {
      const t = this.records.get(taskId);
      if (!t || t.phase !== 'running') return;
      await this.save({ ...t, message }, false);
      await this.runStop(taskId, kind);
    });
  }

  private async sampleUsage(): Promise<void> {
    const now = Date.now();
    for (const [taskId, l] of this.live) {
      const s = await readCgroup(this.d.runtime.cgroupPath(l.containerId));
      if (!s) continue;
      if (l.sample) {
        l.usage = { cpuMillis: cpuMillisBetween(l.sample.s, s, now - l.sample.at), memoryBytes: s.memoryBytes };
        this.metrics.cpu.set({ task: taskId }, l.usage.cpuMillis);
        this.metrics.memory.set({ task: taskId }, l.usage.memoryBytes);
        const t = this.records.get(taskId);
        if (t?.phase === 'running') await this.writeStatus(t);
      }
      l.sample = { at: now, s };
    }
  }
}

function stopMessage(reason: StopReason | 'liveness' | 'startup'): string {
  switch (reason) {
    case 'unbound': return 'stopping: no longer bound to this node';
    case 'draining': return 'stopping: node is draining';
    case 'replaced': return 'stopping: replaced by a new template';
    case 'duplicate': return 'stopping: duplicate instance';
    default: return `stopping: ${reason} probe failed`;
  }
}
