/**
 * The SLOs of a job (kind SLO whose `job` is it, in its namespace) and how fast each burns its error
 * budget, for the job page. The error ratios are the series reconciler/monitor/slo-rules.ts records
 * in Prometheus (`gitcell_slo:error_ratio{slo,namespace,window}`), one per alert window; the burn rate
 * is that ratio over the budget (1 - objective): 1 spends the budget in exactly the SLO's window,
 * 14.4 over the fast windows pages. Without Prometheus, or without the series yet, it says "no data".
 */
import { DEFAULT_NAMESPACE, DEFAULT_SLO_WINDOW, type SLO } from '../api/index.ts';
import { errorMessage } from '../lib/index.ts';
import { ERROR_RATIO_RECORD, sloWindows } from '../reconciler/monitor/slo-rules.ts';
import type { DashboardModel } from './model.ts';
import { WORKLOAD_KINDS, type JobView } from './rows.ts';

/** BurnReading is one window of an SLO: its error ratio and burn rate now. */
export interface BurnReading {
  window: string;
  seconds: number;
  errorRatio: number;
  burnRate: number;
}

/** SloView is one SLO on the job page. */
export interface SloView {
  name: string;
  objective: number;
  window: string;
  indicator: string;
  /** the error budget as a fraction (1 - objective/100) */
  budget: number;
  /** the burn rate at which the fast alert pages (over its long window) */
  pageAt: number;
  /** the windows Prometheus has a value for, shortest first; empty: no data */
  burn: BurnReading[];
  /** why there is no burn rate: monitoring not configured, no data yet, or Prometheus' error */
  note?: string;
}

/** slosOf lists the SLOs in the desired state that target Job namespace/name. */
export function slosOf(m: DashboardModel, namespace: string, name: string): SLO[] {
  return m.desired.values()
    .map((r) => r.object as unknown as SLO)
    .filter((o) => o.kind === 'SLO' && (o.metadata.namespace ?? DEFAULT_NAMESPACE) === namespace && o.spec?.job === name)
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** durationSeconds reads a Prometheus duration of one unit (5m, 1h, 30s, 2d). Pure. */
export function durationSeconds(d: string): number {
  const m = /^(\d+)([smhd])$/.exec(d);
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'] : Number.NaN;
}

/** burnReadings turns Prometheus' vector of one SLO's error ratios into burn rates. Pure. */
export function burnReadings(result: { metric: Record<string, string>; value: [number, string] }[], budget: number): BurnReading[] {
  return result
    .map((r) => ({ window: r.metric.window ?? '?', errorRatio: Number(r.value[1]) }))
    .filter((r) => Number.isFinite(r.errorRatio))
    .map((r) => ({ ...r, seconds: durationSeconds(r.window), burnRate: budget > 0 ? r.errorRatio / budget : 0 }))
    .sort((a, b) => a.seconds - b.seconds);
}

/** sloPage is the SLOs of a job with their burn rates; undefined for an unknown job. */
export async function sloPage(m: DashboardModel, prometheus: string | undefined, namespace: string, name: string): Promise<{ slos: SloView[] } | undefined> {
  if (!WORKLOAD_KINDS.some((k) => m.row<JobView>('jobs', `${k}.${namespace}.${name}`))) return undefined;
  const slos = await Promise.all(slosOf(m, namespace, name).map(async (slo): Promise<SloView> => {
    const spec = slo.spec;
    const budget = Number((1 - spec.objective / 100).toPrecision(12));
    const window = spec.window ?? DEFAULT_SLO_WINDOW;
    const base = { name: slo.metadata.name, objective: spec.objective, window, indicator: Object.keys(spec.indicator)[0] ?? '?', budget, pageAt: sloWindows(spec).page[0]![2] };
    if (!prometheus) return { ...base, burn: [], note: 'no data: monitoring not configured' };
    try {
      const query = `${ERROR_RATIO_RECORD}{slo=${JSON.stringify(slo.metadata.name)},namespace=${JSON.stringify(namespace)}}`;
      const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query })}`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`Prometheus answered ${res.status}`);
      const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      const burn = burnReadings(body.data.result, budget);
      return { ...base, burn, ...(burn.length ? {} : { note: `no data: Prometheus has no ${ERROR_RATIO_RECORD} of it yet` }) };
    } catch (err) {
      return { ...base, burn: [], note: `no data: Prometheus at ${prometheus}: ${errorMessage(err)}` };
    }
  }));
  return { slos };
}
