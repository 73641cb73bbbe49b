/**
 * The scale scenario (issue 17), one implementation for `npm run bench -- scale` (which times it)
 * and test/integration/scale/scale.test.ts (which asserts its correctness at the bench's --quick
 * size). Each phase waits for its condition, takes its time, then waits until the correctness
 * checks (`placementProblems`) pass and hands what is still wrong to `onSettled`:
 *
 *   commit of the workload ─► writes enough for every task bound, running (nothing followed) ─► view
 *     reads everything, verifies ─► boundS, runningS from the records' server times ─► settle
 *   commit changing 10% of the Job templates ─► writes enough for it (nothing followed) ─► view
 *     reads everything, verifies: their tasks all new and running ─► rolloutS from the records ─► settle
 *   kill -9 of the victims' process ─► their tasks bound elsewhere and running (requeueS) ─► settle
 */
import type { ScaleCluster } from './scale.ts';
import { firstWriteTime, lastDeleteTime, placementProblems, ScaleView, untilWrites, writeMarks } from './scale-view.ts';
import { changeTemplates, changedJobs, jobName, workloadFiles, type ScaleWorkload } from './scale-workload.ts';

/** ScenarioPhase names the three phases. */
export type ScenarioPhase = 'commit' | 'rollout' | 'kill';

/** ScenarioOptions size the scenario and bound its waits. */
export interface ScenarioOptions {
  workload: ScaleWorkload;
  /** how long each phase's condition may take (a deadline, never a target) */
  waitMs: number;
  /** how long the correctness checks may take to pass once a phase's condition holds */
  settleMs: number;
  log: (line: string) => void;
  /** told what is still wrong after each phase settled (empty: correct) */
  onSettled?: (phase: ScenarioPhase, problems: string[]) => void;
  /** told when a phase's condition holds (the bench samples the servers there) */
  onPhase?: (phase: ScenarioPhase | 'bound') => void | Promise<void>;
  /** stop after the commit phase (the bench's `--commit-only`, for profiling runs of task creation) */
  commitOnly?: boolean;
}

/** ScenarioResult is what the scenario measured and found. */
export interface ScenarioResult {
  /** tasks the workload makes: the Jobs' plus a DaemonSet task per node and per large node */
  expected: number;
  /** tasks in the store at the end */
  tasks: number;
  boundS: number;
  runningS: number;
  rolloutS: number;
  requeueS: number;
  /** nodes killed, and the Job tasks that were on them */
  killed: number;
  moved: number;
  /** what was still wrong after each phase settled */
  problems: Record<ScenarioPhase, string[]>;
}

/** expectedTasks counts the tasks of the workload on the cluster's nodes: Jobs', node-agent on every node, large-cache on every fourth. Pure. */
export function expectedTasks(w: ScaleWorkload, groups: string[][]): number {
  const nodes = groups.flat();
  const large = nodes.filter((n) => Number(n.slice(-5)) % 4 === 0).length;
  return w.jobs * w.tasksPerJob + nodes.length + large;
}

/**
 * runScaleScenario runs the three phases on a started cluster. The harness's view of the cluster
 * is open only between the timed windows of the commit and the rollout (and through the requeue),
 * and closed when it returns.
 */
export async function runScaleScenario(c: ScaleCluster, o: ScenarioOptions): Promise<ScenarioResult> {
  const slot = new ViewSlot(c);
  const problems: Record<ScenarioPhase, string[]> = { commit: [], rollout: [], kill: [] };
  const expected = expectedTasks(o.workload, c.groups);
  try {
    const { boundS, runningS } = await commitPhase(c, o, slot, expected, problems);
    if (o.commitOnly) return { expected, tasks: slot.view().tasks.entries.size, boundS, runningS, rolloutS: NaN, requeueS: NaN, killed: 0, moved: 0, problems };
    const rolloutS = await rolloutPhase(c, o, slot, problems);
    const kill = await killPhase(c, o, slot.view(), problems);
    return { expected, tasks: slot.view().tasks.entries.size, boundS, runningS, rolloutS, ...kill, problems };
  } finally {
    await slot.close();
  }
}

/** ViewSlot holds the harness's one view of the cluster, if open. */
class ViewSlot {
  private v: ScaleView | undefined;
  constructor(private readonly c: ScaleCluster) {}

  /** open reads the cluster anew (a new view, synced) */
  async open(): Promise<ScaleView> {
    await this.close();
    this.v = new ScaleView(this.c.store);
    await this.v.synced();
    return this.v;
  }

  view(): ScaleView {
    if (!this.v) throw new Error('scale: no view open');
    return this.v;
  }

  async close(): Promise<void> {
    await this.v?.close();
    this.v = undefined;
  }
}

/** settle waits until the correctness checks pass (or settleMs passed), records what is still wrong, and tells onSettled. */
async function settle(o: ScenarioOptions, v: ScaleView, phase: ScenarioPhase, dead: ReadonlySet<string>, problems: Record<ScenarioPhase, string[]>): Promise<void> {
  const check = () => placementProblems(v, { dead, tasksPerJob: o.workload.tasksPerJob, jobs: o.workload.jobs });
  problems[phase] = await v.until(`${phase}: correctness`, o.settleMs, () => (check().length === 0 ? [] : undefined)).catch(() => check());
  if (problems[phase].length) o.log(`${phase}: ${problems[phase].length} problems, e.g. ${problems[phase].slice(0, 5).join('; ')}`);
  o.onSettled?.(phase, problems[phase]);
}

const progressOf = (v: ScaleView) => () => JSON.stringify(v.counts());
const since = (t: number): string => ((Date.now() - t) / 1000).toFixed(1);

/**
 * commitPhase commits the workload with nothing following the cluster in the window, as nothing
 * does in a real cluster (kubemark's density test takes pod startup latency from the pods' own
 * timestamps): the harness polls the bindings' and status buckets' write counts (three stream info
 * requests every 250 ms) until there were enough writes for every task to be bound and running,
 * then reads everything once (the view) and verifies. Enough writes is not yet every task bound
 * and running (a status written before 'running', a task bound twice): what is not yet so is
 * waited for with the view following. Either way the times are the records' own server times.
 */
async function commitPhase(c: ScaleCluster, o: ScenarioOptions, slot: ViewSlot, expected: number, problems: Record<ScenarioPhase, string[]>): Promise<{ boundS: number; runningS: number }> {
  const m0 = await writeMarks(c.store);
  const t0 = Date.now();
  await c.commit(workloadFiles(o.workload), 'workload');
  await untilWrites(c.store, 'every task bound', o.waitMs, (m) => m.bindings - m0.bindings >= expected);
  await o.onPhase?.('bound');
  await untilWrites(c.store, 'every task running', o.waitMs, (m) => m.status - m0.status >= expected);
  o.log(`${expected} bindings and statuses written after ${since(t0)} s`);
  await o.onPhase?.('commit');
  const v = await slot.open();
  await v.until('every task bound and running', o.waitMs, () => {
    const n = v.counts();
    return n.tasks >= expected && n.bound === n.tasks && n.running === n.tasks ? n : undefined;
  }, progressOf(v));
  const times = v.lastTimes(v.tasks.values());
  const boundS = (times.bound - t0) / 1000;
  const runningS = (times.running - t0) / 1000;
  // How long the commit took to reach the store (the harness's git commit, the reconciler's parse,
  // validation and first pass), from the first task record's server time.
  const firstTaskS = ((await firstWriteTime(c.store.tasks, m0.tasks)) - t0) / 1000;
  o.log(`all ${expected} tasks bound after ${boundS.toFixed(1)} s, running after ${runningS.toFixed(1)} s, the first task written after ${firstTaskS.toFixed(1)} s (the records' times; verified after ${since(t0)} s)`);
  await settle(o, v, 'commit', new Set(), problems);
  return { boundS, runningS };
}

/**
 * rolloutPhase changes 10% of the Job templates: every task of those Jobs replaced by one of the
 * new template, running. Timed as the commit: unobserved (each of the n new tasks created and given
 * a status and each old one deleted: at least 2n task writes and n status writes), then read,
 * verified, and timed by the records: the newest running status of a new task, or the newest
 * deletion of an old one (replayed from the tasks bucket's changes), whichever is later.
 */
async function rolloutPhase(c: ScaleCluster, o: ScenarioOptions, slot: ViewSlot, problems: Record<ScenarioPhase, string[]>): Promise<number> {
  const w = o.workload;
  const changed = changedJobs(w).map((i) => `Job/default/${jobName(i)}`);
  const old = slot.view().tasks.values().filter((t) => changed.includes(t.jobKey));
  const before = new Map(changed.map((k) => [k, new Set(old.filter((t) => t.jobKey === k).map((t) => t.templateHash))]));
  const oldIds = new Set(old.map((t) => t.id));
  const n = changed.length * w.tasksPerJob;
  await slot.close();
  const m1 = await writeMarks(c.store);
  const t1 = Date.now();
  await c.commit(changeTemplates(w), 'change 10% of the templates');
  await untilWrites(c.store, 'rollout of 10% of the templates', o.waitMs, (m) => m.tasks - m1.tasks >= 2 * n && m.status - m1.status >= n);
  o.log(`rollout: ${2 * n} task writes and ${n} statuses after ${since(t1)} s`);
  await o.onPhase?.('rollout');
  const v = await slot.open();
  const rolled = () => {
    const byJob = new Map<string, number>();
    for (const t of v.tasks.values()) {
      const hashes = before.get(t.jobKey);
      if (!hashes) continue;
      if (hashes.has(t.templateHash) || !v.runningOn(t)) return undefined;
      byJob.set(t.jobKey, (byJob.get(t.jobKey) ?? 0) + 1);
    }
    return changed.every((k) => byJob.get(k) === w.tasksPerJob) ? true : undefined;
  };
  await v.until('rollout of 10% of the templates', o.waitMs, rolled, progressOf(v));
  const running = v.lastTimes(v.tasks.values().filter((t) => before.has(t.jobKey))).running;
  const deleted = await lastDeleteTime(c.store.tasks, m1.tasks, await c.store.tasks.lastRevision(), oldIds);
  const rolloutS = (Math.max(running, deleted) - t1) / 1000;
  o.log(`rollout of ${changed.length} Jobs complete after ${rolloutS.toFixed(1)} s (the records' times: last running ${((running - t1) / 1000).toFixed(1)} s, last old task deleted ${((deleted - t1) / 1000).toFixed(1)} s; verified after ${since(t1)} s)`);
  await settle(o, v, 'rollout', new Set(), problems);
  return rolloutS;
}

/**
 * killPhase: kill -9 of the victims' process; the Job tasks on them (DaemonSet tasks are pinned)
 * move. Timed by the view, which follows through it: the window is mostly the grace (410 s at
 * 10,000 nodes), in which the view has nothing to do.
 */
async function killPhase(c: ScaleCluster, o: ScenarioOptions, v: ScaleView, problems: Record<ScenarioPhase, string[]>): Promise<{ requeueS: number; killed: number; moved: number }> {
  const t2 = Date.now();
  const dead = new Set(await c.kill());
  const moved = v.tasks.values().filter((t) => !t.nodeName && dead.has(v.bindings.get(t.id)?.node ?? '')).map((t) => t.id);
  o.log(`killed ${dead.size} nodes holding ${moved.length} tasks`);
  await v.until('requeue of the dead nodes\' tasks', o.waitMs, () => {
    for (const id of moved) {
      const t = v.tasks.get(id);
      const b = v.bindings.get(id);
      if (!t || !b || dead.has(b.node) || !v.runningOn(t)) return undefined;
    }
    return true;
  }, progressOf(v));
  const requeueS = (Date.now() - t2) / 1000;
  o.log(`requeue complete after ${requeueS.toFixed(1)} s`);
  await o.onPhase?.('kill');
  await settle(o, v, 'kill', dead, problems);
  return { requeueS, killed: dead.size, moved: moved.length };
}
