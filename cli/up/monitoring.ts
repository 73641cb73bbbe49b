/**
 * Monitoring in `gitcell up`: the reconciler and the scheduler serve /metrics and /healthz on ports
 * up chooses, the reconciler also serves Prometheus service discovery (/sd), and Debian's
 * Prometheus runs under up's supervisor with its configuration and data in <state>/prometheus;
 * `--prometheus URL` uses an existing one instead (it is then told nothing: point its
 * http_sd_configs at the /sd URL up prints).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../lib/net.ts';
import { PROMETHEUS_BIN, SD_PATH, prometheusArgs, prometheusConfig, requirePrometheus } from '../../reconciler/monitor/index.ts';

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
}

/** planMonitoring picks the ports and writes Prometheus' configuration (unless one is given). */
export async function planMonitoring(stateDir: string, external?: string): Promise<UpMonitoring> {
  const reconcilerHttp = `127.0.0.1:${await freePort()}`;
  const schedulerHttp = `127.0.0.1:${await freePort()}`;
  const sdUrl = `http://${reconcilerHttp}${SD_PATH}`;
  if (external) return { reconcilerHttp, schedulerHttp, sdUrl, prometheusUrl: external };
  const command = requirePrometheus(PROMETHEUS_BIN);
  const dir = join(stateDir, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig({ sdUrl, scrapeIntervalSeconds: 5, sdRefreshSeconds: 5 }));
  const listen = `127.0.0.1:${await freePort()}`;
  return { reconcilerHttp, schedulerHttp, sdUrl, prometheusUrl: `http://${listen}`, prometheus: { command, args: prometheusArgs({ configFile, dir, listen }) } };
}
