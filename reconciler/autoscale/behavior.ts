// From a metric proposal to the replica count, with the HPA's behavior (Kubernetes'
// normalizeDesiredReplicasWithBehaviors in pkg/controller/podautoscaler/horizontal.go): first the
// stabilization windows (scale up no further than the lowest, down no further than the highest
// recommendation of each window), then the rate policies and the min/max bounds. Pure.
import type { Recommendation, ResolvedScalingRules, ScaleEvent } from '../../api/index.ts';

/** Normalization is one behavior step's input: where we are, what the metrics propose, the memory of past proposals and changes. */
export interface Normalization {
  now: number;
  current: number;
  proposal: number;
  min: number;
  max: number;
  up: ResolvedScalingRules;
  down: ResolvedScalingRules;
  recommendations: readonly Recommendation[];
  scaleEvents: readonly ScaleEvent[];
}

/** Limited is a count and the reason and message that name what set it (Kubernetes' condition reasons). */
export interface Limited {
  replicas: number;
  reason: string;
  message: string;
}

/**
 * stabilize applies the windows: the result is `current` raised to the lowest recommendation of
 * the scale-up window and lowered to the highest of the scale-down window, the new proposal
 * included (Kubernetes' stabilizeRecommendationWithBehaviors).
 */
export function stabilize(n: Normalization): Limited {
  let up = n.proposal;
  let down = n.proposal;
  const upCutoff = n.now - n.up.stabilizationWindowSeconds * 1000;
  const downCutoff = n.now - n.down.stabilizationWindowSeconds * 1000;
  for (const r of n.recommendations) {
    if (r.at > upCutoff) up = Math.min(up, r.replicas);
    if (r.at > downCutoff) down = Math.max(down, r.replicas);
  }
  const replicas = Math.min(Math.max(n.current, up), down);
  if (replicas === n.proposal) return { replicas, reason: 'ReadyForNewScale', message: 'recommended size matches the proposal' };
  return replicas < n.proposal
    ? { replicas, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than the current one, applying the lowest recent recommendation' }
    : { replicas, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than the current one, applying the highest recent recommendation' };
}

/** changeWithin sums the changes of one sign within `periodSeconds` before `now`. */
function changeWithin(events: readonly ScaleEvent[], periodSeconds: number, now: number, sign: 1 | -1): number {
  const cutoff = now - periodSeconds * 1000;
  return events.reduce((s, e) => (e.at > cutoff && Math.sign(e.change) === sign ? s + Math.abs(e.change) : s), 0);
}

/**
 * scaleUpLimit is the most replicas the scale-up policies allow now (Kubernetes'
 * calculateScaleUpLimitWithScalingRules): each policy starts from the count at the start of its
 * period (current minus what was added plus what was removed within it) and adds `value` tasks or
 * `value` percent (rounded up); Max takes the largest result, Min the smallest, Disabled allows none.
 */
export function scaleUpLimit(current: number, events: readonly ScaleEvent[], rules: ResolvedScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const proposals = rules.policies.map((p) => {
    const start = current - changeWithin(events, p.periodSeconds, now, 1) + changeWithin(events, p.periodSeconds, now, -1);
    return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
  });
  return rules.selectPolicy === 'Min' ? Math.min(...proposals) : Math.max(...proposals);
}

/**
 * scaleDownLimit is the fewest replicas the scale-down policies allow now (Kubernetes'
 * calculateScaleDownLimitWithBehaviors): from the period's start count, minus `value` tasks or
 * `value` percent (rounded down: 10 % of 72 removes 8, as in the HPA documentation); Max (the
 * largest change) takes the smallest result, Min the largest.
 */
export function scaleDownLimit(current: number, events: readonly ScaleEvent[], rules: ResolvedScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const proposals = rules.policies.map((p) => {
    const start = current - changeWithin(events, p.periodSeconds, now, 1) + changeWithin(events, p.periodSeconds, now, -1);
    return p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
  });
  return rules.selectPolicy === 'Min' ? Math.max(...proposals) : Math.min(...proposals);
}

/**
 * limitRate bounds a stabilized count by the policies and by min/max (Kubernetes'
 * convertDesiredReplicasWithBehaviorRate), naming the bound that applied: ScaleUpLimit,
 * TooManyReplicas, ScaleDownLimit, TooFewReplicas, or DesiredWithinRange.
 */
export function limitRate(n: Normalization, desired: number): Limited {
  if (desired > n.current) {
    const limit = Math.max(scaleUpLimit(n.current, n.scaleEvents, n.up, n.now), n.current);
    const byPolicy = n.max > limit;
    const allowed = byPolicy ? limit : n.max;
    if (desired > allowed) {
      return byPolicy
        ? { replicas: allowed, reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' }
        : { replicas: allowed, reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
    }
  } else if (desired < n.current) {
    const limit = Math.min(scaleDownLimit(n.current, n.scaleEvents, n.down, n.now), n.current);
    const byPolicy = n.min < limit;
    const allowed = byPolicy ? limit : n.min;
    if (desired < allowed) {
      return byPolicy
        ? { replicas: allowed, reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' }
        : { replicas: allowed, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
    }
  }
  return { replicas: desired, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

/** normalize runs stabilize then limitRate; the reason is the rate's when it changed the count, else the window's. */
export function normalize(n: Normalization): { stabilized: Limited; final: Limited } {
  const stabilized = stabilize(n);
  const final = limitRate(n, stabilized.replicas);
  return { stabilized, final };
}

/** pruneMemory keeps the recommendations and scale events that a window or a policy period can still see. */
export function pruneMemory(n: Pick<Normalization, 'now' | 'up' | 'down'>, recs: readonly Recommendation[], events: readonly ScaleEvent[]): { recommendations: Recommendation[]; scaleEvents: ScaleEvent[] } {
  const window = Math.max(n.up.stabilizationWindowSeconds, n.down.stabilizationWindowSeconds) * 1000;
  const period = Math.max(...n.up.policies.map((p) => p.periodSeconds), ...n.down.policies.map((p) => p.periodSeconds)) * 1000;
  return {
    recommendations: recs.filter((r) => r.at > n.now - window),
    scaleEvents: events.filter((e) => e.at > n.now - period),
  };
}
