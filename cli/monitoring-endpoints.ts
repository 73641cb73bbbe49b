/**
 * Where a cluster's Prometheus and Alertmanager are, for the client commands (`get alerts`,
 * `status`): <cluster-dir>/monitoring.json, which `gitcell up` writes, or GITCELL_PROMETHEUS_URL and
 * GITCELL_ALERTMANAGER_URL. And what they say: the alerts (Prometheus' firing and pending ones,
 * marked silenced when Alertmanager suppresses them; Alertmanager's alone when Prometheus is down)
 * and which of them is down ("monitoring degraded": the cluster runs on, nothing is evaluated).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR } from '../store/index.ts';
import { errorMessage } from '../lib/errors.ts';

/** MONITORING_FILE is the endpoints file in a state dir. */
export const MONITORING_FILE = 'monitoring.json';

/** MonitoringEndpoints: base URLs, each optional. */
export interface MonitoringEndpoints {
  prometheus?: string;
  alertmanager?: string;
}

/** readMonitoringEndpoints reads the environment, else the state dir's file; empty when neither says. */
export function readMonitoringEndpoints(stateDir = DEFAULT_STATE_DIR, env = process.env): MonitoringEndpoints {
  let file: MonitoringEndpoints = {};
  try {
    const parsed = JSON.parse(readFileSync(join(stateDir, MONITORING_FILE), 'utf8')) as MonitoringEndpoints;
    file = { ...(typeof parsed.prometheus === 'string' ? { prometheus: parsed.prometheus } : {}), ...(typeof parsed.alertmanager === 'string' ? { alertmanager: parsed.alertmanager } : {}) };
  } catch {
    // no file: no monitoring known
  }
  const prometheus = env.GITCELL_PROMETHEUS_URL ?? file.prometheus;
  const alertmanager = env.GITCELL_ALERTMANAGER_URL ?? file.alertmanager;
  return { ...(prometheus ? { prometheus } : {}), ...(alertmanager ? { alertmanager } : {}) };
}

/** AlertView is one alert as the CLI shows it. */
export interface AlertView {
  name: string;
  /** firing, pending (its `for` not yet over), or silenced (firing, suppressed by Alertmanager) */
  state: 'firing' | 'pending' | 'silenced';
  labels: Record<string, string>;
  summary: string;
  since: string;
}

/** MonitoringReport: the alerts and what is unreachable. */
export interface MonitoringReport {
  endpoints: MonitoringEndpoints;
  alerts: AlertView[];
  /** "Prometheus http://...: reason", one per server down */
  degraded: string[];
}

const TIMEOUT_MS = 3000;

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 200).trim()}`);
  return (await res.json()) as T;
}

interface PromAlert { labels: Record<string, string>; annotations: Record<string, string>; state: string; activeAt?: string }
interface AmAlert { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; status: { state: string } }

const labelKey = (l: Record<string, string>): string => JSON.stringify(Object.entries(l).filter(([k]) => k !== 'alertstate').sort());

/** readMonitoring asks Prometheus and Alertmanager (each with a deadline) for the alerts. */
export async function readMonitoring(e: MonitoringEndpoints): Promise<MonitoringReport> {
  const degraded: string[] = [];
  const [prom, am] = await Promise.all([
    e.prometheus ? getJson<{ data: { alerts: PromAlert[] } }>(`${e.prometheus}/api/v1/alerts`).then((r) => r.data.alerts, (err: unknown) => {
      degraded.push(`Prometheus ${e.prometheus}: ${errorMessage(err)}`);
      return undefined;
    }) : undefined,
    e.alertmanager ? getJson<AmAlert[]>(`${e.alertmanager}/api/v2/alerts`).catch((err: unknown) => {
      degraded.push(`Alertmanager ${e.alertmanager}: ${errorMessage(err)}`);
      return undefined;
    }) : undefined,
  ]);
  const suppressed = new Set((am ?? []).filter((a) => a.status.state === 'suppressed').map((a) => labelKey(a.labels)));
  const alerts: AlertView[] = prom
    ? prom.map((a) => ({
      name: a.labels.alertname ?? '',
      state: a.state === 'pending' ? 'pending' : suppressed.has(labelKey(a.labels)) ? 'silenced' : 'firing',
      labels: a.labels, summary: a.annotations.summary ?? a.annotations.description ?? '', since: a.activeAt ?? '',
    }))
    : (am ?? []).map((a) => ({ name: a.labels.alertname ?? '', state: a.status.state === 'suppressed' ? 'silenced' : 'firing', labels: a.labels, summary: a.annotations.summary ?? '', since: a.startsAt }));
  alerts.sort((a, b) => a.name.localeCompare(b.name) || labelKey(a.labels).localeCompare(labelKey(b.labels)));
  return { endpoints: e, alerts, degraded };
}
