import { statusMatchesKey, trustedNodeRecords, withNodeSpec, type TaskStatus } from '../../api/index.ts';
import { backoffDelay, createLogger, errorMessage, isGitcellError, mapLimit, type Logger } from '../../lib/index.ts';
import { Informer, StoreErrorCodes, type Bucket } from '../../store/index.ts';
import type { WorkloadSpec } from '../controllers/index.ts';
import { controllerPass, type ClusterView, type PassResult } from './controllers-pass.ts';
import { OBJECT_PREFIX, sourceStatusKey } from './keys.ts';
import { emit, type ReconcilerStore, type SyncRecord } from './store.ts';
import { addFailedRollout, emptySyncStatus, type SyncStatus } from './sync.ts';

/** RunControllersOptions configure the controller loop. */
export interface RunControllersOptions {
  store: ReconcilerStore;
  /** the loop runs until this aborts (a leader's ctx.signal, or shutdown). */
  signal: AbortSignal;
  /** source whose SyncStatus receives failed rollouts (default "default"). */
  source?: string;
  /** leader term, for logs (writes are fenced by compare-and-set on what was read). */
  term?: number;
  /** valid tells whether this replica may still write (a leader's ctx.valid); checked before every write. */
  valid?: () => boolean;
  /** re-run every controller this often even without changes: deadlines and cron ticks (default 1000 ms). */
  tickMs?: number;
  /** gather changes this long before a pass (default 5 ms). */
  debounceMs?: number;
  now?: () => number;
  crashLoopRestarts?: number;
  nodeGraceMs?: number;
  log?: Logger;
  /** told after every pass (tests and metrics). */
  onPass?: (r: PassResult) => void;
}

/** ControllerLoop is a running controller loop. */
export interface ControllerLoop {
  /** resolves when the loop has stopped (after the signal aborted) and its watches are closed. */
  readonly done: Promise<void>;
  /** passes counts completed passes. */
  passes(): number;
}

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
  const log = opts.log ?? createLogger('controllers');
  const now = opts.now ?? Date.now;
  const { store, signal } = opts;
  const specCache = new Map<string, { stamp: string; spec: WorkloadSpec }>();
  const fingerprints = new Map<string, string>();
  let passes = 0;
  let failures = 0;
  // Set at the first pass: a rollout's stall counts only while this loop watches it.
  let watchingSince: number | undefined;
  let dirty = false;
  let running = false;
  let timer: NodeJS.Timeout | undefined;

  // Store informers: a failed watch is restarted and catches up, so the view never freezes; a pass
  // runs only while all five hold a complete snapshot.
  const onChange = () => schedule();
  const inform = <T>(bucket: Bucket<T>, prefix?: string) => new Informer<T>(bucket, { signal, onChange, log, ...(prefix ? { prefix } : {}) });
  const desired = inform(store.desired);
  const tasks = inform(store.tasks);
  const statuses = inform(store.status);
  const nodes = inform(store.nodes);
  const nodeSpecs = inform(store.nodespec);
  const objectStatuses = inform(store.sync, OBJECT_PREFIX);
  const informers = [desired, tasks, statuses, nodes, nodeSpecs, objectStatuses];

  function schedule(delay = opts.debounceMs ?? 5): void {
    dirty = true;
    if (running || timer || signal.aborted || !informers.every((m) => m.hasSynced)) return;
    timer = setTimeout(runPass, delay);
  }

  let ticks = 0;
  const ticker = setInterval(() => {
    // Every 30 ticks, a full pass: no memo outlives a resync period.
    if (++ticks % 30 === 0) fingerprints.clear();
    schedule(0);
  }, opts.tickMs ?? 1000);
  const watches = informers.map((m) => m.done);

  let passDone: Promise<void> = Promise.resolve();
  async function runPass(): Promise<void> {
    timer = undefined;
    if (signal.aborted) return;
    running = true;
    dirty = false;
    let release!: () => void;
    passDone = new Promise((r) => (release = r));
    try {
      const view = snapshot();
      const t = now();
      watchingSince ??= t;
      const result = controllerPass(view, {
        now: t,
        watchingSince,
        ...(opts.crashLoopRestarts !== undefined ? { crashLoopRestarts: opts.crashLoopRestarts } : {}),
        ...(opts.nodeGraceMs !== undefined ? { nodeGraceMs: opts.nodeGraceMs } : {}),
      }, specCache, fingerprints);
      await applyPass(result);
      passes++;
      failures = 0;
      opts.onPass?.(result);
    } catch (err) {
      failures++;
      fingerprints.clear(); // some decisions were not written: decide everything again
      log.warn({ err: errorMessage(err), term: opts.term, failures }, 'controllers: pass failed, retrying');
      dirty = true;
    } finally {
      running = false;
      release();
      // Back off while the store is in trouble; otherwise gather what arrived during the pass.
      if (dirty && !signal.aborted) schedule(failures ? backoffDelay({ initialMs: 100, maxMs: 5000 }, failures) : 20);
    }
  }

  function snapshot(): ClusterView {
    const byTask = new Map<string, TaskStatus>();
    for (const [key, { value: s }] of statuses.entries) {
      // The key's node is the writer's (permissions); a body naming another node or task is forged.
      if (!statusMatchesKey(key, s)) continue;
      const prev = byTask.get(s.taskId);
      if (!prev || prev.updatedAt < s.updatedAt) byTask.set(s.taskId, s);
    }
    return {
      desired: new Map(desired.values().map((r) => [r.key, r])),
      tasks: new Map([...tasks.entries.entries()].map(([k, c]) => [k, c.value])),
      statuses: byTask,
      // A node is its key (the only one its agent may write): a record naming another node is not one.
      // Reserved labels and operator taints come from the NodeSpec, as the scheduler sees them.
      nodes: [...trustedNodeRecords([...nodes.entries.entries()].map(([k, c]) => [k, c.value] as const)).nodes.values()]
        .map((n) => withNodeSpec(n, nodeSpecs.entries.get(n.name)?.value)),
      objectStatuses: new Map([...objectStatuses.entries.entries()].map(([k, c]) => [k, c.value])),
    };
  }

  const lostRace = (err: unknown) => isGitcellError(err, StoreErrorCodes.Conflict) || isGitcellError(err, StoreErrorCodes.Exists);
  const tolerate = async (what: string, fn: () => Promise<unknown>) => {
    if (signal.aborted || (opts.valid && !opts.valid())) return; // a demoted leader stops writing at once
    try {
      await fn();
    } catch (err) {
      if (lostRace(err)) {
        dirty = true; // someone else wrote first: decide again from what the watches show
        fingerprints.clear();
        return;
      }
      throw new Error(`${what}: ${errorMessage(err)}`, { cause: err });
    }
  };

  async function applyPass(r: PassResult): Promise<void> {
    // Status first: a finished batch Job's final status must be stored before its tasks go.
    await mapLimit(r.putStatuses, 128, ({ key, value }) =>
      tolerate(`status ${key}`, async () => {
        const cur = objectStatuses.entries.get(key);
        const revision = cur ? await store.sync.update(key, value, cur.revision) : await store.sync.create(key, value);
        // Our own write, known before its echo arrives: the next pass must not decide on the old value.
        objectStatuses.apply(key, value, revision);
      }),
    );
    // Deletes by CAS on the revision the informer holds; each own delete goes into the informer at
    // once so a late watch event cannot bring the key back.
    const deleteAll = <T>(keys: readonly string[], limit: number, what: string, bucket: Bucket<T>, informer: Informer<T>) =>
      mapLimit(keys, limit, (key) =>
        tolerate(`${what} ${key}`, async () => {
          const cur = informer.entry(key);
          if (cur) informer.apply(key, undefined, await bucket.delete(key, { revision: cur.revision }));
        }),
      );
    await deleteAll(r.deleteTasks, 128, 'delete task', store.tasks, tasks);
    await deleteAll(r.deleteDesired, 32, 'delete', store.desired, desired);
    await deleteAll(r.deleteStatuses, 32, 'delete status', store.sync, objectStatuses);
    await mapLimit(r.createTasks, 128, (t) =>
      tolerate(`create task ${t.id}`, async () => {
        const revision = await store.tasks.create(t.id, t);
        tasks.apply(t.id, t, revision);
      }),
    );
    await mapLimit(r.createDesired, 16, ({ key, value }) => tolerate(`create ${key}`, () => store.desired.create(key, value)));
    for (const f of r.failedRollouts) {
      log.warn({ object: f.object, revision: f.revision, reason: f.reason }, `controllers: rollout failed: ${f.message}`);
      await tolerate('record failed rollout', () =>
        store.sync.updateWithRetry(sourceStatusKey(opts.source ?? 'default'), (cur) => {
          const base = cur && (cur as SyncStatus).kind === 'SyncStatus' ? (cur as SyncStatus) : emptySyncStatus(opts.source ?? 'default');
          return { ...addFailedRollout(base, f), updatedAt: new Date(now()).toISOString() };
        }),
      );
    }
    for (const e of r.events) {
      await emit(store, { type: e.type, reason: e.reason, object: e.object, message: e.message, time: new Date(now()).toISOString() }, log);
    }
    for (const e of r.errors) log.warn({ object: e.object }, `controllers: ${e.message}`);
  }

  const done = (async () => {
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    clearInterval(ticker);
    clearTimeout(timer);
    await passDone;
    await Promise.allSettled(watches);
  })();
  return { done, passes: () => passes };
}
