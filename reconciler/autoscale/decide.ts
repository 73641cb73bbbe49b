// One evaluation of one autoscaled Job (Kubernetes' reconcileAutoscaler): bounds first, then every
// metric's proposal (the largest wins; a missing metric never lets the others scale down), then the
// behavior (windows, policies, min/max), then the cluster's capacity. State in, record and decision
// out; the loop (loop.ts) feeds it readings and writes what it returns. Pure.
import {
  AUTOSCALE_DECISIONS_KEPT,
  resolveScalingRules,
  startingReplicas,
  type AutoscaleDecision,
  type AutoscaleMetric,
  type AutoscaleRecord,
  type AutoscaleSpec,
  type MetricReading,
} from '../../api/index.ts';
import { normalize, pruneMemory, type Normalization } from './behavior.ts';
import { proposeReplicas, type MetricTarget, type TaskSample } from './replicas.ts';

/** MetricInput is what the edge read for one metric: the tasks' samples, or why it could not. */
export type MetricInput = { samples: readonly TaskSample[] } | { error: string };

/** AutoscaleInput is everything one evaluation decides from. */
export interface AutoscaleInput {
  namespace: string;
  name: string;
  spec: AutoscaleSpec;
  /** gitReplicas: the Job's `replicas` in Git (default 1), where a new autoscaler starts. */
  gitReplicas: number;
  prev?: AutoscaleRecord;
  /** metrics: one input per spec.metrics entry, in order. */
  metrics: readonly MetricInput[];
  /** unplaced: tasks of the Job the scheduler has not placed for a while, and why; a scale-up then waits. */
  unplaced?: { count: number; message: string };
  now: number;
}

/** AutoscaleOutcome is the record to store, the decision taken, and whether the decision is news (an event). */
export interface AutoscaleOutcome {
  record: AutoscaleRecord;
  decision: AutoscaleDecision;
  changed: boolean;
  notable: boolean;
}

/** metricName names a metric in decisions and events. */
export function metricName(m: AutoscaleMetric): string {
  return m.resource ?? `prometheus:${m.prometheus?.query ?? ''}`;
}

function targetOf(m: AutoscaleMetric): MetricTarget {
  return m.resource ? { utilization: m.targetAverageUtilization ?? 0 } : { averageValue: m.targetAverageValue ?? 0 };
}

/** readMetric turns one metric's input into a reading with its proposal (or the error that stopped it). */
export function readMetric(m: AutoscaleMetric, input: MetricInput | undefined, current: number): MetricReading {
  const target = m.resource ? (m.targetAverageUtilization ?? 0) : (m.targetAverageValue ?? 0);
  const base = { metric: metricName(m), target, ready: 0, missing: 0, unready: 0 };
  if (!input) return { ...base, error: 'no reading' };
  if ('error' in input) return { ...base, error: input.error };
  try {
    const p = proposeReplicas(current, input.samples, targetOf(m));
    return { ...base, current: round(p.current), proposal: p.replicas, ready: p.ready, missing: p.missing, unready: p.unready };
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Step is a count with the reason and message that set it. */
type Step = { replicas: number; reason: string; message: string };

/**
 * decideAutoscale evaluates one Job once. A Job seen for the first time starts from its Git replicas
 * within the bounds, with that count as the first recommendation (so a new autoscaler waits out the
 * scale-down window before going lower, as Kubernetes does).
 */
export function decideAutoscale(input: AutoscaleInput): AutoscaleOutcome {
  const { spec, now } = input;
  const min = spec.minReplicas ?? 1;
  const max = spec.maxReplicas;
  const current = input.prev?.replicas ?? startingReplicas(input.gitReplicas, spec);
  const n: Normalization = {
    now, current, proposal: current, min, max,
    up: resolveScalingRules('up', spec.behavior?.scaleUp),
    down: resolveScalingRules('down', spec.behavior?.scaleDown),
    recommendations: input.prev?.recommendations ?? [{ at: now, replicas: current }],
    scaleEvents: input.prev?.scaleEvents ?? [],
  };
  const metrics = spec.metrics.map((m, i) => readMetric(m, input.metrics[i], current));
  let recommendations = [...n.recommendations];
  let stabilized = current;
  let step: Step;
  if (current > max) step = { replicas: max, reason: 'TooManyReplicas', message: `current ${current} is above maxReplicas ${max}` };
  else if (current < min) step = { replicas: min, reason: 'TooFewReplicas', message: `current ${current} is below minReplicas ${min}` };
  else {
    const proposals = metrics.filter((r) => r.proposal !== undefined).map((r) => r.proposal!);
    const failed = metrics.filter((r) => r.error !== undefined);
    n.proposal = proposals.length > 0 ? Math.max(...proposals) : current;
    if (proposals.length === 0) step = { replicas: current, reason: 'FailedGetMetrics', message: `no metric could be read: ${failed.map((r) => `${r.metric}: ${r.error}`).join('; ')}` };
    else if (failed.length > 0 && n.proposal < current) {
      step = { replicas: current, reason: 'ScaleDownSkipped', message: `${failed.length} of ${metrics.length} metrics missing (${failed[0]!.metric}: ${failed[0]!.error}): no scale-down on partial metrics` };
    } else {
      const r = normalize(n);
      recommendations.push({ at: now, replicas: n.proposal });
      stabilized = r.stabilized.replicas;
      // The reason names the last stage that moved the count: the rate or bounds, else the windows.
      step = r.final.replicas !== r.stabilized.replicas || r.stabilized.replicas === n.proposal ? r.final : r.stabilized;
    }
    step = holdAtCapacity(step, current, input.unplaced);
  }
  return outcome(input, n, { current, stabilized, step, metrics, recommendations });
}

/** holdAtCapacity keeps `current` instead of scaling up while tasks of the Job wait for a node. */
function holdAtCapacity(step: Step, current: number, unplaced: AutoscaleInput['unplaced']): Step {
  if (step.replicas <= current || !unplaced || unplaced.count === 0) return step;
  return { replicas: current, reason: 'CapacityLimited', message: `would scale to ${step.replicas} (${step.reason}), but ${unplaced.count} task(s) wait for a node: ${unplaced.message}` };
}

function outcome(
  input: AutoscaleInput,
  n: Normalization,
  d: { current: number; stabilized: number; step: Step; metrics: MetricReading[]; recommendations: AutoscaleRecord['recommendations'] },
): AutoscaleOutcome {
  const { now, prev } = input;
  const changed = d.step.replicas !== d.current;
  const events = changed ? [...n.scaleEvents, { at: now, change: d.step.replicas - d.current }] : [...n.scaleEvents];
  const memory = pruneMemory(n, d.recommendations, events);
  const decision: AutoscaleDecision = {
    at: new Date(now).toISOString(),
    current: d.current,
    proposal: n.proposal,
    stabilized: d.stabilized,
    desired: d.step.replicas,
    reason: d.step.reason,
    message: d.step.message,
    metrics: d.metrics,
  };
  const last = prev?.decisions.at(-1);
  const notable = changed || !prev || last?.reason !== decision.reason;
  const decisions = notable ? [...(prev?.decisions ?? []), decision].slice(-AUTOSCALE_DECISIONS_KEPT) : [...(prev?.decisions ?? [])];
  const record: AutoscaleRecord = {
    namespace: input.namespace,
    name: input.name,
    replicas: d.step.replicas,
    ...memory,
    decisions,
    updatedAt: decision.at,
  };
  return { record, decision, changed, notable };
}
