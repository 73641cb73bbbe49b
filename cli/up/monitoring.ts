/**
 * Monitoring in `gitcell up`: the reconciler and the scheduler serve /metrics and /healthz on ports
 * up chooses, the reconciler also serves Prometheus service discovery (/sd) and, while it leads,
 * writes the SLO rules and Alertmanager's configuration from Git (reconciler/monitor/config-sync.ts).
 * Debian's Prometheus and Alertmanager run under up's supervisor with their configuration and data
 * in <state>/prometheus and <state>/alertmanager, unless existing ones are given:
 *
 * - `--prometheus URL`: nothing pushes rules into a Prometheus, so the reconciler writes the SLO rule
 *   file where that Prometheus reads it (`--prometheus-rules FILE`, default
 *   <state>/prometheus/rules/slo.yml, for the operator to mount or list in `rule_files`) and POSTs
 *   URL/-/reload (Prometheus needs --web.enable-lifecycle; otherwise it picks the file up on its own
 *   reload or SIGHUP). up writes <state>/prometheus/external.yml: the scrape job (/sd and the
 *   agents' relabeling), the rule file and the Alertmanager, to copy into that Prometheus' config.
 * - `--alertmanager URL`: up's Prometheus (if any) sends its alerts there, and the reconciler writes
 *   the Receivers' configuration to `--alertmanager-config FILE` (default
 *   <state>/alertmanager/alertmanager.yml, mode 0600: the file is gitcell's, rewritten from Git) and
 *   POSTs URL/-/reload.
 *
 * <state>/monitoring.json tells client commands (`get alerts`, `status`) where both are.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { freePort } from '../../lib/net.ts';
import { writeFileAtomicSync } from '../../lib/atomic-write.ts';
import {
  ALERTMANAGER_BIN, PROMETHEUS_BIN, SD_PATH, alertmanagerArgs, alertmanagerConfig, prometheusArgs, prometheusConfig, requireAlertmanager, requirePrometheus,
} from '../../reconciler/monitor/index.ts';
import { MONITORING_FILE, type MonitoringEndpoints } from '../monitoring-endpoints.ts';

/** ExternalMonitoring: existing servers `up` uses instead of starting its own, and the files they read. */
export interface ExternalMonitoring {
  prometheus?: string;
  /** with `prometheus`: the SLO rule file that Prometheus reads */
  prometheusRules?: string;
  alertmanager?: string;
  /** with `alertmanager`: the configuration file that Alertmanager reads (gitcell's: rewritten from Git) */
  alertmanagerConfig?: string;
}

/** UpMonitoring is where each endpoint of one `gitcell up` is. */
export interface UpMonitoring {
  reconcilerHttp: string;
  schedulerHttp: string;
  /** the discovery document Prometheus reads */
  sdUrl: string;
  /** the Prometheus the user opens (ours or --prometheus) */
  prometheusUrl: string;
  /** the Alertmanager alerts go to (ours or --alertmanager) */
  alertmanagerUrl: string;
  /** the SLO rule file the reconciler writes */
  rulesFile: string;
  /** with --prometheus: the configuration to copy into it */
  externalConfigFile?: string;
  /** ours: how to run it (absent with --prometheus) */
  prometheus?: { command: string; args: string[] };
  /** ours: how to run Alertmanager (absent with --alertmanager) */
  alertmanager?: { command: string; args: string[] };
  /** the reconciler's flags writing the SLO rules and Alertmanager's configuration */
  reconcilerFlags: string[];
}

/** planMonitoring picks the ports and writes the first configurations of the servers up starts. */
export async function planMonitoring(stateDir: string, ext: ExternalMonitoring = {}): Promise<UpMonitoring> {
  const reconcilerHttp = `127.0.0.1:${await freePort()}`;
  const schedulerHttp = `127.0.0.1:${await freePort()}`;
  const sdUrl = `http://${reconcilerHttp}${SD_PATH}`;
  const dir = join(stateDir, 'prometheus');
  const amDir = join(stateDir, 'alertmanager');
  const rulesFile = resolve(ext.prometheusRules ?? join(dir, 'rules', 'slo.yml'));
  const amConfigFile = resolve(ext.alertmanagerConfig ?? join(amDir, 'alertmanager.yml'));
  mkdirSync(dirname(rulesFile), { recursive: true });
  mkdirSync(dirname(amConfigFile), { recursive: true, mode: 0o700 });
  const am = ext.alertmanager ? { url: ext.alertmanager.replace(/\/$/, '') } : await ownAlertmanager(amDir, amConfigFile);
  const prom = ext.prometheus ? { url: ext.prometheus.replace(/\/$/, '') } : await ownPrometheus(dir, { sdUrl, rulesFile, alertmanagerUrl: am.url });
  let externalConfigFile: string | undefined;
  if (ext.prometheus) {
    mkdirSync(dir, { recursive: true });
    externalConfigFile = join(dir, 'external.yml');
    writeFileSync(externalConfigFile, `# gitcell up: what ${prom.url} needs to scrape this cluster and evaluate its SLOs (copy into its configuration)\n`
      + prometheusConfig({ sdUrl, scrapeIntervalSeconds: 5, sdRefreshSeconds: 5, ruleFiles: [rulesFile], alertmanagerUrls: [am.url] }));
  }
  writeEndpoints(stateDir, { prometheus: prom.url, alertmanager: am.url });
  return {
    reconcilerHttp, schedulerHttp, sdUrl, prometheusUrl: prom.url, alertmanagerUrl: am.url, rulesFile,
    ...(externalConfigFile ? { externalConfigFile } : {}),
    ...('run' in prom ? { prometheus: prom.run } : {}),
    ...('run' in am ? { alertmanager: am.run } : {}),
    reconcilerFlags: ['--prometheus-rules', rulesFile, '--alertmanager-config', amConfigFile, '--alertmanager-url', am.url],
  };
}

/** ownAlertmanager: up's Alertmanager, routing nothing until the reconciler writes the Receivers. */
async function ownAlertmanager(amDir: string, configFile: string): Promise<{ url: string; run: { command: string; args: string[] } }> {
  const command = requireAlertmanager(ALERTMANAGER_BIN);
  writeFileAtomicSync(configFile, alertmanagerConfig([]), { mode: 0o600 });
  const listen = `127.0.0.1:${await freePort()}`;
  return { url: `http://${listen}`, run: { command, args: alertmanagerArgs({ configFile, dir: amDir, listen }) } };
}

/** ownPrometheus: up's Prometheus, scraping /sd, with an empty rule file until the reconciler writes the SLOs. */
async function ownPrometheus(dir: string, o: { sdUrl: string; rulesFile: string; alertmanagerUrl: string }): Promise<{ url: string; run: { command: string; args: string[] } }> {
  const command = requirePrometheus(PROMETHEUS_BIN);
  writeFileSync(o.rulesFile, 'groups: []\n');
  const listen = `127.0.0.1:${await freePort()}`;
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig({ sdUrl: o.sdUrl, scrapeIntervalSeconds: 5, sdRefreshSeconds: 5, ruleFiles: [o.rulesFile], alertmanagerUrls: [o.alertmanagerUrl] }));
  return { url: `http://${listen}`, run: { command, args: prometheusArgs({ configFile, dir, listen }) } };
}

function writeEndpoints(stateDir: string, e: MonitoringEndpoints): void {
  writeFileAtomicSync(join(stateDir, MONITORING_FILE), `${JSON.stringify(e)}\n`);
}

/** monitoringLines: where Prometheus and Alertmanager are, and for an external Prometheus what it must read. */
export function monitoringLines(m: UpMonitoring, find: string): string[] {
  return [
    `  prometheus   ${m.prometheusUrl}   (${m.prometheus ? `targets from ${m.sdUrl}` : `external: add ${m.externalConfigFile} to its configuration; SLO rules in ${m.rulesFile}`})`,
    `  alertmanager ${m.alertmanagerUrl}   (${m.alertmanager ? '' : 'external; '}alerts: npx gitcell get alerts ${find})`,
  ];
}
