/**
 * The scale scenario (issue 17), one implementation for `npm run bench -- scale` (which times it)
 * and test/integration/scale/scale.test.ts (which asserts its correctness at the bench's --quick
 * size). Each phase waits for its condition, takes its time, then waits until the correctness
 * checks (`placementProblems`) pass and hands what is still wrong to `onSettled`:
 *
 *   commit of the workload ─► writes enough for every task bound, running (nothing followed) ─► view
 *     reads everything, verifies ─► boundS, runningS from the records' server times ─► settle
 *   commit changing 10% of the Job templates ─► their tasks all new and running (rolloutS) ─► settle
 *   kill -9 of the victims' process ─► their tasks bound elsewhere and running (requeueS) ─► settle
 */
import type { ScaleCluster } from './scale.ts';
import { placementProblems, ScaleView, untilWrites, writeMarks } from './scale-view.ts';
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
 * runScaleScenario runs the three phases on a started cluster. Its view of the cluster is opened
 * once the commit's writes are in, and closed when it returns.
 */
export async function runScaleScenario(c: ScaleCluster, o: ScenarioOptions): Promise<ScenarioResult> {
  const expected = expectedTasks(o.workload, c.groups);
  const t0 = await commitUnobserved(c, o, expected);
  const v = new ScaleView(c.store);
  try {
    return await withView(c, v, o, expected, t0);
  } finally {
    await v.close();
  }
}

/**
 * commitUnobserved commits the workload and returns when (epoch ms). Nothing follows the cluster
 * in the window, as nothing does in a real cluster (kubemark's density test takes pod startup
 * latency from the pods' own timestamps): the harness polls the bindings' and status buckets' write
 * counts (three stream info requests every 250 ms) until there were enough writes for every task
 * to be bound and running; withView then reads everything once, verifies, and takes the times from
 * the records.
 */
async function commitUnobserved(c: ScaleCluster, o: ScenarioOptions, expected: number): Promise<number> {
  const m0 = await writeMarks(c.store);
  const t0 = Date.now();
  await c.commit(workloadFiles(o.workload), 'workload');
  await untilWrites(c.store, 'every task bound', o.waitMs, (m) => m.bindings - m0.bindings >= expected);
  await o.onPhase?.('bound');
  await untilWrites(c.store, 'every task running', o.waitMs, (m) => m.status - m0.status >= expected);
  o.log(`${expected} bindings and statuses written after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await o.onPhase?.('commit');
  return t0;
}

/** withView verifies the commit (from `t0`) with the view, takes its times, and runs the other two phases. */
async function withView(c: ScaleCluster, v: ScaleView, o: ScenarioOptions, expected: number, t0: number): Promise<ScenarioResult> {
  const w = o.workload;
  const progress = () => JSON.stringify(v.counts());
  const problems: Record<ScenarioPhase, string[]> = { commit: [], rollout: [], kill: [] };
  const settle = async (phase: ScenarioPhase, dead: ReadonlySet<string>) => {
    const check = () => placementProblems(v, { dead, tasksPerJob: w.tasksPerJob, jobs: w.jobs });
    problems[phase] = await v.until(`${phase}: correctness`, o.settleMs, () => (check().length === 0 ? [] : undefined)).catch(() => check());
    if (problems[phase].length) o.log(`${phase}: ${problems[phase].length} problems, e.g. ${problems[phase].slice(0, 5).join('; ')}`);
    o.onSettled?.(phase, problems[phase]);
  };

  // 1. The commit's result, read once: enough writes is not yet every task bound and running (a
  // status written before 'running', a task bound twice); what is not yet so is waited for with the
  // view following. The times are the records' own (server time), whenever the harness saw them.
  await v.synced();
  await v.until('every task bound and running', o.waitMs, () => {
    const n = v.counts();
    return n.tasks >= expected && n.bound === n.tasks && n.running === n.tasks ? n : undefined;
  }, progress);
  const times = v.lastTimes(v.tasks.values());
  const boundS = (times.bound - t0) / 1000;
  const runningS = (times.running - t0) / 1000;
  o.log(`all ${expected} tasks bound after ${boundS.toFixed(1)} s, running after ${runningS.toFixed(1)} s (the records' times; verified after ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  await settle('commit', new Set());
  if (o.commitOnly) return { expected, tasks: v.tasks.entries.size, boundS, runningS, rolloutS: NaN, requeueS: NaN, killed: 0, moved: 0, problems };

  // 2. 10% of the templates change: every task of those Jobs replaced by one of the new template, running.
  const changed = changedJobs(w).map((i) => `Job/default/${jobName(i)}`);
  const before = new Map(changed.map((k) => [k, new Set(v.tasks.values().filter((t) => t.jobKey === k).map((t) => t.templateHash))]));
  const t1 = Date.now();
  await c.commit(changeTemplates(w), 'change 10% of the templates');
  const rolled = () => {
    const byJob = new Map<string, number>();
    for (const t of v.tasks.values()) {
      const old = before.get(t.jobKey);
      if (!old) continue;
      if (old.has(t.templateHash) || !v.runningOn(t)) return undefined;
      byJob.set(t.jobKey, (byJob.get(t.jobKey) ?? 0) + 1);
    }
    return changed.every((k) => byJob.get(k) === w.tasksPerJob) ? true : undefined;
  };
  await v.until('rollout of 10% of the templates', o.waitMs, rolled, progress);
  const rolloutS = (Date.now() - t1) / 1000;
  o.log(`rollout of ${changed.length} Jobs complete after ${rolloutS.toFixed(1)} s`);
  await o.onPhase?.('rollout');
  await settle('rollout', new Set());

  // 3. kill -9 of the victims' process: the Job tasks on them (DaemonSet tasks are pinned) move.
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
  }, progress);
  const requeueS = (Date.now() - t2) / 1000;
  o.log(`requeue complete after ${requeueS.toFixed(1)} s`);
  await o.onPhase?.('kill');
  await settle('kill', dead);
  return { expected, tasks: v.tasks.entries.size, boundS, runningS, rolloutS, requeueS, killed: dead.size, moved: moved.length, problems };
}
