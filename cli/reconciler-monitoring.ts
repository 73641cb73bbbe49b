/**
 * `gitcell reconciler --http HOST:PORT [--scrape COMPONENT=URL...]`: the replica's /metrics,
 * /healthz and /sd (Prometheus HTTP service discovery of the whole cluster) endpoint, wired to the
 * service's hooks. Without --http nothing listens and the hooks are no-ops.
 */
import { parseHostPort, UsageError, ErrorCodes, type Logger, type MonitoringEndpoint } from '../lib/index.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { resolve } from 'node:path';
import { ReconcilerMetrics, startReconcilerMonitoring, type MonitoringConfigOptions, type ReconcilerMonitoringOptions, type ReconcileOutcome, type RollbackOutcome, type DeliveryResult } from '../reconciler/index.ts';

/** MonitoringFlags are the reconciler's monitoring flags as commander parsed them. */
export interface MonitoringFlags {
  http?: string;
  scrape?: string[];
  prometheusRules?: string;
  /** the Prometheus reloaded after the rules change (also the autoscaler's) */
  prometheusUrl?: string;
  alertmanagerConfig?: string;
  alertmanagerUrl?: string;
  /** the shortest SLO burn-rate window in seconds (tests: a few scrape intervals) */
  sloMinWindow?: string;
}

/** monitoringConfigTargets turns the flags into runMonitoringConfig's files (undefined: none given). */
export function monitoringConfigTargets(f: MonitoringFlags): Pick<MonitoringConfigOptions, 'rules' | 'alertmanager'> | undefined {
  if (!f.prometheusRules && !f.alertmanagerConfig) return undefined;
  const minWindow = f.sloMinWindow === undefined ? undefined : Number(f.sloMinWindow);
  if (minWindow !== undefined && !(Number.isInteger(minWindow) && minWindow >= 1)) throw new UsageError(ErrorCodes.Usage, `--slo-min-window ${f.sloMinWindow}: expected whole seconds >= 1`, { flag: '--slo-min-window' });
  const url = (v: string | undefined, flag: string): string | undefined => {
    if (v !== undefined && !/^https?:\/\/\S+$/.test(v)) throw new UsageError(ErrorCodes.Usage, `${flag} "${v}": expected http://host:port`, { flag });
    return v?.replace(/\/$/, '');
  };
  const promUrl = url(f.prometheusUrl, '--prometheus-url');
  const amUrl = url(f.alertmanagerUrl, '--alertmanager-url');
  return {
    ...(f.prometheusRules ? { rules: { file: resolve(f.prometheusRules), ...(promUrl ? { url: promUrl } : {}), ...(minWindow ? { minWindowSeconds: minWindow, evaluationIntervalSeconds: Math.max(1, Math.floor(minWindow / 4)) } : {}) } } : {}),
    ...(f.alertmanagerConfig ? { alertmanager: { file: resolve(f.alertmanagerConfig), ...(amUrl ? { url: amUrl } : {}), ...(minWindow ? { routing: { groupWaitSeconds: 1, groupIntervalSeconds: Math.max(1, minWindow), repeatIntervalSeconds: 3600 } } : {}) } } : {}),
  };
}

/** ReconcilerMonitoring is the running endpoint (if any) and the hooks feeding its metrics. */
export interface ReconcilerMonitoring {
  url: string | undefined;
  onReconciled(source: string, outcome: ReconcileOutcome): void;
  onRollback(source: string, outcome: RollbackOutcome): void;
  onNotification(receiver: string, r: DeliveryResult): void;
  setLeader(leading: boolean): void;
  close(): Promise<void>;
}

/** parseScrape reads `component=http://host:port` flags; E_USAGE naming the flag otherwise. */
export function parseScrape(values: readonly string[]): { component: string; url: string }[] {
  return values.map((v) => {
    const m = /^([a-z][a-z0-9-]*)=(https?:\/\/\S+)$/.exec(v);
    if (!m) throw new UsageError(ErrorCodes.Usage, `--scrape "${v}": expected component=http://host:port, e.g. scheduler=http://127.0.0.1:9471`, { flag: '--scrape' });
    return { component: m[1]!, url: m[2]! };
  });
}

/** checkMonitoringFlags validates the flags before anything is opened (a usage error at once). */
export function checkMonitoringFlags(f: MonitoringFlags): void {
  if (f.http) parseHostPort(f.http, '--http');
  parseScrape(f.scrape ?? []);
  monitoringConfigTargets(f);
}

/** startMonitoring listens when --http is given; `store` is read for discovery. */
export async function startMonitoring(f: MonitoringFlags, store: ReconcilerMonitoringOptions['store'], nc: NatsConnection, log: Logger): Promise<ReconcilerMonitoring> {
  const metrics = new ReconcilerMetrics();
  const ac = new AbortController();
  let endpoint: MonitoringEndpoint | undefined;
  if (f.http) {
    const { host, port } = parseHostPort(f.http, '--http');
    endpoint = await startReconcilerMonitoring({
      host, port, metrics, store, signal: ac.signal, log, scrape: parseScrape(f.scrape ?? []),
      health: () => (nc.isClosed() ? 'NATS connection closed' : undefined),
    });
    log.info({ url: endpoint.url }, 'reconciler: metrics, health and service discovery served');
  }
  return {
    url: endpoint?.url,
    onReconciled: (source, outcome) => metrics.observeReconcile(source, outcome),
    onRollback: (source, outcome) => metrics.observeRollback(source, outcome),
    onNotification: (receiver, r) => metrics.observeNotification(receiver, r),
    setLeader: (leading) => metrics.leader.set(leading ? 1 : 0),
    async close() {
      ac.abort();
      await endpoint?.close();
    },
  };
}
