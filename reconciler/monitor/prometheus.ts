/**
 * Prometheus, Debian's package, as gitcell's metrics engine: the configuration that points it at
 * the reconciler's service discovery, and the command line that runs it (by `gitcell up`, under
 * its supervisor, or by tests). Pure but for PROMETHEUS_BIN's existence check.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { ErrorCodes, UsageError } from '../../lib/index.ts';

/** PROMETHEUS_BIN is Debian's prometheus (override with GITCELL_PROMETHEUS). */
export const PROMETHEUS_BIN = process.env.GITCELL_PROMETHEUS ?? '/usr/bin/prometheus';

/** PrometheusConfigOptions: the discovery URL, how often to scrape and refresh, rule files. */
export interface PrometheusConfigOptions {
  sdUrl: string;
  scrapeIntervalSeconds?: number;
  /** how often Prometheus asks /sd again (the targets' refresh) */
  sdRefreshSeconds?: number;
  ruleFiles?: string[];
  /** Alertmanagers (host:port) the alerts go to */
  alertmanagers?: string[];
  /** Alertmanagers by URL (scheme, host:port and path prefix) the alerts go to */
  alertmanagerUrls?: string[];
  /** how often rules are evaluated (default: the scrape interval) */
  evaluationIntervalSeconds?: number;
}

/**
 * AGENT_TASK_RELABEL gives an agent's per-task series (gitcell_task_*) the task's own job and node:
 * they carry job="<gitcell job>", which Prometheus renamed exported_job because the agent target
 * has job="gitcell-agent". Only targets discovered as agents get this: every target has a
 * `component` label (sd.ts), so a task's own series cannot set it (its `component` becomes
 * exported_component) and a task cannot pose as another job.
 */
const AGENT_TASK_RELABEL = ['job', 'node'].flatMap((label) => [
  { source_labels: ['component', `exported_${label}`], regex: 'agent;(.+)', target_label: label, replacement: '$1' },
  { source_labels: ['component', `exported_${label}`], regex: 'agent;.+', target_label: `exported_${label}`, replacement: '' },
]);

/** alertmanagersOf lists the alerting section's Alertmanagers: host:port targets, and URLs with their scheme and path. */
function alertmanagersOf(o: PrometheusConfigOptions): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = o.alertmanagers?.length ? [{ static_configs: [{ targets: o.alertmanagers }] }] : [];
  for (const url of o.alertmanagerUrls ?? []) {
    const u = new URL(url);
    const path = u.pathname.replace(/\/$/, '');
    out.push({ scheme: u.protocol.slice(0, -1), ...(path ? { path_prefix: path } : {}), static_configs: [{ targets: [u.port ? u.host : `${u.host}:${u.protocol === 'https:' ? 443 : 80}`] }] });
  }
  return out;
}

/** prometheusConfig renders prometheus.yml: one scrape job fed by gitcell's HTTP service discovery. */
export function prometheusConfig(o: PrometheusConfigOptions): string {
  const interval = `${o.scrapeIntervalSeconds ?? 10}s`;
  return dump({
    global: { scrape_interval: interval, evaluation_interval: o.evaluationIntervalSeconds ? `${o.evaluationIntervalSeconds}s` : interval },
    ...(o.ruleFiles?.length ? { rule_files: o.ruleFiles } : {}),
    ...(o.alertmanagers?.length || o.alertmanagerUrls?.length ? { alerting: { alertmanagers: alertmanagersOf(o) } } : {}),
    scrape_configs: [
      {
        // Targets carry their own `job` label (the gitcell job, or gitcell-<component>): it wins over this name.
        job_name: 'gitcell',
        honor_labels: false,
        http_sd_configs: [{ url: o.sdUrl, refresh_interval: `${o.sdRefreshSeconds ?? 5}s` }],
        metric_relabel_configs: AGENT_TASK_RELABEL,
      },
    ],
  }, { lineWidth: 200 });
}

/** prometheusArgs is the command line for a Prometheus keeping its data in `dir` and listening on `listen`. */
export function prometheusArgs(o: { configFile: string; dir: string; listen: string; retention?: string }): string[] {
  return [
    `--config.file=${o.configFile}`,
    `--storage.tsdb.path=${join(o.dir, 'data')}`,
    `--storage.tsdb.retention.time=${o.retention ?? '2d'}`,
    `--web.listen-address=${o.listen}`,
    // POST /-/reload after rule files change (SLOs from Git).
    '--web.enable-lifecycle',
  ];
}

/** requirePrometheus fails with the package to install when the binary is missing. */
export function requirePrometheus(bin = PROMETHEUS_BIN): string {
  if (!existsSync(bin)) {
    throw new UsageError(ErrorCodes.Usage, `prometheus not found at ${bin}: install the Debian package prometheus (scripts/bootstrap.sh) or pass --prometheus URL`, { binary: bin });
  }
  return bin;
}
