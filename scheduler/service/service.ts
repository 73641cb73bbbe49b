/**
 * The scheduler service: the pure core with the store at its edges.
 *
 *   runForLeadership("scheduler") ──leading(term)──► watch tasks, bindings, nodes, nodespec ──► informers
 *        │                                                                                     │ change or tick
 *        │             pass: ViewClock (liveness as of) ► checkFence(term) ► cache.sync ► startPass ◄───┘
 *        │                   (ClusterCache: the state kept from the informers' changes, a new one per term;
 *        │                   planPass's result, decided in slices: the thread goes back to renewals and watches every sliceMs)
 *        │                                     ├─ delete bindings of lapsed nodes / gone tasks (CAS) + events
 *        │                                     ├─ delete victims' bindings (CAS) + Preempted events
 *        │                                     ├─ create bindings {node, schedulerTerm: term} (create = only if absent)
 *        │                                     └─ FailedScheduling events, rate-limited
 *        └─ demoted: the signal aborts, watches close, no further writes
 *
 * A lost race (E_EXISTS on create, E_CONFLICT on delete) is never retried blindly: the pass marks
 * the state dirty and the next pass re-checks against the informers, which the watches keep current.
 */
import { defaultLivenessPolicy, FALLBACK_LIVENESS, statusKey, type LivenessPolicy, type RefusedNodeRecord, type Binding, type ClusterEvent, type TaskSpec } from '../../api/index.ts';
import { performance } from 'node:perf_hooks';
import { createLogger, errorMessage, isGitcellError, type Logger } from '../../lib/index.ts';
import {
  recordEvent, checkFence, defaultIdentity, Informer, LEASE_BATCH_MS, NodeInformer, runForLeadership, StoreErrorCodes,
  ViewClock, valueView, type ClusterStore, type InformerSource, type InformerView, type Election, type LeaderContext,
} from '../../store/index.ts';
import { defaultSchedulerOptions } from '../options.ts';
import type { SchedulerOptions } from '../types.ts';
import { EventLimiter, type EventLimiterOptions } from './event-limiter.ts';
import type { PassPlan, PassTimings } from './plan.ts';
import { ClusterCache, type CacheSources } from './cluster-cache.ts';
import type { Scheduling } from '../schedule.ts';
import { writePass } from './write.ts';
import { LivenessPublisher, restoreLeaseBucket } from './liveness.ts';

/** SchedulerServiceOptions configure the service; every field has a default. */
export interface SchedulerServiceOptions {
  /** unique name of this replica (default host-pid-random) */
  identity: string;
  /** lease name in the leases bucket */
  leaseName: string;
  /** lease period of leader election */
  leaseMs: number;
  /** false runs without election (term 0): only for a single scheduler or tests of the CAS path */
  leaderElection: boolean;
  /** graces fixed by the operator (flags, tests); unset ones follow the published grace (liveness.ts) */
  timings: Partial<PassTimings>;
  /** how the leader sizes the lease renewal period it publishes (api defaultLivenessPolicy) */
  liveness: LivenessPolicy;
  /** passes also run this often without changes, to notice heartbeats lapsing */
  tickMs: number;
  /** changes arriving within this window are handled in one pass */
  batchMs: number;
  /**
   * how long a pass waits for the node copy to reach the bucket's newest revision; one that does not
   * judges liveness as of the last instant the copy is known complete (ViewClock)
   */
  viewCatchUpMs: number;
  /**
   * a pass's decision hands the thread back (to lease renewals, watches, acknowledgements) after
   * deciding this long: 100,000 tasks on 10,000 nodes decide for seconds
   */
  sliceMs: number;
  /** writes in flight at once (bindings, unbindings, events): a window, each write still its own CAS */
  writeConcurrency: number;
  events: EventLimiterOptions;
  core: Partial<SchedulerOptions>;
  log: Logger;
  /**
   * beforeWrite runs between deciding a pass and writing it. For tests that need a deterministic
   * interleaving (two schedulers that both decided before either writes); unset in production.
   */
  beforeWrite?: (plan: PassPlan) => Promise<void>;
}

/** defaultServiceOptions returns every default merged with `o`. */
export function defaultServiceOptions(o: Partial<SchedulerServiceOptions> = {}): SchedulerServiceOptions {
  return {
    identity: o.identity ?? defaultIdentity(),
    leaseName: o.leaseName ?? 'scheduler',
    leaseMs: o.leaseMs ?? 15_000,
    leaderElection: o.leaderElection ?? true,
    timings: { ...o.timings },
    liveness: defaultLivenessPolicy(o.liveness),
    tickMs: o.tickMs ?? 1_000,
    batchMs: o.batchMs ?? 20,
    viewCatchUpMs: o.viewCatchUpMs ?? 1_000,
    sliceMs: o.sliceMs ?? 20,
    writeConcurrency: o.writeConcurrency ?? 256,
    events: { intervalMs: 60_000, minMs: 5_000, perPass: 100, ...o.events },
    core: defaultSchedulerOptions(o.core),
    log: o.log ?? createLogger('scheduler'),
    ...(o.beforeWrite ? { beforeWrite: o.beforeWrite } : {}),
  };
}

/** PassReport summarises one pass, for logs and tests. */
export interface PassReport {
  term: number;
  seed: string;
  bound: number;
  lostRaces: number;
  unbound: number;
  preempted: number;
  unplaced: number;
  events: number;
  /** false when the pass stopped early (leadership in doubt, a write failed) */
  complete: boolean;
  /** how far behind the wall clock liveness was judged (the node copy's lag, ViewClock) */
  viewLagMs: number;
  /** wall ms reading the informers and deciding (planPass), and writing the plan */
  decideMs: number;
  writeMs: number;
}

/** SchedulerService binds pending tasks to nodes while it leads, by the flow drawn above. Start with `start()`, end with `stop()`. */
export class SchedulerService {
  readonly options: SchedulerServiceOptions;
  private readonly log: Logger;
  private election: Election | undefined;
  private readonly stopper = new AbortController();
  private passes = 0;
  /** forged node records already reported (key and claimed name), so each is reported once */
  private readonly refusedNodes = new Set<string>();
  /** Every pass's report (the last 100), newest last. */
  readonly reports: PassReport[] = [];
  /** Totals over every pass since start. */
  readonly totals = { passes: 0, bound: 0, lostRaces: 0, unbound: 0, preempted: 0, events: 0 };
  private onPass: ((r: PassReport) => void) | undefined;
  /** the graces passes judge liveness by: the published ones while leading, unless fixed */
  private timings: PassTimings = { heartbeatGraceMs: FALLBACK_LIVENESS.graceMs, requeueGraceMs: FALLBACK_LIVENESS.graceMs };

  constructor(private readonly store: ClusterStore, options: Partial<SchedulerServiceOptions> = {}) {
    this.options = defaultServiceOptions(options);
    this.log = this.options.log;
  }

  /** start runs for leadership (or leads at once without election) and schedules while leading. */
  start(onPass?: (r: PassReport) => void): void {
    this.onPass = onPass;
    if (!this.options.leaderElection) {
      const signal = this.stopper.signal;
      void this.lead({ term: 0, signal, valid: () => !signal.aborted }).catch((err) => this.log.error({ err: errorMessage(err) }, 'scheduler stopped'));
      return;
    }
    this.election = runForLeadership({
      leases: this.store.leases,
      name: this.options.leaseName,
      identity: this.options.identity,
      leaseMs: this.options.leaseMs,
      signal: this.stopper.signal,
      log: this.log,
      onLeading: (ctx) => this.lead(ctx),
      onDemoted: ({ term, reason }) => this.log.warn({ term, reason }, 'scheduler: no longer leader'),
    });
  }

  /** leaderTerm is the current term while this replica leads, else undefined. */
  leaderTerm(): number | undefined {
    return this.options.leaderElection ? this.election?.leaderTerm() : this.stopper.signal.aborted ? undefined : 0;
  }

  /** stop ends scheduling (and the candidacy, releasing the lease) and waits for it. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.election?.stop();
    await this.leading;
  }

  private leading: Promise<void> | undefined;

  private lead(ctx: LeaderContext): Promise<void> {
    const work = this.leadLoop(ctx);
    this.leading = work.catch(() => undefined);
    return work;
  }

  private async leadLoop(ctx: LeaderContext): Promise<void> {
    const { store, log } = this;
    log.info({ term: ctx.term, identity: this.options.identity }, 'scheduler: leading');
    let dirty = true;
    let wake: (() => void) | undefined;
    const kick = (): void => {
      dirty = true;
      wake?.();
    };
    // The informers end with this loop, also when it ends by a throw (fenced) before demotion.
    const stop = new AbortController();
    const signal = AbortSignal.any([ctx.signal, stop.signal]);
    // The cluster state kept from the informers' changes, built afresh each term (cluster-cache.ts).
    const cache = new ClusterCache();
    const inform = <T>(bucket: InformerSource<T>, changed: (key: string | undefined) => void): Informer<T> =>
      new Informer<T>(bucket, { signal, log, onChange: (c) => (changed(c?.key), kick()) });
    const tasks = inform(store.tasks, (key) => cache.keyChanged(key));
    const bindings = inform(store.bindings, (key) => cache.keyChanged(key));
    // Records joined with their leases (batched); a renewal alone is no NodeInformer change: lapses are noticed on ticks.
    const nodes = new NodeInformer(store, { signal, log, onChange: (c) => (cache.nodeChanged(c?.key), kick()), leaseBatchMs: LEASE_BATCH_MS });
    // A renewal (or a record's own heartbeat) moves a heartbeat time: both informers tell every change
    // they fold in (each renewal of a batch is its own change), and a resnapshot as undefined.
    nodes.records.listen((c) => cache.beatChanged(c?.key));
    nodes.leases.listen((c) => cache.beatChanged(c?.key));
    const specs = inform(store.nodespec, (key) => cache.nodeChanged(key));
    // Live views, not copies: the cache reads them synchronously (sync, startPass), one instant's.
    const src: CacheSources = { tasks: valueView(tasks), bindings: bindings.entries, nodes: valueView(nodes), nodeSpecs: valueView(specs) };
    // Liveness is judged as of the instant the node copy (records and leases) is known complete,
    // never against the wall clock on a copy that fell behind (view-clock.ts). Not waited for: the batched
    // lease copy (as of the last batch, up to LEASE_BATCH_MS and a pass old: nothing against the grace).
    const nodeClocks = [{ clock: new ViewClock(nodes.records, store.nodes), waitMs: this.options.viewCatchUpMs }, { clock: new ViewClock(nodes.leases, store.heartbeats), waitMs: 0 }];
    const liveness = new LivenessPublisher(store.cluster, { signal, log, policy: this.options.liveness, fixed: this.options.timings });
    const limiter = new EventLimiter(this.options.events);
    try {
      while (!ctx.signal.aborted) {
        await sleepUntil(dirty ? this.options.batchMs : this.options.tickMs, ctx.signal, (w) => (wake = w));
        wake = undefined;
        if (ctx.signal.aborted) break;
        // Not certainly ours right now (a late renewal on a busy machine): wait, never return while
        // leading; the signal aborts if the lease is really lost.
        if (!ctx.valid()) {
          dirty = true;
          continue;
        }
        if (!(tasks.hasSynced && bindings.hasSynced && nodes.hasSynced && specs.hasSynced)) continue;
        try {
          const now = Date.now();
          await liveness.publish(nodes.records.entries.size, now);
          this.timings = liveness.timings();
          const liveAt = await this.viewAsOf(nodeClocks, now);
          if (liveAt === undefined) {
            dirty = true; // the node copy is not known complete as of any instant yet
            continue;
          }
          for (const r of cache.sync(src)) this.reportRefusedNode(r);
          const crossed = cache.livenessCrossed(src, liveAt, this.timings);
          if (!dirty && !crossed) continue;
          dirty = false;
          const report = await this.pass(ctx, { tasks, bindings, cache, src }, limiter, now, liveAt);
          if (report.lostRaces > 0 || report.unbound > 0 || report.preempted > 0 || !report.complete) dirty = true;
        } catch (err) {
          if (isGitcellError(err, StoreErrorCodes.Fenced)) {
            log.warn({ term: ctx.term, err: errorMessage(err) }, 'scheduler: fenced by a newer leader; stopping');
            throw err;
          }
          if (ctx.signal.aborted) break;
          log.warn({ err: errorMessage(err) }, 'scheduler: pass failed; retrying');
          await restoreLeaseBucket(store.heartbeats, err, log);
          dirty = true;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      stop.abort();
      await Promise.all([tasks.done, bindings.done, nodes.done, specs.done, liveness.informer.done]);
    }
  }

  private async pass(
    ctx: LeaderContext,
    m: { tasks: InformerView<TaskSpec>; bindings: Informer<Binding>; cache: ClusterCache; src: CacheSources },
    limiter: EventLimiter,
    now: number,
    liveAt: number,
  ): Promise<PassReport> {
    const { store, log, options } = this;
    if (options.leaderElection) await checkFence(store.leases, `${options.leaseName}-bindings`, ctx.term, options.identity);
    const seed = `${options.identity}/${ctx.term}/${++this.passes}`;
    const t0 = performance.now();
    const src = m.src;
    // Synced again after the fence check's round trip: tasks that came meanwhile (re-created after a
    // store rebuild, with their runningOn hints) get their claims checked in this pass, not placed anew.
    for (const r of m.cache.sync(src)) this.reportRefusedNode(r);
    const claims = await this.claims(m.tasks, m.cache.pendingIds(), now);
    for (const r of m.cache.sync(src)) this.reportRefusedNode(r);
    const decision = m.cache.startPass(src, liveAt, this.timings, { ...options.core, seed }, claims);
    await decideInSlices(decision.scheduling, options.sliceMs);
    const plan = decision.plan();
    const report: PassReport = { term: ctx.term, seed, bound: 0, lostRaces: 0, unbound: 0, preempted: 0, unplaced: plan.result.unplaced.length, events: 0, complete: false, viewLagMs: now - liveAt, decideMs: 0, writeMs: 0 };
    const t1 = performance.now();
    report.decideMs = Math.round(t1 - t0);
    try {
      await options.beforeWrite?.(plan);
      // Own writes reach the informer without an event: the cache is told of each.
      const bindings = { entry: (k: string) => m.bindings.entry(k), apply: (k: string, v: Binding | undefined, r: number) => (m.cache.keyChanged(k), m.bindings.apply(k, v, r)) };
      report.complete = await writePass({ store: this.store, ctx, log: this.log, identity: this.options.identity, writeConcurrency: this.options.writeConcurrency, tasks: src.tasks, bindings, limiter, now, report }, plan);
    } finally {
      report.writeMs = Math.round(performance.now() - t1);
      // Reported also when a write failed half-way: what was written is counted.
      if (report.bound || report.unbound || report.preempted || report.lostRaces || report.unplaced || !report.complete) {
        const firstWait = plan.result.unplaced[0];
        log.info({ ...report, ...(firstWait ? { firstWait: `${firstWait.taskId}: ${firstWait.message}` } : {}) }, 'scheduler: pass');
      }
      this.reports.push(report);
      this.totals.passes++;
      this.totals.bound += report.bound;
      this.totals.lostRaces += report.lostRaces;
      this.totals.unbound += report.unbound;
      this.totals.preempted += report.preempted;
      this.totals.events += report.events;
      if (this.reports.length > 100) this.reports.shift();
      this.onPass?.(report);
    }
    return report;
  }

  private lagWarnedAt = 0;

  /**
   * viewAsOf is the instant as of which the node copy is known complete (undefined: none yet),
   * after waiting up to viewCatchUpMs for it to catch up; a copy lagging past the heartbeat grace is
   * logged (every 30 s at most): its decisions are late, never wrong about a node's liveness.
   */
  private async viewAsOf(clocks: { clock: ViewClock; waitMs: number }[], now: number): Promise<number | undefined> {
    const times = await Promise.all(clocks.map((c) => c.clock.sync(c.waitMs)));
    const asOf = times.includes(undefined) ? undefined : Math.min(...(times as number[]));
    const lag = asOf === undefined ? undefined : now - asOf;
    if ((lag === undefined || lag > this.timings.heartbeatGraceMs) && now - this.lagWarnedAt > 30_000) {
      this.lagWarnedAt = now;
      this.log.warn({ lagMs: lag }, 'scheduler: the node copy is behind the store; judging liveness as of the last instant it is known complete');
    }
    return asOf;
  }

  /** reportRefusedNode logs and records an event, once per forged record, for a node record whose body disagrees with its key. */
  private reportRefusedNode(r: RefusedNodeRecord): void {
    const id = `${r.key}/${JSON.stringify(r.claimed)}`;
    if (this.refusedNodes.has(id)) return;
    this.refusedNodes.add(id);
    this.log.warn({ node: r.key, claimed: r.claimed }, `scheduler: ${r.reason}`);
    const ev: ClusterEvent = { time: new Date().toISOString(), type: 'Warning', reason: 'NodeRecordRefused', object: { kind: 'Node', name: r.key }, message: r.reason, source: `scheduler/${this.options.identity}` };
    void recordEvent(this.store.events, ev, { log: this.log });
  }

  /** tasks whose runningOn hint was checked and not confirmed, and when (re-checked after a while) */
  private readonly unconfirmed = new Map<string, number>();

  /**
   * claims confirms the runningOn hints of pending tasks (set by the reconciler after a store
   * rebuild) against the named node's status: only a task that agent reports as unclaimed is bound
   * back there. A hint alone is not enough: a task preempted later keeps its hint but is not held.
   */
  private async claims(tasks: InformerView<TaskSpec>, pending: ReadonlySet<string>, now: number): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const checks: Promise<void>[] = [];
    for (const taskId of pending) {
      const e = tasks.entry(taskId);
      const node = e?.value.runningOn;
      if (!e || !node) continue;
      const checked = this.unconfirmed.get(taskId);
      if (checked !== undefined && now - checked < 10_000) continue;
      checks.push(
        this.store.status.get(statusKey(node, taskId)).then(
          (s) => {
            if (s?.value.unclaimed && s.value.templateHash === e.value.templateHash) out.set(taskId, node);
            else this.unconfirmed.set(taskId, now);
          },
          (err) => this.log.warn({ taskId, node, err: errorMessage(err) }, 'scheduler: cannot read the status behind a runningOn hint'),
        ),
      );
    }
    await Promise.all(checks);
    for (const id of this.unconfirmed.keys()) if (!tasks.get(id)) this.unconfirmed.delete(id);
    return out;
  }
}

/** SLICE_TASKS tasks are placed between looks at the clock. */
const SLICE_TASKS = 128;

/** decideInSlices runs the pure decision to its end, yielding to the event loop every `sliceMs` of it. */
async function decideInSlices(s: Scheduling, sliceMs: number): Promise<void> {
  let since = performance.now();
  while (s.step(SLICE_TASKS)) {
    if (performance.now() - since < sliceMs) continue;
    await new Promise((resolve) => setImmediate(resolve));
    since = performance.now();
  }
}

/** sleepUntil waits `ms`, or less when woken (through the function handed to `setWake`) or aborted. */
function sleepUntil(ms: number, signal: AbortSignal, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    setWake(done);
  });
}
