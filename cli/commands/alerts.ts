/**
 * `gitcell get alerts`: the alerts of the cluster's Prometheus (firing, pending, silenced in
 * Alertmanager), and `status`'s monitoring section: firing alerts, or "monitoring degraded" when
 * Prometheus or Alertmanager cannot be reached (the cluster runs on; nothing is evaluated).
 */
import { DEFAULT_STATE_DIR } from '../../store/index.ts';
import { age, table, type ClientOptions } from '../client.ts';
import { renderListing, type Output } from '../output.ts';
import { readMonitoring, readMonitoringEndpoints, type AlertView, type MonitoringReport } from '../monitoring-endpoints.ts';

/** ALERT_KIND_NAMES are how `get` is asked for alerts. */
export const ALERT_KIND_NAMES = ['alerts', 'alert'];

/** getAlerts prints the alerts; exit 1 when no monitoring is known or all of it is down. */
export async function getAlerts(opts: ClientOptions & { namespace?: string; allNamespaces?: boolean }, out: Output): Promise<void> {
  const endpoints = readMonitoringEndpoints(opts.clusterDir ?? DEFAULT_STATE_DIR);
  if (!endpoints.prometheus && !endpoints.alertmanager) {
    process.stderr.write('gitcell: no Prometheus or Alertmanager known: run `gitcell up` (it writes <cluster-dir>/monitoring.json) or set GITCELL_PROMETHEUS_URL\n');
    process.exitCode = 1;
    return;
  }
  const report = await readMonitoring(endpoints);
  const alerts = report.alerts.filter((a) => opts.allNamespaces || !opts.namespace || a.labels.namespace === opts.namespace);
  process.stdout.write(renderListing({
    head: ['NAME', 'STATE', 'SEVERITY', 'NAMESPACE', 'JOB', 'SLO', 'SINCE', 'SUMMARY'],
    rows: alerts.map((a) => ({ name: `alert/${a.name}`, cells: alertCells(a) })),
    json: alerts,
  }, out));
  for (const d of report.degraded) process.stderr.write(`gitcell: monitoring degraded: ${d}\n`);
  if (!alerts.length && (out.format === 'table' || out.format === 'wide')) process.stderr.write('no alerts\n');
  if (report.degraded.length === [endpoints.prometheus, endpoints.alertmanager].filter(Boolean).length) process.exitCode = 1;
}

function alertCells(a: AlertView): string[] {
  return [a.name, a.state, a.labels.severity ?? '-', a.labels.namespace ?? '-', a.labels.job ?? '-', a.labels.slo ?? '-', age(a.since), a.summary];
}

/** monitoringSection is `status`'s lines about monitoring; empty when none is known. */
export async function monitoringSection(stateDir: string | undefined): Promise<{ text: string; report?: MonitoringReport }> {
  const endpoints = readMonitoringEndpoints(stateDir ?? DEFAULT_STATE_DIR);
  if (!endpoints.prometheus && !endpoints.alertmanager) return { text: '' };
  const report = await readMonitoring(endpoints);
  const lines: string[] = [];
  if (report.degraded.length) {
    lines.push('monitoring degraded (the cluster runs on; alerts are not evaluated or not delivered):');
    for (const d of report.degraded) lines.push(`  ${d}`);
  } else lines.push(`monitoring: Prometheus ${endpoints.prometheus ?? '-'}, Alertmanager ${endpoints.alertmanager ?? '-'}`);
  const firing = report.alerts.filter((a) => a.state === 'firing');
  lines.push(firing.length ? `firing alerts: ${firing.length}` : 'firing alerts: none');
  const text = `${lines.join('\n')}\n${firing.length ? table(['NAME', 'SEVERITY', 'NAMESPACE', 'JOB', 'SLO', 'SINCE', 'SUMMARY'], firing.map((a) => alertCells(a).filter((_, i) => i !== 1))) : ''}`;
  return { text, report };
}
