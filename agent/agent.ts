/**
 * Agent: the node agent. It registers its node and heartbeats, watches the bindings of its node and
 * the task specs, and converges: starts what is missing, stops what was removed, replaces what
 * changed; it probes, restarts with backoff, reports status, serves logs, and survives its own
 * restarts by journaling every step and adopting running containers.
 *
 * This class only wires the parts together and owns their timers; each part is a module of its own
 * working on the shared AgentContext (context.ts):
 *
 *   watches.ts (bindings, tasks, nodespec) ─┐
 *   lifecycle.ts exits, prober.ts kills     ─┼─► convergence.ts pass: converge() ─► lifecycle.ts start / stop / adopt / forget
 *   resync timer, backoff timers            ─┘        each step: journal ─► runtime / CNI ─► journal ─► report.ts status
 *   heartbeat.ts node record · rebuild.ts store-rebuild hold · resume.ts after its own restart · usage.ts
 */
import type { Subscription } from '@nats-io/transport-node';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Limiter, errorMessage } from '../lib/index.ts';
import { FALLBACK_LIVENESS } from '../api/index.ts';
import { defaultBackoffOptions } from './backoff.ts';
import { Journal, type LocalTask } from './journal.ts';
import { AgentMetrics, startHttp } from './metrics.ts';
import { registerTaskSeries } from './task-metrics.ts';
import { stateCounts } from './report.ts';
import { serveLogs, type LogSource } from './logs.ts';
import { LogArchive } from './log-archive.ts';
import { SecretVolumes } from './secret-volumes.ts';
import { newAgentState, resolveAgentOptions, type AgentContext, type AgentDeps, type AgentOptions, type NodeSecrets } from './context.ts';
import { TaskLocks } from './task-locks.ts';
import { Convergence } from './convergence.ts';
import { followStore, type StoreFollow } from './watches.ts';
import { heartbeat, healthProblem, RenewalTimer, type PeriodSource } from './heartbeat.ts';
import { LivenessInformer } from '../store/index.ts';
import { holdAfterRebuild } from './rebuild.ts';
import { resumeAfterRestart } from './resume.ts';
import { probeTick } from './prober.ts';
import { sampleUsage } from './usage.ts';
import { retryStartsOnSecretArrival } from './secret-arrivals.ts';

export { AGENT_VERSION } from './heartbeat.ts';
export { usesSecrets } from './transitions.ts';
export type { AgentOptions, AgentDeps, NodeSecrets } from './context.ts';

/** Agent is one node's agent: it wires watches, heartbeat, convergence, probes and recovery together and owns their timers. */
export class Agent {
  readonly metrics: AgentMetrics;
  readonly journal: Journal;
  /** succeeded tasks the control plane deleted: what ran to completion, re-reported after a store rebuild */
  readonly completed: Journal;
  httpUrl?: string;
  private readonly ctx: AgentContext;
  private readonly convergence: Convergence;
  private readonly timers: NodeJS.Timeout[] = [];
  /** the probe tick, running only while a task of the node has a probe (armProbes) */
  private probeTimer: NodeJS.Timeout | undefined;
  private probesArmed = false;
  private renewal: RenewalTimer | undefined;
  /** the agent's own copy of the published liveness (when its process shares none) */
  private ownLiveness: { stop: AbortController; informer: LivenessInformer } | undefined;
  private follow?: StoreFollow;
  private logSub?: Subscription;
  private server?: Server;
  private readonly secretWatch = new AbortController();

  constructor(options: AgentOptions, private readonly d: AgentDeps) {
    const o = resolveAgentOptions(options);
    this.metrics = new AgentMetrics(options.node, options.processMetrics ?? true);
    this.journal = new Journal(join(options.stateDir, 'tasks'), { durable: false });
    this.completed = new Journal(join(options.stateDir, 'completed'));
    const log = d.log.child({ node: options.node });
    const state = newAgentState();
    registerTaskSeries(this.metrics.registry, state);
    this.metrics.taskCounts = () => stateCounts(state.records.values());
    const locks = new TaskLocks({
      stopped: () => state.stopped,
      onError: (taskId, err) => log.error({ task: taskId, err: errorMessage(err) }, 'agent: task operation failed'),
      onRelease: (taskId) => this.convergence.released(taskId),
    });
    this.ctx = {
      o, d, backoff: defaultBackoffOptions(options.backoff), metrics: this.metrics, journal: this.journal, completed: this.completed, log, state, locks,
      logArchive: new LogArchive(join(options.stateDir, 'logs'), options.node, options.logRetention, (msg) => log.warn(msg)),
      starts: new Limiter(Math.max(1, o.startConcurrency)),
      kick: (taskId) => this.convergence.kick(taskId),
      probing: () => this.armProbes(),
    };
    this.convergence = new Convergence(this.ctx);
    if (d.secrets) this.ctx.volumes = this.secretVolumes(d.secrets);
  }

  private secretVolumes(s: NodeSecrets): SecretVolumes {
    // Not <stateDir>/secrets: that is where the key ring keeps the node's key pair.
    return new SecretVolumes({ root: join(this.ctx.o.stateDir, 'secret-volumes'), node: this.ctx.o.node, keyring: s.keyring, source: s.bucket });
  }

  /** start recovers from the journal, registers the node and begins converging. */
  async start(): Promise<void> {
    const { ctx } = this;
    const { o, state } = ctx;
    state.records = await this.journal.load((file, err) => ctx.log.warn({ file, err: errorMessage(err) }, 'agent: skipping unreadable journal entry'));
    await holdAfterRebuild(ctx);
    await resumeAfterRestart(ctx);
    await heartbeat(ctx);
    this.follow = followStore(ctx);
    await this.follow.synced;
    if (state.stopped) return; // stopped while waiting for the store
    state.synced = true;
    const secrets = this.d.secrets?.bucket;
    if (secrets?.watch) retryStartsOnSecretArrival(ctx, { watch: secrets.watch.bind(secrets) }, this.secretWatch.signal);
    this.logSub = serveLogs(this.d.nc, o.node, { source: (taskId, previous) => this.logSource(taskId, previous), archived: (prefix) => ctx.logArchive.tasksOf(prefix) });
    if (o.http) {
      const problem = () => healthProblem({ natsClosed: this.d.nc.isClosed(), lastPassAt: state.lastPassAt, now: Date.now(), resyncMs: o.resyncMs });
      const h = await startHttp(this.metrics, problem, o.http.host, o.http.port);
      this.server = h.server;
      this.httpUrl = h.url;
      // Published in the node record at once, for Prometheus discovery (reconciler/monitor/sd.ts).
      state.metricsUrl = h.url;
      void heartbeat(ctx);
    }
    this.renewal = new RenewalTimer(() => void heartbeat(ctx), this.periodSource());
    this.renewal.start();
    this.timers.push(setInterval(() => this.convergence.resync(), o.resyncMs));
    this.probesArmed = true;
    this.armProbes();
    this.timers.push(setInterval(() => void sampleUsage(ctx), o.usageMs));
    ctx.kick();
    ctx.log.info({ http: this.httpUrl }, 'agent: started');
  }

  /** stop ends watches, timers and endpoints; running tasks keep running (a restart adopts them). */
  async stop(): Promise<void> {
    this.ctx.state.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearInterval(this.probeTimer);
    this.renewal?.stop();
    this.ownLiveness?.stop.abort();
    await this.ownLiveness?.informer.done;
    this.secretWatch.abort();
    await this.follow?.close();
    this.logSub?.unsubscribe();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await this.ctx.locks.settle();
    // No step runs any more: give back both journals' kept descriptors (the completed one too, not
    // left to the idle sweep: an agent restarted in the same process opens its own).
    this.journal.close();
    this.completed.close();
    this.d.runtime.close?.();
  }

  /**
   * armProbes starts the probe tick once the agent runs and a task has a probe; the tick stops itself
   * when none has one any more. A hollow process ticked its 4,750 nodes every second with no probe
   * in the whole cluster: 4,750 timer callbacks a second that walked nothing.
   */
  private armProbes(): void {
    const { state, o } = this.ctx;
    if (!this.probesArmed || this.probeTimer || state.stopped || state.probed.size === 0) return;
    this.probeTimer = setInterval(() => {
      probeTick(this.ctx);
      if (state.probed.size > 0) return;
      clearInterval(this.probeTimer);
      this.probeTimer = undefined;
    }, o.probeTickMs);
  }

  /**
   * periodSource is what the lease renewals follow: a fixed heartbeatMs (tests), the process's shared
   * liveness (hollow nodes), or the agent's own copy of the published one.
   */
  private periodSource(): PeriodSource {
    const { o, d, log } = this.ctx;
    if (o.heartbeatMs) return { fixedMs: o.heartbeatMs };
    if (d.liveness) return d.liveness;
    if (!d.store.cluster) return { fixedMs: FALLBACK_LIVENESS.periodMs };
    const stop = new AbortController();
    this.ownLiveness = { stop, informer: new LivenessInformer(d.store.cluster, { signal: stop.signal, log }) };
    return this.ownLiveness.informer;
  }

  /** renewalPeriodMs is the lease renewal period the agent follows now (undefined before start) */
  renewalPeriodMs(): number | undefined {
    return this.renewal?.periodMs;
  }

  /** tasks returns the journal entries (for tests and the CLI). */
  tasks(): LocalTask[] {
    return [...this.ctx.state.records.values()];
  }

  /**
   * logSource is where a task's log is: its container while this agent keeps one, else the newest
   * archived attempt (a finished task); with `previous` the archived attempt before the current one.
   */
  private logSource(taskId: string, previous = false): LogSource | undefined {
    const { state, logArchive } = this.ctx;
    const rec = state.records.get(taskId);
    const id = rec?.containerId;
    const dir = id ? this.d.runtime.logDir(id) : undefined;
    if (previous) {
      const newest = dir ? undefined : logArchive.find(taskId);
      const e = logArchive.find(taskId, dir ? rec!.attempt : newest?.attempt);
      return e ? { dir: e.dir, live: () => false } : undefined;
    }
    if (!id || !dir) {
      const e = logArchive.find(taskId);
      return e ? { dir: e.dir, live: () => false } : undefined;
    }
    return { dir, live: () => { const t = state.records.get(taskId); return t?.containerId === id && (t.phase === 'running' || t.phase === 'stopping' || t.phase === 'starting'); } };
  }
}
