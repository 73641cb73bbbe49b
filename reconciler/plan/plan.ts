import type { AnyObject, AutoscaleRecord, JobSpec, TaskSpec } from '../../api/index.ts';
import { DEFAULT_NAMESPACE, autoscaleKey, liveReplicas } from '../../api/index.ts';
import { errorMessage } from '../../lib/errors.ts';
import { secretVersionsOf, workloadSpecOf, type ValidationMessage } from '../apply/index.ts';
import { makeTask, type WorkloadSpec } from '../controllers/index.ts';
import { nextDesiredRecord, planDiff, type DesiredRecord, type FieldChange } from '../diff/index.ts';
import { rollingWaves, type RolloutWave } from './rollout-steps.ts';
import { scaleStep } from './autoscale-steps.ts';
import { sloSteps, type SloStep } from './slo-steps.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** RolloutStep is what one workload does when the revision is applied. */
export interface RolloutStep {
  key: string;
  /** autoscaled: a change Git holds but the autoscaler's live count overrides (nothing moves now) */
  action: 'create' | 'rolling-update' | 'scale' | 'delete' | 'restart-batch' | 'autoscaled';
  summary: string;
  waves?: RolloutWave[];
}

/** SchedulingPreview is the scheduler core's answer for the revision's new tasks. */
export interface SchedulingPreview {
  nodes: number;
  placed: number;
  unplaced: { taskId: string; jobKey: string; message: string }[];
  preemptions: { taskId: string; node: string; priority: number; preemptor: string; preemptorPriority: number }[];
  /** note says why there is no preview (no cluster to place on). */
  note?: string;
}

/** RevisionPlan is everything `gitcell plan` reports: pure data, rendered by renderPlan. */
export interface RevisionPlan {
  ref: { name: string; commit: string };
  base: { name: string; commit?: string };
  problems: ValidationMessage[];
  create: { key: string; kind: string; secretKeys?: string[] }[];
  update: { key: string; kind: string; changes: FieldChange[] }[];
  prune: { key: string; kind: string }[];
  keep: { key: string; reason: string }[];
  unchanged: number;
  refused?: string;
  rollout: RolloutStep[];
  /** the SLOs whose Prometheus rules change, with the rules compiled */
  slos: SloStep[];
  /** newTasks are the tasks the revision would add (for the scheduling preview; not rendered). */
  newTasks: TaskSpec[];
  /** retiringJobs are the jobKeys whose current tasks go away (template change or prune). */
  retiringJobs: string[];
  scheduling?: SchedulingPreview;
}

/** PlanInput: the revision's validated objects and what they are compared against. */
export interface PlanInput {
  ref: { name: string; commit: string };
  base: { name: string; commit?: string };
  objects: readonly AnyObject[];
  problems: readonly ValidationMessage[];
  current: readonly DesiredRecord[];
  /** autoscale: the autoscaler's records by `autoscale` key (the live cluster's; none with --base) */
  autoscale?: ReadonlyMap<string, AutoscaleRecord>;
  now?: number;
}

const secretKeysOf = (o: AnyObject): string[] => {
  const spec = (o as { spec?: Record<string, unknown> }).spec ?? {};
  const keys = new Set<string>();
  for (const f of ['encryptedData', 'data', 'stringData']) for (const k of Object.keys((spec[f] as object | undefined) ?? {})) keys.add(k);
  return [...keys].sort();
};

function specOf(rec: Pick<DesiredRecord, 'object' | 'generation' | 'revision'>, versions: ReturnType<typeof secretVersionsOf>): WorkloadSpec | undefined {
  if (rec.object.kind !== 'Job' && rec.object.kind !== 'DaemonSet') return undefined;
  try {
    return workloadSpecOf(rec, versions);
  } catch {
    return undefined;
  }
}

/** taskCountOf is how many tasks a workload runs at once: the live count (replicas, or the autoscaler's), or parallelism for batch. */
function taskCountOf(o: AnyObject, autoscale?: ReadonlyMap<string, AutoscaleRecord>): number {
  const spec = (o as { spec: Partial<JobSpec> }).spec;
  if (o.kind !== 'Job') return 0;
  if (spec.type === 'batch') return Math.min(spec.parallelism ?? 1, spec.completions ?? 1);
  return liveReplicas(spec, autoscale?.get(autoscaleKey(o.metadata.namespace ?? DEFAULT_NAMESPACE, o.metadata.name)));
}

/**
 * computeRevisionPlan says what applying a revision would do against `current` (the live `desired`
 * bucket, or records built from a base revision): the diff (reconciler-core's planDiff, Secret
 * values redacted), each workload's rollout (template hashes compared with the Secret versions of
 * each side, so a changed Secret shows as the rolling update it causes), and the new tasks a
 * scheduling preview should place. Pure.
 */
export function computeRevisionPlan(input: PlanInput): RevisionPlan {
  const now = input.now ?? Date.now();
  const out: RevisionPlan = {
    ref: input.ref,
    base: input.base,
    problems: [...input.problems],
    create: [],
    update: [],
    prune: [],
    keep: [],
    unchanged: 0,
    rollout: [],
    slos: input.problems.length ? [] : sloSteps(input.objects, input.current),
    newTasks: [],
    retiringJobs: [],
  };
  if (input.problems.length) return out;
  const diff = planDiff(input.objects, input.current);
  out.create = diff.create.map((i) => ({ key: i.key, kind: i.kind, ...(i.kind === 'Secret' ? { secretKeys: secretKeysOf(i.object) } : {}) }));
  out.update = diff.update.map((u) => ({ key: u.key, kind: u.kind, changes: u.changes }));
  out.prune = diff.prune.map((p) => ({ key: p.key, kind: p.kind }));
  out.keep = diff.keep;
  out.unchanged = diff.unchanged.length;
  if (diff.refused) out.refused = diff.refused.message;

  const byKey = new Map(input.current.map((r) => [r.key, r]));
  const oldVersions = secretVersionsOf(input.current);
  const nextRecords = input.objects.map((o) => nextDesiredRecord(byKey.get(`${o.kind}/${o.metadata.namespace ?? DEFAULT_NAMESPACE}/${o.metadata.name}`), o, { type: 'git', revision: input.ref.commit }, new Date(now).toISOString()));
  const newVersions = secretVersionsOf(nextRecords);
  const wanted = new Set(nextRecords.map((r) => r.key));

  const addTasks = (w: WorkloadSpec, o: AnyObject) => {
    if (w.kind !== 'Job') return; // DaemonSet tasks are pinned per node, not placed by the scheduler.
    const n = taskCountOf(o, input.autoscale);
    for (let i = 0; i < n; i++) out.newTasks.push(makeTask(w, `plan-${w.name}-${i}`, i, now));
  };
  for (const rec of nextRecords) {
    const o = rec.object;
    const next = specOf(rec, newVersions);
    if (!next) continue;
    const prevRec = byKey.get(rec.key);
    const prev = prevRec ? specOf(prevRec, oldVersions) : undefined;
    const n = taskCountOf(o, input.autoscale);
    const jobKey = `${w(next)}`;
    if (!prev) {
      out.rollout.push({ key: rec.key, action: 'create', summary: o.kind === 'DaemonSet' ? 'create one task on every eligible node' : `create ${n} task${n === 1 ? '' : 's'}` });
      addTasks(next, o);
      continue;
    }
    if (prev.templateHash !== next.templateHash) {
      out.retiringJobs.push(jobKey);
      addTasks(next, o);
      if (o.kind === 'DaemonSet') {
        out.rollout.push({ key: rec.key, action: 'rolling-update', summary: `replace the task on every eligible node, ${next.strategy?.maxUnavailable ?? 1} node(s) at a time` });
      } else if (next.type === 'batch') {
        out.rollout.push({ key: rec.key, action: 'restart-batch', summary: `new template: remaining completions run with it (parallelism ${n})` });
      } else {
        const r = rollingWaves(n, next.strategy?.maxSurge, next.strategy?.maxUnavailable);
        out.rollout.push({
          key: rec.key,
          action: 'rolling-update',
          summary: `rolling update of ${n} task${n === 1 ? '' : 's'} (maxSurge ${r.surge}, maxUnavailable ${r.unavailable}): at most ${n + r.surge} tasks, at least ${n - r.unavailable} ready, ${r.waves.length} wave${r.waves.length === 1 ? '' : 's'}`,
          waves: r.waves,
        });
      }
      continue;
    }
    const step = scaleStep(prevRec!.object, o, input.autoscale?.get(autoscaleKey(next.namespace, next.name)));
    if (step) out.rollout.push({ key: rec.key, ...step });
  }
  for (const r of input.current) {
    if (wanted.has(r.key) || !out.prune.some((p) => p.key === r.key)) continue;
    if (r.object.kind === 'Job' || r.object.kind === 'DaemonSet') {
      out.rollout.push({ key: r.key, action: 'delete', summary: 'delete all its tasks (pruned)' });
      out.retiringJobs.push(r.key);
    }
  }
  out.rollout.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}

function w(spec: WorkloadSpec): string {
  return `${spec.kind}/${spec.namespace}/${spec.name}`;
}

/** planProblem turns an exception of the read phase into a plan problem (file unknown). */
export function planProblem(err: unknown, file = ''): ValidationMessage {
  return { file, line: 0, column: 0, code: (err as { code?: string }).code ?? ErrorCodes.Plan, message: errorMessage(err) };
}
