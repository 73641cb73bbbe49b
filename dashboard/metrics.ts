/**
 * Job CPU and memory from Prometheus (`gitcell_task_cpu_millicores` and
 * `gitcell_task_memory_bytes`, per task, scraped from every agent; see reconciler/monitor/README.md): the server asks
 * Prometheus' query_range API and hands the browser plain series, so the browser talks to the
 * dashboard only. Without a Prometheus the answer says so ("monitoring not configured"). And the
 * overview's alerts, read as `gitcell get alerts` reads them.
 */
import { errorMessage } from '../lib/index.ts';
import { readMonitoring, type MonitoringEndpoints, type MonitoringReport } from '../cli/monitoring-endpoints.ts';
import type { DashboardModel } from './model.ts';
import type { JobView } from './rows.ts';

/** Series is one task's samples: times in seconds, values. */
export interface Series {
  task: string;
  times: number[];
  values: number[];
}

/** JobMetrics is what the job page charts. */
export type JobMetrics = { configured: false } | { configured: true; error?: string; cpu: Series[]; memory: Series[]; step: number };

/** escapeRegex quotes a task id for a PromQL regex matcher. Pure. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');
}

/** jobMetrics reads the last `minutes` (default 15) of a job's task CPU and memory; undefined for an unknown job. */
export async function jobMetrics(m: DashboardModel, prometheus: string | undefined, rest: string[], q: URLSearchParams): Promise<JobMetrics | undefined> {
  const [kind, namespace, name] = rest;
  const job = m.row<JobView>('jobs', `${kind}.${namespace}.${name}`);
  if (!job) return undefined;
  if (!prometheus) return { configured: false };
  const minutes = Math.min(Math.max(Number(q.get('minutes') ?? 15) || 15, 1), 24 * 60);
  const ids = m.tasksOf(job.key).map((t) => escapeRegex(t.spec.id));
  const end = Date.now() / 1000;
  const step = Math.max(5, Math.round((minutes * 60) / 200));
  const range = async (metric: string): Promise<Series[]> => {
    if (!ids.length) return [];
    const query = `${metric}{task=~"${ids.join('|')}"}`;
    const url = `${prometheus}/api/v1/query_range?${new URLSearchParams({ query, start: String(end - minutes * 60), end: String(end), step: String(step) })}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`Prometheus answered ${res.status}`);
    const body = (await res.json()) as { data: { result: { metric: { task?: string }; values: [number, string][] }[] } };
    return body.data.result.map((r) => ({ task: r.metric.task ?? '?', times: r.values.map((v) => v[0]), values: r.values.map((v) => Number(v[1])) }));
  };
  try {
    const [cpu, memory] = await Promise.all([range('gitcell_task_cpu_millicores'), range('gitcell_task_memory_bytes')]);
    return { configured: true, cpu, memory, step };
  } catch (err) {
    return { configured: true, error: `Prometheus at ${prometheus}: ${errorMessage(err)}`, cpu: [], memory: [], step };
  }
}

/** Alerts is the overview's alert list: what `gitcell get alerts` shows, or why there is none. */
export type Alerts = { configured: false } | ({ configured: true } & Omit<MonitoringReport, 'endpoints'>);

/**
 * alerts reads the alerts as `gitcell get alerts` does (cli/monitoring-endpoints.ts readMonitoring):
 * Prometheus' firing and pending ones, marked silenced when Alertmanager suppresses them, or
 * Alertmanager's alone when Prometheus is down; `degraded` names a server that did not answer.
 */
export async function alerts(endpoints: MonitoringEndpoints): Promise<Alerts> {
  if (!endpoints.prometheus && !endpoints.alertmanager) return { configured: false };
  const { alerts: list, degraded } = await readMonitoring(endpoints);
  return { configured: true, alerts: list, degraded };
}
