/**
 * Monitoring in `gitcell up`: the reconciler and the scheduler serve /metrics and /healthz on ports
 * up chooses, the reconciler also serves Prometheus service discovery (/sd) and, while it leads,
 * writes the SLO rules and Alertmanager's configuration from Git (reconciler/monitor/config-sync.ts).
 * Debian's Prometheus and Alertmanager run under up's supervisor with their configuration and data
 * in <state>/prometheus and <state>/alertmanager; `--prometheus URL` uses an existing Prometheus
 * instead (it is then told nothing: point its http_sd_configs at the /sd URL up prints).
 * <state>/monitoring.json tells client commands (`get alerts`, `status`) where they are.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../lib/net.ts';
import { writeFileAtomicSync } from '../../lib/atomic-write.ts';
import {
  ALERTMANAGER_BIN, PROMETHEUS_BIN, SD_PATH, alertmanagerArgs, alertmanagerConfig, prometheusArgs, prometheusConfig, requireAlertmanager, requirePrometheus,
} from '../../reconciler/monitor/index.ts';
import { MONITORING_FILE, type MonitoringEndpoints } from '../monitoring-endpoints.ts';

/** UpMonitoring is where each endpoint of one `gitcell up` is. */
export interface UpMonitoring {
  reconcilerHttp: string;
  schedulerHttp: string;
  /** the discovery document Prometheus reads */
  sdUrl: string;
  /** the Prometheus the user opens (ours or --prometheus) */
  prometheusUrl: string;
  /** ours: how to run it (absent with --prometheus) */
  prometheus?: { command: string; args: string[] };
  /** ours: Alertmanager, how to run it, and the files the reconciler keeps up to date */
  alertmanager?: { url: string; command: string; args: string[] };
  /** the reconciler's flags writing the SLO rules and Alertmanager's configuration */
  reconcilerFlags: string[];
}

/** planMonitoring picks the ports and writes the first configurations (unless a Prometheus is given). */
export async function planMonitoring(stateDir: string, external?: string): Promise<UpMonitoring> {
  const reconcilerHttp = `127.0.0.1:${await freePort()}`;
  const schedulerHttp = `127.0.0.1:${await freePort()}`;
  const sdUrl = `http://${reconcilerHttp}${SD_PATH}`;
  if (external) {
    writeEndpoints(stateDir, { prometheus: external });
    return { reconcilerHttp, schedulerHttp, sdUrl, prometheusUrl: external, reconcilerFlags: [] };
  }
  const command = requirePrometheus(PROMETHEUS_BIN);
  const amCommand = requireAlertmanager(ALERTMANAGER_BIN);
  const dir = join(stateDir, 'prometheus');
  const amDir = join(stateDir, 'alertmanager');
  mkdirSync(join(dir, 'rules'), { recursive: true });
  mkdirSync(amDir, { recursive: true, mode: 0o700 });
  const rulesFile = join(dir, 'rules', 'slo.yml');
  writeFileSync(rulesFile, 'groups: []\n');
  const amConfigFile = join(amDir, 'alertmanager.yml');
  writeFileAtomicSync(amConfigFile, alertmanagerConfig([]), { mode: 0o600 });
  const listen = `127.0.0.1:${await freePort()}`;
  const amListen = `127.0.0.1:${await freePort()}`;
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig({ sdUrl, scrapeIntervalSeconds: 5, sdRefreshSeconds: 5, ruleFiles: [rulesFile], alertmanagers: [amListen] }));
  const prometheusUrl = `http://${listen}`;
  const alertmanagerUrl = `http://${amListen}`;
  writeEndpoints(stateDir, { prometheus: prometheusUrl, alertmanager: alertmanagerUrl });
  return {
    reconcilerHttp, schedulerHttp, sdUrl, prometheusUrl,
    prometheus: { command, args: prometheusArgs({ configFile, dir, listen }) },
    alertmanager: { url: alertmanagerUrl, command: amCommand, args: alertmanagerArgs({ configFile: amConfigFile, dir: amDir, listen: amListen }) },
    reconcilerFlags: ['--prometheus-rules', rulesFile, '--alertmanager-config', amConfigFile, '--alertmanager-url', alertmanagerUrl],
  };
}

function writeEndpoints(stateDir: string, e: MonitoringEndpoints): void {
  writeFileAtomicSync(join(stateDir, MONITORING_FILE), `${JSON.stringify(e)}\n`);
}
