import { NODE_GRACE_MS, type AutoscaleRecord, type Binding, type NodeRecord, type NodeSpec, type RefusedStatus, type TaskSpec, type TaskStatus } from '../../api/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import { createLogger, errorMessage, isGitcellError, mapLimit, PassRunner, type Logger, type LoopOptions, type RunningLoop } from '../../lib/index.ts';
import { Informer, NodeInformer, StoreErrorCodes, valueView, type Bucket, type LivenessView } from '../../store/index.ts';
import type { WorkloadSpec } from '../controllers/index.ts';
import { controllerPass, type ClusterView, type PassResult } from './controllers-pass.ts';
import { OBJECT_PREFIX, sourceStatusKey } from './keys.ts';
import { emit, type ReconcilerStore, type SyncRecord } from './store.ts';
import { addFailedRollout, emptySyncStatus, type SyncStatus } from './sync.ts';
import { sharedOr, type TaskInformers } from './shared-informers.ts';
import { TrustedStatusIndex } from './trusted-statuses.ts';
import { EligibleNodeIndex } from './eligible-nodes.ts';

/** RunControllersOptions configure the controller loop. */
export interface RunControllersOptions extends LoopOptions<ReconcilerStore> {
  /** source whose SyncStatus receives failed rollouts (default "default"). */
  source?: string;
  /** leader term, for logs (writes are fenced by compare-and-set on what was read). */
  term?: number;
  /** re-run every controller this often even without changes: deadlines and cron ticks (default 1000 ms). */
  tickMs?: number;
  /** gather changes this long before a pass (default 5 ms). */
  debounceMs?: number;
  crashLoopRestarts?: number;
  /** a fixed node grace (tests); unset: the published one (`liveness`), NODE_GRACE_MS without it */
  nodeGraceMs?: number;
  /** the published lease renewal period and grace (store/liveness.ts), shared with the process's other loops */
  liveness?: LivenessView;
  /** the nodes joined with their leases, shared with the process's other loops (default: its own, until `signal`) */
  nodes?: NodeInformer;
  /** the task buckets' informers, shared with the process's other loops (default: its own, until `signal`) */
  shared?: TaskInformers;
  /** told after every pass (tests and metrics). */
  onPass?: (r: PassResult) => void;
}

/** ControllerLoop is a running controller loop. */
export type ControllerLoop = RunningLoop;

/**
 * runControllers watches desired objects, tasks, task statuses, nodes and controller statuses, and
 * runs every controller (controllerPass) whenever something changed, and at least every tickMs, so
 * rollouts advance as tasks become ready and deadlines and cron ticks are noticed. It acts only
 * once every watch has delivered its snapshot (acting on a partial view would delete tasks that
 * merely were not seen yet). Writes are compare-and-set against the revisions it saw; a lost race
 * (another writer, a deposed leader's successor) is dropped and the next pass decides again from
 * fresh data. A failed rollout becomes a Warning event `RolloutFailed` and an entry in the source's
 * SyncStatus.failedRollouts, which reconciler-git's rollback turns into a revert commit. Run it
 * under leader election (store runForLeadership): one active loop per cluster.
 */
export function runControllers(opts: RunControllersOptions): ControllerLoop {
  const loop = new ControllerRunner(opts);
  return { done: loop.done, passes: () => loop.passes };
}

/**
 * ControllerRunner is one running controller loop: its informers, its passes (scheduled by a
 * PassRunner: debounced, paced, never overlapping, backed off on failure) and the writes of each.
 */
class ControllerRunner {
  readonly done: Promise<void>;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly store: ReconcilerStore;
  private readonly signal: AbortSignal;
  private readonly specCache = new Map<string, { stamp: string; spec: WorkloadSpec }>();
  private readonly fingerprints = new Map<string, string>();
  // Set at the first pass: a rollout's stall counts only while this loop watches it.
  private watchingSince: number | undefined;
  private readonly runner: PassRunner;
  /** this pass's writes that went through, and the first whose outcome is unknown (a timeout, a lost connection) */
  private written = 0;
  private unsure: string | undefined;
  private readonly desired: Informer<DesiredRecord>;
  private readonly tasks: Informer<TaskSpec>;
  private readonly statuses: Informer<TaskStatus>;
  private readonly bindings: Informer<Binding>;
  /** statuses refused (key -> the node their task was bound to then): each is reported once */
  private readonly refusedStatuses = new Map<string, string>();
  private readonly nodes: NodeInformer;
  private readonly nodeSpecs: Informer<NodeSpec>;
  private readonly objectStatuses: Informer<SyncRecord>;
  /** the autoscaler's live counts, read only (absent from stores without the bucket) */
  private readonly autoscale: Informer<AutoscaleRecord> | undefined;
  private readonly informers: Informer<unknown>[];
  /** the trusted statuses and the tasks by owner, kept from the task informers' changes */
  private readonly trusted: TrustedStatusIndex;
  /** each DaemonSet's eligible nodes, kept from the node informers' changes */
  private readonly eligibleNodes: EligibleNodeIndex;

  constructor(private readonly opts: RunControllersOptions) {
    this.log = opts.log ?? createLogger('controllers');
    this.now = opts.now ?? Date.now;
    this.store = opts.store;
    this.signal = opts.signal;
    const { store, signal } = opts;
    // Store informers: a failed watch is restarted and catches up, so the view never freezes; a pass
    // runs only while all seven hold a complete snapshot.
    // Paced: the next pass starts no sooner than the last one took to decide after it ended, so the
    // loop decides at most half the time and the watches' deliveries keep flowing between passes
    // (at 11,000 tasks on a loaded machine, back-to-back passes left the status informer minutes
    // behind and rollouts failed their progress deadline with every task running).
    this.runner = new PassRunner({
      signal,
      debounceMs: opts.debounceMs ?? 5,
      ready: () => this.informers.every((m) => m.hasSynced),
      pass: () => this.runPass(),
      onError: (err, failures) => {
        // Some decisions were not written: decide everything again. The trusted index stays: it
        // follows the informers, which a failed write does not change.
        this.fingerprints.clear();
        this.log.warn({ err: errorMessage(err), term: opts.term, failures }, 'controllers: pass failed, retrying');
      },
    });
    const onChange = () => this.schedule();
    // The loop's own watches end with it; shared ones outlive the term (awaiting those kept every
    // ended term's runner, its trusted index of every task included, alive in their promises).
    const own: Promise<void>[] = [];
    const inform = <T>(bucket: Bucket<T>, prefix?: string): Informer<T> => {
      const i = new Informer<T>(bucket, { signal, onChange, log: this.log, ...(prefix ? { prefix } : {}) });
      own.push(i.done);
      return i;
    };
    this.desired = inform(store.desired);
    this.tasks = sharedOr(opts.shared?.tasks, () => inform(store.tasks), onChange, signal);
    this.statuses = sharedOr(opts.shared?.statuses, () => inform(store.status), onChange, signal);
    this.bindings = sharedOr(opts.shared?.bindings, () => inform(store.bindings), onChange, signal);
    // Records joined with their leases. A renewal alone starts no pass: the tick (every tickMs)
    // notices a node crossing its grace period, and 10,000 nodes renew 3,300 times a second.
    this.nodes = opts.nodes ?? new NodeInformer(store, { signal, log: this.log });
    if (!opts.nodes) own.push(this.nodes.done);
    this.nodeSpecs = inform(store.nodespec);
    this.eligibleNodes = this.followNodes(signal, onChange);
    this.objectStatuses = inform(store.sync, OBJECT_PREFIX);
    this.autoscale = store.autoscale ? inform(store.autoscale) : undefined;
    this.trusted = this.followTrust(signal);
    this.informers = [this.desired, this.tasks, this.statuses, this.bindings, this.nodes.records, this.nodes.leases, this.nodeSpecs, this.objectStatuses, ...(this.autoscale ? [this.autoscale] : [])] as Informer<unknown>[];
    let ticks = 0;
    const ticker = setInterval(() => {
      // Every 30 ticks, a full pass: no memo outlives a resync period. The trusted index is
      // rebuilt less often (every 300): it is kept from every change, the rebuild is a safety net,
      // and at 100,000 tasks each costs more than a whole pass used to.
      if (++ticks % 30 === 0) this.fingerprints.clear();
      if (ticks % 300 === 0) {
        this.trusted.invalidate();
        this.eligibleNodes.invalidate();
      }
      this.schedule(0);
    }, opts.tickMs ?? 1000);
    const runner = this.runner;
    this.done = (async () => {
      await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
      clearInterval(ticker);
      await runner.stop();
      await Promise.allSettled(own);
    })();
  }

  /**
   * followTrust starts the incremental status judgement (TrustedStatusIndex) fed by the task,
   * status and binding informers' changes; a snapshot (or a listener added after it) starts it
   * over, and so does a resync every 300 ticks: no drift outlives it.
   */
  private followTrust(signal: AbortSignal): TrustedStatusIndex {
    const bindings = this.bindings;
    const index = new TrustedStatusIndex({ tasks: valueView(this.tasks), statuses: valueView(this.statuses), boundNode: (id) => bindings.entries.get(id)?.value.node });
    const follow = <T>(informer: Informer<T>, changed: (key: string) => void) => {
      const unlisten = informer.listen((c) => (c ? changed(c.key) : index.invalidate()));
      signal.addEventListener('abort', unlisten, { once: true });
    };
    follow(this.tasks, (id) => index.taskChanged(id));
    follow(this.statuses, (key) => index.statusChanged(key));
    follow(this.bindings, (id) => index.bindingChanged(id));
    return index;
  }

  /**
   * followNodes starts the DaemonSets' node judgement (EligibleNodeIndex) fed by the node and
   * NodeSpec informers' changes (a snapshot starts it over), and schedules a pass on each.
   */
  private followNodes(signal: AbortSignal, onChange: () => void): EligibleNodeIndex {
    const nodeSpecs = this.nodeSpecs;
    const index = new EligibleNodeIndex({ nodes: valueView(this.nodes), specOf: (name) => nodeSpecs.entries.get(name)?.value });
    const changed = (c: { key: string } | undefined) => (c ? index.nodeChanged(c.key) : index.invalidate());
    const unlisten = [this.nodes.listen((c) => (changed(c), onChange())), nodeSpecs.listen(changed)];
    signal.addEventListener('abort', () => unlisten.forEach((u) => u()), { once: true });
    return index;
  }

  private schedule(delay?: number): void {
    this.runner.request(delay);
  }

  get passes(): number {
    return this.runner.passes;
  }

  /** runPass decides from the informers (controllerPass, pure) and writes the result; it throws if a write failed. */
  private async runPass(): Promise<void> {
    const opts = this.opts;
    const started = Date.now();
    const t = this.now();
    const nodeGraceMs = opts.nodeGraceMs ?? opts.liveness?.current().graceMs ?? NODE_GRACE_MS;
    const view = this.snapshot(t, nodeGraceMs);
    this.watchingSince ??= t;
    const result = controllerPass(view, {
      now: t,
      watchingSince: this.watchingSince,
      ...(opts.crashLoopRestarts !== undefined ? { crashLoopRestarts: opts.crashLoopRestarts } : {}),
      nodeGraceMs,
    }, this.specCache, this.fingerprints);
    const deciding = Date.now() - started;
    this.written = 0;
    this.unsure = undefined;
    try {
      await this.applyPass(result);
    } finally {
      this.runner.holdFor(deciding); // counted from the pass's end (see the constructor)
    }
    this.logPass(result, deciding, Date.now() - started - deciding);
    // Some writes timed out and none went through: the store is in trouble, back off.
    if (this.unsure !== undefined && this.written === 0) throw new Error(this.unsure);
    if (this.unsure !== undefined) this.log.warn({ err: this.unsure, term: opts.term }, 'controllers: some writes timed out; the next pass decides again');
    opts.onPass?.(result);
  }

  /** logPass logs a pass that wrote something: what it decided and how long deciding and writing took. */
  private logPass(r: PassResult, decideMs: number, writeMs: number): void {
    const writes = r.createTasks.length + r.deleteTasks.length + r.putStatuses.length + r.createDesired.length + r.deleteDesired.length + r.deleteStatuses.length;
    if (writes === 0) return;
    this.log.info({
      term: this.opts.term, pass: this.runner.passes, tasks: this.tasks.entries.size, created: r.createTasks.length, deleted: r.deleteTasks.length,
      statuses: r.putStatuses.length, events: r.events.length, written: this.written, decideMs, writeMs,
    }, 'controllers: pass');
  }

  private snapshot(now: number, nodeGraceMs: number): ClusterView {
    // A status counts only from the node its task is bound to (the key's node is the writer's, by
    // permissions); one from any other node is refused and reported, once.
    // Judged as they change (TrustedStatusIndex), not all again per pass.
    const trusted = this.trusted.current();
    this.eligibleNodes.begin(now, nodeGraceMs);
    this.reportRefused(trusted.refused());
    // Live views, not copies: the pass that reads them is synchronous.
    return {
      desired: new Map(this.desired.values().map((r) => [r.key, r])),
      tasks: valueView(this.tasks),
      statuses: trusted.byTask,
      tasksByOwner: trusted.tasksByOwner(),
      // A node is its key (the only one its agent may write): a record naming another node is not one.
      // Reserved labels and operator taints come from the NodeSpec, as the scheduler sees them.
      // Judged as they change (EligibleNodeIndex), not every node for every DaemonSet per pass.
      eligibleNodes: (owner, rules) => this.eligibleNodes.eligible(owner, rules),
      objectStatuses: valueView(this.objectStatuses),
      ...(this.autoscale ? { autoscale: valueView(this.autoscale) } : {}),
    };
  }

  /** reportRefused logs and records (Warning TaskStatusRefused) each refused status once per binding. */
  private reportRefused(refused: RefusedStatus[]): void {
    for (const key of this.refusedStatuses.keys()) if (!this.statuses.entries.has(key)) this.refusedStatuses.delete(key);
    for (const r of refused) {
      if (this.refusedStatuses.get(r.key) === r.boundTo) continue;
      this.refusedStatuses.set(r.key, r.boundTo);
      this.log.warn({ key: r.key, node: r.node, boundTo: r.boundTo }, `controllers: ${r.reason}`);
      void emit(this.store, { type: 'Warning', reason: 'TaskStatusRefused', object: { kind: 'Node', name: r.node }, message: r.reason }, this.log);
    }
  }

  /**
   * tolerate runs one write of a pass: a lost race, or a write whose outcome is unknown (an
   * acknowledgement that timed out on a loaded machine), makes the next pass decide again while the
   * pass's other writes go on (task ids are deterministic: a create that did happen is E_EXISTS
   * next time); anything else fails the pass. At 1,000 nodes on a loaded machine, one timed-out
   * create failing the whole pass and backing off left task creation stalled for tens of seconds.
   */
  private async tolerate(what: string, fn: () => Promise<unknown>, unsureFails = false): Promise<void> {
    if (this.signal.aborted || (this.opts.valid && !this.opts.valid())) return; // a demoted leader stops writing at once
    try {
      await fn();
      this.written++;
    } catch (err) {
      const unsure = !unsureFails && isGitcellError(err, StoreErrorCodes.Unavailable);
      if (unsure || isGitcellError(err, StoreErrorCodes.Conflict) || isGitcellError(err, StoreErrorCodes.Exists)) {
        if (unsure) this.unsure ??= `${what}: ${errorMessage(err)}`;
        this.runner.request(); // someone else wrote first, or maybe we did: decide again (after this pass) from what the watches show
        this.fingerprints.clear();
        return;
      }
      throw new Error(`${what}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** deleteAll deletes by CAS on the revision the informer holds; each own delete goes into the informer at once so a late watch event cannot bring the key back. */
  private deleteAll<T>(keys: readonly string[], limit: number, what: string, bucket: Bucket<T>, informer: Informer<T>, applied?: (key: string) => void): Promise<unknown> {
    return mapLimit(keys, limit, (key) =>
      this.tolerate(`${what} ${key}`, async () => {
        const cur = informer.entry(key);
        if (cur && informer.apply(key, undefined, await bucket.delete(key, { revision: cur.revision }))) applied?.(key);
      }),
    );
  }

  private async applyPass(r: PassResult): Promise<void> {
    const { store, log } = this;
    // Status first: a finished batch Job's final status must be stored before its tasks go.
    await mapLimit(r.putStatuses, 128, ({ key, value }) =>
      this.tolerate(`status ${key}`, async () => {
        const cur = this.objectStatuses.entries.get(key);
        const revision = cur ? await store.sync.update(key, value, cur.revision) : await store.sync.create(key, value);
        // Our own write, known before its echo arrives: the next pass must not decide on the old value.
        this.objectStatuses.apply(key, value, revision);
      }),
    );
    // Own writes tell no listener (the writer knows): the trusted index is told here.
    await this.deleteAll(r.deleteTasks, 128, 'delete task', store.tasks, this.tasks, (id) => this.trusted.taskChanged(id));
    await this.deleteAll(r.deleteDesired, 32, 'delete', store.desired, this.desired);
    await this.deleteAll(r.deleteStatuses, 32, 'delete status', store.sync, this.objectStatuses);
    await mapLimit(r.createTasks, 128, (t) =>
      this.tolerate(`create task ${t.id}`, async () => {
        const revision = await store.tasks.create(t.id, t);
        if (this.tasks.apply(t.id, t, revision)) this.trusted.taskChanged(t.id);
      }),
    );
    await mapLimit(r.createDesired, 16, ({ key, value }) => this.tolerate(`create ${key}`, () => store.desired.create(key, value)));
    await this.recordFailedRollouts(r.failedRollouts);
    // Many at a time, started in order (one connection: the stream keeps that order). One by one, a
    // pass of 100 Jobs' rollout events waited out 200 round trips while no task was created.
    await mapLimit(r.events, 64, (e) => emit(store, { type: e.type, reason: e.reason, object: e.object, message: e.message, time: new Date(this.now()).toISOString() }, log));
    for (const e of r.errors) log.warn({ object: e.object }, `controllers: ${e.message}`);
  }

  /** recordFailedRollouts adds each failed rollout to the source's SyncStatus, which rollback turns into a revert. */
  private async recordFailedRollouts(failed: PassResult['failedRollouts']): Promise<void> {
    const source = this.opts.source ?? 'default';
    for (const f of failed) {
      this.log.warn({ object: f.object, revision: f.revision, reason: f.reason }, `controllers: rollout failed: ${f.message}`);
      await this.tolerate('record failed rollout', () =>
        this.store.sync.updateWithRetry(sourceStatusKey(source), (cur) => {
          const base = cur && (cur as SyncStatus).kind === 'SyncStatus' ? (cur as SyncStatus) : emptySyncStatus(source);
          return { ...addFailedRollout(base, f), updatedAt: new Date(this.now()).toISOString() };
        }),
        true, // the rollback depends on it, and no later pass reports this failure again
      );
    }
  }
}
