// The replica count one metric asks for: Kubernetes' ReplicaCalculator (pkg/controller/podautoscaler/
// replica_calculator.go), GetResourceReplicas for utilization and calcPlainMetricReplicas for average
// values, step by step: group the tasks, compute the usage ratio over the ready ones, stop inside
// the tolerance, and when tasks were missing or not ready redo it conservatively and refuse to
// change direction. Pure.
import { AUTOSCALE_TOLERANCE } from '../../api/index.ts';

/** TaskSample is one task as a metric sees it. */
export interface TaskSample {
  id: string;
  /** running: the task's process runs (not pending, starting, stopping or ended). */
  running: boolean;
  ready: boolean;
  /** value: the metric's reading for this task (usage in millicores or bytes, or a Prometheus value); absent when none. */
  value?: number;
  /** request: resource metrics only, the task's request in the same unit as `value`. */
  request?: number;
}

/** TaskGroups is Kubernetes' groupPods: who counts, who is missing, who is not ready yet. */
export interface TaskGroups {
  ready: TaskSample[];
  missing: TaskSample[];
  unready: TaskSample[];
}

/**
 * groupTasks sorts the tasks as Kubernetes' groupPods does: a task not running yet (pending,
 * starting) is unready; a running task without a reading is missing; a running task with a reading
 * that is not ready is unready too (Kubernetes judges CPU readiness by its initialization period;
 * gitcell has the readiness probe's word, and uses it for every metric); the rest are ready.
 */
export function groupTasks(tasks: readonly TaskSample[]): TaskGroups {
  const g: TaskGroups = { ready: [], missing: [], unready: [] };
  for (const t of tasks) {
    if (!t.running) g.unready.push(t);
    else if (t.value === undefined) g.missing.push(t);
    else if (!t.ready) g.unready.push(t);
    else g.ready.push(t);
  }
  return g;
}

/** MetricTarget: a utilization in percent of the request, or an average value per task. */
export type MetricTarget = { utilization: number } | { averageValue: number };

/** Proposal is one metric's answer. */
export interface Proposal {
  replicas: number;
  /** current: the metric's value over the ready tasks (percent of requests, or average value). */
  current: number;
  ready: number;
  missing: number;
  unready: number;
}

/** ratioOf is usage / target over `tasks` and the metric's current value (Kubernetes' GetResourceUtilizationRatio / GetMetricUsageRatio). */
export function ratioOf(tasks: readonly TaskSample[], target: MetricTarget): { ratio: number; current: number } {
  const sum = tasks.reduce((s, t) => s + (t.value ?? 0), 0);
  if ('utilization' in target) {
    const requests = tasks.reduce((s, t) => s + (t.request ?? 0), 0);
    const current = requests > 0 ? (sum * 100) / requests : 0;
    return { ratio: current / target.utilization, current };
  }
  const current = tasks.length > 0 ? sum / tasks.length : 0;
  return { ratio: current / target.averageValue, current };
}

/**
 * proposeReplicas is the replica count `target` asks for, given `current` replicas and the tasks'
 * samples; it throws when no ready task had a reading (the metric cannot say anything). With every
 * task ready and measured: ceil(ratio × ready), or `current` inside the tolerance. Otherwise, as
 * Kubernetes: missing tasks count as using 100 % of the target on a scale-down (the target, or the
 * request for utilizations under 100 %) and 0 on a scale-up; unready tasks count as 0 on a
 * scale-up and are left out on a scale-down; the ratio is computed again, and a result inside the
 * tolerance or in the other direction keeps `current`.
 */
export function proposeReplicas(current: number, tasks: readonly TaskSample[], target: MetricTarget, tolerance = AUTOSCALE_TOLERANCE): Proposal {
  const g = groupTasks(tasks);
  if (g.ready.length === 0) throw new Error(g.unready.length > 0 ? 'no ready task has a reading yet (tasks not ready)' : 'no task has a reading');
  const counts = { ready: g.ready.length, missing: g.missing.length, unready: g.unready.length };
  const first = ratioOf(g.ready, target);
  const scaleUpWithUnready = g.unready.length > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && g.missing.length === 0) {
    if (Math.abs(1 - first.ratio) <= tolerance) return { replicas: current, current: first.current, ...counts };
    return { replicas: Math.ceil(first.ratio * g.ready.length), current: first.current, ...counts };
  }
  const filled: TaskSample[] = [...g.ready];
  if (g.missing.length > 0 && first.ratio !== 1) {
    for (const t of g.missing) filled.push({ ...t, value: first.ratio < 1 ? fallbackValue(t, target) : 0 });
  }
  if (scaleUpWithUnready) for (const t of g.unready) filled.push({ ...t, value: 0 });
  const second = ratioOf(filled, target).ratio;
  const flipped = (first.ratio < 1 && second > 1) || (first.ratio > 1 && second < 1);
  if (Math.abs(1 - second) <= tolerance || flipped) return { replicas: current, current: first.current, ...counts };
  const replicas = Math.ceil(second * filled.length);
  // A different task count can still turn the direction around (Kubernetes checks this too).
  if ((second < 1 && replicas > current) || (second > 1 && replicas < current)) return { replicas: current, current: first.current, ...counts };
  return { replicas, current: first.current, ...counts };
}

/** fallbackValue is what a missing task is taken to use on a scale-down: all of the target (utilization: max(100 %, target) of its request). */
function fallbackValue(t: TaskSample, target: MetricTarget): number {
  if ('averageValue' in target) return target.averageValue;
  return ((t.request ?? 0) * Math.max(100, target.utilization)) / 100;
}
