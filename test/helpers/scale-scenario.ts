/**
 * The scale scenario (issue 17), one implementation for `npm run bench -- scale` (which times it)
 * and test/integration/scale/scale.test.ts (which asserts its correctness at the bench's --quick
 * size). Each phase waits for its condition, takes its time, then waits until the correctness
 * checks (`placementProblems`) pass and hands what is still wrong to `onSettled`:
 *
 *   commit of the workload ─► every task bound (boundS) ─► every task running (runningS) ─► settle
 *   commit changing 10% of the Job templates ─► their tasks all new and running (rolloutS) ─► settle
 *   kill -9 of the victims' process ─► their tasks bound elsewhere and running (requeueS) ─► settle
 */
import type { ScaleCluster } from './scale.ts';
import { placementProblems, type ScaleView } from './scale-view.ts';
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

/** runScaleScenario runs the three phases on a started cluster, with the view synced. */
export async function runScaleScenario(c: ScaleCluster, v: ScaleView, o: ScenarioOptions): Promise<ScenarioResult> {
  const w = o.workload;
  const progress = () => JSON.stringify(v.counts());
  const problems: Record<ScenarioPhase, string[]> = { commit: [], rollout: [], kill: [] };
  const settle = async (phase: ScenarioPhase, dead: ReadonlySet<string>) => {
    const check = () => placementProblems(v, { dead, tasksPerJob: w.tasksPerJob, jobs: w.jobs });
    problems[phase] = await v.until(`${phase}: correctness`, o.settleMs, () => (check().length === 0 ? [] : undefined)).catch(() => check());
    if (problems[phase].length) o.log(`${phase}: ${problems[phase].length} problems, e.g. ${problems[phase].slice(0, 5).join('; ')}`);
    o.onSettled?.(phase, problems[phase]);
  };

  // 1. The workload commit.
  const expected = expectedTasks(w, c.groups);
  const t0 = Date.now();
  await c.commit(workloadFiles(w), 'workload');
  // Necessary conditions first, by the informers' sizes: a walk of 100,000 tasks four times a
  // second cost the harness as much CPU as the scheduler in a 10,000-node commit, on the same cores.
  await v.until('every task bound', o.waitMs, () => {
    if (v.tasks.entries.size < expected || v.bindings.entries.size < v.tasks.entries.size) return undefined;
    const n = v.counts();
    return n.tasks >= expected && n.bound === n.tasks ? n : undefined;
  }, progress);
  const boundS = (Date.now() - t0) / 1000;
  o.log(`all ${expected} tasks bound after ${boundS.toFixed(1)} s`);
  await o.onPhase?.('bound');
  await v.until('every task running', o.waitMs, () => {
    if (v.status.entries.size < v.tasks.entries.size) return undefined; // each running task has its status
    const n = v.counts();
    return n.tasks >= expected && n.running === n.tasks ? n : undefined;
  }, progress);
  const runningS = (Date.now() - t0) / 1000;
  o.log(`all tasks running after ${runningS.toFixed(1)} s`);
  await o.onPhase?.('commit');
  await settle('commit', new Set());
  if (o.commitOnly) return { expected, boundS, runningS, rolloutS: NaN, requeueS: NaN, killed: 0, moved: 0, problems };

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
  return { expected, boundS, runningS, rolloutS, requeueS, killed: dead.size, moved: moved.length, problems };
}
