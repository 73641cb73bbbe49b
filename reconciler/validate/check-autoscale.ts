// Checks of a service Job's `autoscale:` block beyond its schema: the bounds are ordered, each metric
// has exactly one source with the target that source needs, and only service Jobs scale.
import type { FieldPath } from '../manifests/index.ts';
import { ValidationCode, arrayAt, isRecord, recordAt, type Report } from './finding.ts';

/** checkAutoscale reports what the schema cannot say about `spec.autoscale` of a Job of type `type`. */
export function checkAutoscale(spec: Record<string, unknown>, type: string | undefined, report: Report): void {
  const auto = recordAt(spec, 'autoscale');
  if (!auto) return;
  const at: FieldPath = ['spec', 'autoscale'];
  if (type === 'batch') report(at, ValidationCode.conflict, 'autoscale applies only to type: service (a batch Job runs to completion)');
  const min = typeof auto.minReplicas === 'number' ? auto.minReplicas : 1;
  if (typeof auto.maxReplicas === 'number' && auto.maxReplicas >= 1 && min > auto.maxReplicas) {
    report([...at, 'minReplicas'], ValidationCode.conflict, `minReplicas ${min} is more than maxReplicas ${auto.maxReplicas}`);
  }
  arrayAt(auto, 'metrics').forEach((m, i) => {
    if (isRecord(m)) checkMetric(m, [...at, 'metrics', i], report);
  });
}

/** checkMetric: one of resource / prometheus, with its own target and not the other's. */
function checkMetric(m: Record<string, unknown>, at: FieldPath, report: Report): void {
  const hasResource = 'resource' in m;
  const hasProm = 'prometheus' in m;
  if (hasResource === hasProm) {
    report(at, ValidationCode.unknownMetric, hasResource
      ? 'a metric has one source: resource or prometheus, not both'
      : 'unknown metric: give `resource: cpu|memory` with targetAverageUtilization, or `prometheus: {query}` with targetAverageValue');
    return;
  }
  const [target, other] = hasResource ? ['targetAverageUtilization', 'targetAverageValue'] : ['targetAverageValue', 'targetAverageUtilization'];
  const source = hasResource ? 'a resource metric' : 'a prometheus metric';
  if (!(target in m)) report(at, ValidationCode.conflict, `${source} needs ${target}`);
  if (other in m) report([...at, other], ValidationCode.conflict, `${other} does not apply to ${source} (use ${target})`);
}
