/**
 * Horizontal autoscaling of service Jobs: the `autoscale:` block users write in Git (the bounds,
 * metrics and behavior, mirroring crds/job.schema.json) and the record the autoscaler owns in the
 * store (the live replica count, its stabilization memory and its last decisions).
 *
 * Why a block on the Job and not a separate `Autoscaler` kind (Kubernetes' HorizontalPodAutoscaler):
 * Kubernetes needs a separate object because one HPA can target any kind with a scale subresource
 * (Deployment, StatefulSet, custom kinds). gitcell has exactly one scalable kind, the service Job, so
 * a second object would only add a reference that can dangle (an Autoscaler naming a missing or batch
 * Job), two files to keep in step, and a cross-object check the validator could only do repository
 * wide. On the Job, the bounds sit next to `replicas`, `minReplicas > maxReplicas` and "autoscale on
 * a batch Job" are errors at one file:line, and removing the block is one diff of one object.
 */

/** AUTOSCALE_RESOURCES are the resources whose utilization (usage / request) a metric may target. */
export const AUTOSCALE_RESOURCES = ['cpu', 'memory'] as const;

/** AutoscaleResource is one of AUTOSCALE_RESOURCES. */
export type AutoscaleResource = (typeof AUTOSCALE_RESOURCES)[number];

/** PrometheusMetricSource is a PromQL query answering one sample per task (label `task` by default). */
export interface PrometheusMetricSource {
  /** query is instant PromQL whose result vector has one element per task, e.g. `sum by (task) (rate(http_requests_total{job="web"}[1m]))`. */
  query: string;
  /** taskLabel names the label carrying the task id (default "task"). */
  taskLabel?: string;
}

/**
 * AutoscaleMetric is one metric the autoscaler follows, exactly one source: `resource` (average
 * utilization of the tasks' requests, from the agents' cgroup samples, Kubernetes' Resource metric
 * with target type Utilization) or `prometheus` (average value per task, Kubernetes' Pods metric).
 */
export interface AutoscaleMetric {
  resource?: AutoscaleResource;
  /** targetAverageUtilization is the percentage of the request each task should use (resource metrics). */
  targetAverageUtilization?: number;
  prometheus?: PrometheusMetricSource;
  /** targetAverageValue is the value each task should see on average (prometheus metrics). */
  targetAverageValue?: number;
}

/** ScalingPolicyType: a change in tasks (`Pods`) or in percent of the tasks at the period's start. */
export type ScalingPolicyType = 'Pods' | 'Percent';

/** ScalingPolicy allows a change of at most `value` within any `periodSeconds`. */
export interface ScalingPolicy {
  type: ScalingPolicyType;
  value: number;
  periodSeconds: number;
}

/** SelectPolicy chooses between policies: the largest change (Max), the smallest (Min) or none (Disabled). */
export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

/** ScalingRules is Kubernetes' HPAScalingRules for one direction. */
export interface ScalingRules {
  /** stabilizationWindowSeconds: scale to the most conservative recommendation of this window. */
  stabilizationWindowSeconds?: number;
  selectPolicy?: SelectPolicy;
  policies?: ScalingPolicy[];
}

/** AutoscaleBehavior is Kubernetes' HorizontalPodAutoscalerBehavior. */
export interface AutoscaleBehavior {
  scaleUp?: ScalingRules;
  scaleDown?: ScalingRules;
}

/** AutoscaleSpec is a service Job's `autoscale:` block. `replicas` is then only the starting count. */
export interface AutoscaleSpec {
  /** minReplicas is the lower bound (default 1). */
  minReplicas?: number;
  maxReplicas: number;
  metrics: AutoscaleMetric[];
  behavior?: AutoscaleBehavior;
}

/** ResolvedScalingRules are ScalingRules with every default filled in. */
export type ResolvedScalingRules = Required<ScalingRules>;

/**
 * defaultScalingRules are Kubernetes' defaults: scale up at once (no window) by the larger of 100 %
 * or 4 tasks per 15 s; scale down to the highest recommendation of the last 300 s, by up to 100 %
 * per 15 s.
 */
export function defaultScalingRules(direction: 'up' | 'down'): ResolvedScalingRules {
  return direction === 'up'
    ? { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] }
    : { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };
}

/** resolveScalingRules fills the defaults of one direction into what the user wrote (field by field, as Kubernetes). */
export function resolveScalingRules(direction: 'up' | 'down', given: ScalingRules | undefined): ResolvedScalingRules {
  const d = defaultScalingRules(direction);
  return {
    stabilizationWindowSeconds: given?.stabilizationWindowSeconds ?? d.stabilizationWindowSeconds,
    selectPolicy: given?.selectPolicy ?? d.selectPolicy,
    policies: given?.policies && given.policies.length > 0 ? given.policies : d.policies,
  };
}

/** AUTOSCALE_TOLERANCE: no scaling while usage/target is within 10 % of 1.0 (Kubernetes' default). */
export const AUTOSCALE_TOLERANCE = 0.1;

/** MetricReading is what one metric said at one decision: the inputs a person needs to check it. */
export interface MetricReading {
  /** metric names it: "cpu", "memory" or "prometheus:<query>". */
  metric: string;
  /** current is the average utilization in percent (resource) or average value (prometheus); absent when no task had a value. */
  current?: number;
  target: number;
  /** proposal is the replica count this metric alone asks for; absent when it could not be computed. */
  proposal?: number;
  /** tasks that had a value, that had none (missing) and that were not ready (set aside). */
  ready: number;
  missing: number;
  unready: number;
  /** error says why the metric gave no proposal. */
  error?: string;
}

/** AutoscaleDecision is one evaluation of one Job: its inputs, the stages, and the outcome. */
export interface AutoscaleDecision {
  at: string;
  current: number;
  /** proposal: the largest metric proposal (before stabilization and policies). */
  proposal: number;
  /** stabilized: after the stabilization windows. */
  stabilized: number;
  desired: number;
  /** reason names what set `desired` (Kubernetes' condition reasons: ScaleUpLimit, TooManyReplicas, ScaleDownStabilized, CapacityLimited, ...). */
  reason: string;
  message: string;
  metrics: MetricReading[];
}

/** ScaleEvent is one past change of the replica count (positive up, negative down), for the rate policies. */
export interface ScaleEvent {
  at: number;
  change: number;
}

/** Recommendation is one past unstabilized proposal, for the stabilization windows. */
export interface Recommendation {
  at: number;
  replicas: number;
}

/**
 * AutoscaleRecord (bucket `autoscale`, key `<namespace>.<name>`, single writer: the autoscaler on the
 * reconciler leader) is the live replica count of an autoscaled Job and the memory the HPA algorithm
 * needs (recommendations, scale events), kept in the store so a new leader continues the windows.
 * Git holds the bounds and policy; this record holds the count; nothing writes it back to Git.
 */
export interface AutoscaleRecord {
  namespace: string;
  name: string;
  replicas: number;
  recommendations: Recommendation[];
  scaleEvents: ScaleEvent[];
  /** decisions: the last AUTOSCALE_DECISIONS_KEPT evaluations that changed something or said something new. */
  decisions: AutoscaleDecision[];
  updatedAt: string;
}

/** AUTOSCALE_DECISIONS_KEPT bounds AutoscaleRecord.decisions. */
export const AUTOSCALE_DECISIONS_KEPT = 10;

/** startingReplicas is where a new autoscaler starts: the Git `replicas` (default 1) within the bounds. */
export function startingReplicas(gitReplicas: number | undefined, a: AutoscaleSpec): number {
  return Math.min(Math.max(gitReplicas ?? 1, a.minReplicas ?? 1), a.maxReplicas);
}

/**
 * liveReplicas is how many tasks a service Job runs: its Git `replicas` (default 1) without an
 * autoscale block; with one, the autoscaler's count from the store, held within the bounds Git has
 * now (a lowered maxReplicas applies at once), or the starting count before the first decision.
 * The controllers, `get jobs` and `plan` all ask this one function.
 */
export function liveReplicas(spec: { replicas?: number; autoscale?: AutoscaleSpec }, record?: Pick<AutoscaleRecord, 'replicas'>): number {
  if (!spec.autoscale) return spec.replicas ?? 1;
  if (!record) return startingReplicas(spec.replicas, spec.autoscale);
  return Math.min(Math.max(record.replicas, spec.autoscale.minReplicas ?? 1), spec.autoscale.maxReplicas);
}

/** autoscaleKey is the `autoscale` bucket key of a Job: `<namespace>.<name>`. */
export function autoscaleKey(namespace: string, name: string): string {
  return `${namespace}.${name}`;
}
