// What `gitcell plan` says about the SLOs a revision adds, changes or removes: the Prometheus rules
// the reconciler would write for each (reconciler/monitor/slo-rules.ts), summed up as the error
// ratio windows it records and each alert's condition and `for`. An SLO change never rolls a Job
// out, so it has a section of its own. Pure.
import { DEFAULT_NAMESPACE, DEFAULT_SLO_WINDOW, type AnyObject, type SLO } from '../../api/index.ts';
import { SLO_ALERTS, promDuration, sloRuleGroup, sloWindows } from '../monitor/slo-rules.ts';
import type { DesiredRecord } from '../diff/index.ts';

/** SloStep is one SLO's change of rules. */
export interface SloStep {
  key: string;
  action: 'create' | 'update' | 'delete';
  /** the SLO in a line: job, objective, window, indicator */
  summary: string;
  /** the compiled rules, one line each (none for a delete) */
  rules: string[];
}

const keyOf = (o: AnyObject): string => `SLO/${o.metadata.namespace ?? DEFAULT_NAMESPACE}/${o.metadata.name}`;

function indicatorOf(slo: SLO): string {
  const i = slo.spec.indicator;
  if (i.latency) return `requests slower than ${i.latency.threshold}s (${i.latency.histogram})`;
  if (i.ratio) return `${i.ratio.errors} / ${i.ratio.total}`;
  return 'task-time not ready (gitcell_task_ready)';
}

/** sloSummary is an SLO in one line. */
export function sloSummary(slo: SLO): string {
  return `Job ${slo.spec.job}: ${slo.spec.objective}% good over ${slo.spec.window ?? DEFAULT_SLO_WINDOW}, bad = ${indicatorOf(slo)}`;
}

/** sloRuleLines sums up the rules compiled for `slo` (with the reconciler's default shortest window, 60 s). */
export function sloRuleLines(slo: SLO, minWindowSeconds = 60): string[] {
  const group = sloRuleGroup(slo);
  const windows = sloWindows(slo.spec, minWindowSeconds);
  const budget = Number((1 - slo.spec.objective / 100).toPrecision(12));
  const recorded = group.rules.filter((r) => 'record' in r).map((r) => (r.labels as { window: string }).window);
  const burn = (rows: Array<[number, number, number]>) => rows.map(([l, s, f]) => `${promDuration(l)} and ${promDuration(s)} > ${f}x budget (${Number((f * budget).toPrecision(3))})`).join(', or ');
  const noData = group.rules.find((r) => r.alert === SLO_ALERTS.noData)!;
  return [
    `record gitcell_slo:error_ratio over ${recorded.join(', ')}`,
    `alert ${SLO_ALERTS.fast} (page) when ${burn(windows.page)}, for ${promDuration(windows.page[0]![1])}`,
    `alert ${SLO_ALERTS.slow} (ticket) when ${burn(windows.ticket)}, for ${promDuration(windows.ticket[0]![1])}`,
    `alert ${SLO_ALERTS.noData} when ${String(noData.expr).replace(/^absent\((.*)\)$/, '$1')} is absent, for ${String(noData.for)}`,
  ];
}

/** sloSteps compares the revision's SLOs with `current`'s and lists the changed ones, sorted by key. */
export function sloSteps(objects: readonly AnyObject[], current: readonly DesiredRecord[]): SloStep[] {
  const before = new Map(current.filter((r) => r.object.kind === 'SLO').map((r) => [r.key, r.object as SLO]));
  const out: SloStep[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    if (o.kind !== 'SLO') continue;
    const slo = o as SLO;
    const key = keyOf(o);
    seen.add(key);
    const prev = before.get(key);
    if (prev && JSON.stringify(sloRuleGroup(prev)) === JSON.stringify(sloRuleGroup(slo))) continue;
    out.push({ key, action: prev ? 'update' : 'create', summary: sloSummary(slo), rules: sloRuleLines(slo) });
  }
  for (const [key, slo] of before) if (!seen.has(key)) out.push({ key, action: 'delete', summary: `${sloSummary(slo)}: its rules and alerts are removed`, rules: [] });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
