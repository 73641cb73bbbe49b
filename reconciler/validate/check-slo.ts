// SLO checks beyond the schema (check per object), and the warnings that need the other objects
// (sloWarnings): an SLO whose indicator no task will report is applied, but said so with file:line,
// and its alert says "no data" (reconciler/monitor/slo-rules.ts) rather than firing or staying silent.
import { DEFAULT_NAMESPACE, parseSloWindow } from '../../api/index.ts';
import type { FieldPath } from '../manifests/index.ts';
import { ValidationCode, arrayAt, recordAt, stringAt, type Report } from './finding.ts';
import { quote } from './format.ts';

/** MIN_SLO_WINDOW_S: below an hour the burn-rate windows (1/720 of it, ...) drop under a scrape interval. */
export const MIN_SLO_WINDOW_S = 3600;
/** MAX_SLO_WINDOW_S: Prometheus keeps gitcell's data for days, not quarters; 90 days is the longest period SRE practice uses. */
export const MAX_SLO_WINDOW_S = 90 * 86400;

/** checkSlo: a window gitcell can evaluate, and selectors that leave the namespace and job labels to gitcell. */
export function checkSlo(obj: Record<string, unknown>, report: Report): void {
  const spec = recordAt(obj, 'spec');
  if (!spec) return;
  const window = stringAt(spec, 'window');
  const seconds = window === undefined ? undefined : parseSloWindow(window);
  if (seconds !== undefined && (seconds < MIN_SLO_WINDOW_S || seconds > MAX_SLO_WINDOW_S)) {
    report(['spec', 'window'], ValidationCode.schema, `window ${quote(window)}: must be between 1h and 90d (the burn-rate alert windows are fractions of it)`);
  }
  const indicator = recordAt(spec, 'indicator');
  const kinds = Object.keys(indicator ?? {});
  if (indicator && kinds.length !== 1) {
    report(['spec', 'indicator'], ValidationCode.schema, `exactly one of readiness, ratio or latency (got ${kinds.length ? kinds.join(' and ') : 'none'})`);
  }
  const ratio = recordAt(indicator, 'ratio');
  for (const field of ['errors', 'total']) {
    const sel = stringAt(ratio, field);
    if (sel !== undefined && /[{,]\s*(namespace|job)\s*!?[=~]/.test(sel)) {
      report(['spec', 'indicator', 'ratio', field], ValidationCode.conflict, `${quote(sel)} matches namespace or job: gitcell adds the SLO's own (its namespace and spec.job)`);
    }
  }
}

/** SloWarningInput is an SLO or Job among the revision's objects, with a report for warnings at its fields. */
export interface SloWarningInput {
  object: Record<string, unknown>;
  warn: (path: FieldPath, code: string, message: string) => void;
}

/**
 * sloWarnings: an SLO whose Job is not in the revision, or (for a task metric) whose Job has no port
 * named "metrics" that Prometheus would scrape, will have no data.
 */
export function sloWarnings(items: readonly SloWarningInput[]): void {
  const jobs = new Map<string, Record<string, unknown>>();
  for (const { object } of items) {
    if (object.kind !== 'Job') continue;
    const meta = recordAt(object, 'metadata');
    const name = stringAt(meta, 'name');
    if (name !== undefined) jobs.set(`${stringAt(meta, 'namespace') ?? DEFAULT_NAMESPACE}/${name}`, object);
  }
  for (const { object, warn } of items) {
    if (object.kind !== 'SLO') continue;
    const spec = recordAt(object, 'spec');
    const job = stringAt(spec, 'job');
    if (job === undefined) continue;
    const namespace = stringAt(recordAt(object, 'metadata'), 'namespace') ?? DEFAULT_NAMESPACE;
    const target = jobs.get(`${namespace}/${job}`);
    if (!target) {
      warn(['spec', 'job'], ValidationCode.sloNoData, `Job ${quote(job)} is not in namespace ${quote(namespace)} of this revision: the SLO will have no data (its alert says so)`);
      continue;
    }
    const indicator = recordAt(spec, 'indicator');
    const metric = stringAt(recordAt(indicator, 'latency'), 'histogram') ?? stringAt(recordAt(indicator, 'ratio'), 'total');
    if (metric === undefined) continue; // readiness: every agent reports it
    const ports = arrayAt(recordAt(recordAt(target, 'spec'), 'template'), 'ports');
    if (!ports.some((p) => stringAt(p, 'name') === 'metrics')) {
      warn(['spec', 'indicator'], ValidationCode.sloNoData, `Job ${quote(job)} has no port named "metrics", so no task exports ${quote(metric.replace(/\{.*$/, ''))} to Prometheus: the SLO will have no data (its alert says so)`);
    }
  }
}
