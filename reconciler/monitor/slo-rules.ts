/**
 * SLOs from Git compiled into Prometheus rules, the Google SRE workbook's way (chapter 5, "Alerting
 * on SLOs", multiwindow multi-burn-rate alerts): per SLO, recording rules of its error ratio over
 * each alert window, and two alerts:
 *
 *   SLOBurnRateFast (severity page):   1h and 5m above 14.4x the budget rate, or 6h and 30m above 6x
 *   SLOBurnRateSlow (severity ticket): 1d and 2h above 3x, or 3d and 6h above 1x
 *   SLONoData (severity nodata): the indicator's series is absent, so the SLO says "no data" instead
 *     of firing or staying silent (a metric no task exports)
 *
 * The windows are the workbook's for a 30-day period, scaled to the SLO's `window` and floored at
 * `minWindowSeconds` (a rate needs several scrapes). Pure.
 */
import { dump } from 'js-yaml';
import { DEFAULT_NAMESPACE, DEFAULT_SLO_WINDOW, parseSloWindow, type SLO, type SloSpec } from '../../api/index.ts';

/** ERROR_RATIO_RECORD is the recorded series: an SLO's error ratio over `window`. */
export const ERROR_RATIO_RECORD = 'gitcell_slo:error_ratio';

/** SLO_ALERTS names the alerts each SLO gets. */
export const SLO_ALERTS = { fast: 'SLOBurnRateFast', slow: 'SLOBurnRateSlow', noData: 'SLONoData' } as const;

const WORKBOOK_PERIOD_S = 30 * 86400;

/** BURN_RATES: the workbook's (long window, short window, burn factor) per severity, for 30 days. */
export const BURN_RATES = {
  page: [[3600, 300, 14.4], [6 * 3600, 1800, 6]],
  ticket: [[86400, 2 * 3600, 3], [3 * 86400, 6 * 3600, 1]],
} as const;

/** SloRulesOptions: the shortest window (default 60 s) and the rule groups' evaluation interval. */
export interface SloRulesOptions {
  minWindowSeconds?: number;
  evaluationIntervalSeconds?: number;
}

/** promDuration writes seconds as a Prometheus duration (the largest exact unit). */
export function promDuration(seconds: number): string {
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (seconds % n === 0) return `${seconds / n}${unit}`;
  return `${seconds}s`;
}

/** withMatchers adds label matchers to a selector `name` or `name{...}`. */
export function withMatchers(selector: string, matchers: string): string {
  const i = selector.indexOf('{');
  if (i < 0) return `${selector}{${matchers}}`;
  const inner = selector.slice(i + 1, -1).trim();
  return `${selector.slice(0, i)}{${matchers}${inner ? `,${inner}` : ''}}`;
}

const quoteLabel = (v: string): string => JSON.stringify(v);

/** errorRatio is the PromQL of an SLO's error ratio over `w` (a duration). */
export function errorRatio(spec: SloSpec, namespace: string, w: string): string {
  const m = `namespace=${quoteLabel(namespace)},job=${quoteLabel(spec.job)}`;
  const ind = spec.indicator;
  if (ind.ratio) return `sum(rate(${withMatchers(ind.ratio.errors, m)}[${w}])) / sum(rate(${withMatchers(ind.ratio.total, m)}[${w}]))`;
  if (ind.latency) {
    const h = ind.latency.histogram;
    return `1 - sum(rate(${h}_bucket{${m},le=${quoteLabel(String(ind.latency.threshold))}}[${w}])) / sum(rate(${h}_count{${m}}[${w}]))`;
  }
  return `1 - sum(sum_over_time(gitcell_task_ready{${m}}[${w}])) / sum(count_over_time(gitcell_task_ready{${m}}[${w}]))`;
}

/** presence is the series whose absence means "no data". */
export function presence(spec: SloSpec, namespace: string): string {
  const m = `namespace=${quoteLabel(namespace)},job=${quoteLabel(spec.job)}`;
  if (spec.indicator.ratio) return withMatchers(spec.indicator.ratio.total.replace(/\{.*$/, ''), m);
  if (spec.indicator.latency) return `${spec.indicator.latency.histogram}_count{${m}}`;
  return `gitcell_task_ready{${m}}`;
}

/** sloWindows are the scaled (long, short, factor) triples per severity, in seconds. */
export function sloWindows(spec: SloSpec, minWindowSeconds = 60): Record<keyof typeof BURN_RATES, Array<[number, number, number]>> {
  const period = parseSloWindow(spec.window ?? DEFAULT_SLO_WINDOW) ?? WORKBOOK_PERIOD_S;
  const scale = (s: number): number => Math.max(minWindowSeconds, Math.round((s * period) / WORKBOOK_PERIOD_S));
  const of = (rows: ReadonlyArray<readonly [number, number, number]>) => rows.map(([l, s, f]) => [scale(l), scale(s), f] as [number, number, number]);
  return { page: of(BURN_RATES.page), ticket: of(BURN_RATES.ticket) };
}

/** RuleGroup is one group of Prometheus' rule file. */
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Array<Record<string, unknown>>;
}

/** sloRuleGroup compiles one SLO into its group of recording and alerting rules. */
export function sloRuleGroup(slo: SLO, o: SloRulesOptions = {}): RuleGroup {
  const namespace = slo.metadata.namespace ?? DEFAULT_NAMESPACE;
  const spec = slo.spec;
  const labels = { ...(spec.labels ?? {}), slo: slo.metadata.name, namespace, job: spec.job };
  const windows = sloWindows(spec, o.minWindowSeconds);
  const all = [...new Set([...windows.page, ...windows.ticket].flatMap(([l, s]) => [l, s]))].sort((a, b) => a - b);
  const budget = Number((1 - spec.objective / 100).toPrecision(12));
  const sel = (w: number) => `${ERROR_RATIO_RECORD}{slo=${quoteLabel(slo.metadata.name)},namespace=${quoteLabel(namespace)},window="${promDuration(w)}"}`;
  const burn = (rows: Array<[number, number, number]>) => rows
    .map(([l, s, f]) => `(max without(window) (${sel(l)}) > ${f} * ${budget} and max without(window) (${sel(s)}) > ${f} * ${budget})`)
    .join(' or ');
  const what = `${namespace}/${spec.job} SLO ${slo.metadata.name} (${spec.objective}% over ${spec.window ?? DEFAULT_SLO_WINDOW})`;
  const alert = (name: string, severity: string, rows: Array<[number, number, number]>) => ({
    alert: name,
    expr: burn(rows),
    for: promDuration(rows[0]![1]),
    labels: { ...labels, severity },
    annotations: {
      summary: `${what}: error budget burning ${severity === 'page' ? 'fast' : 'slowly'}`,
      description: `error ratio {{ $value | humanizePercentage }} over ${promDuration(rows[0]![0])}: at this rate the budget of ${(budget * 100).toPrecision(3)}% lasts ${promDuration(Math.round((parseSloWindow(spec.window ?? DEFAULT_SLO_WINDOW) ?? WORKBOOK_PERIOD_S) / rows[0]![2]))} or less`,
    },
  });
  return {
    name: `gitcell-slo/${namespace}/${slo.metadata.name}`,
    ...(o.evaluationIntervalSeconds ? { interval: promDuration(o.evaluationIntervalSeconds) } : {}),
    rules: [
      ...all.map((w) => ({ record: ERROR_RATIO_RECORD, expr: errorRatio(spec, namespace, promDuration(w)), labels: { ...labels, window: promDuration(w) } })),
      alert(SLO_ALERTS.fast, 'page', windows.page),
      alert(SLO_ALERTS.slow, 'ticket', windows.ticket),
      {
        alert: SLO_ALERTS.noData,
        expr: `absent(${presence(spec, namespace)})`,
        for: promDuration(windows.page[0]![0]),
        labels: { ...labels, severity: 'nodata' },
        annotations: { summary: `${what}: no data`, description: `no task of Job ${namespace}/${spec.job} reports ${presence(spec, namespace).replace(/\{.*$/, '')}: the SLO cannot be evaluated` },
      },
    ],
  };
}

/** sloRulesFile renders Prometheus' rule file for every SLO, sorted (a stable file: rewritten only on change). */
export function sloRulesFile(slos: readonly SLO[], o: SloRulesOptions = {}): string {
  const sorted = [...slos].sort((a, b) => `${a.metadata.namespace ?? DEFAULT_NAMESPACE}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? DEFAULT_NAMESPACE}/${b.metadata.name}`));
  return `# generated by gitcell from the SLOs in Git; do not edit\n${dump({ groups: sorted.map((s) => sloRuleGroup(s, o)) }, { lineWidth: -1, noRefs: true })}`;
}
