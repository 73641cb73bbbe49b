// reconciler/monitor/: the reconciler's metrics, Prometheus service discovery, SLO rules (see README.md).
export { ReconcilerMetrics } from './metrics.ts';
export { startReconcilerMonitoring, SD_PATH, type ReconcilerMonitoringOptions } from './serve.ts';
export { discoverTargets, hostPortOf, METRICS_PORT_NAME, type SdTargetGroup, type SdInput, type ControlPlaneTarget } from './sd.ts';
export { prometheusConfig, prometheusArgs, requirePrometheus, PROMETHEUS_BIN, type PrometheusConfigOptions } from './prometheus.ts';
export { sloRulesFile, sloRuleGroup, sloWindows, errorRatio, presence, promDuration, withMatchers, ERROR_RATIO_RECORD, SLO_ALERTS, BURN_RATES, type RuleGroup, type SloRulesOptions } from './slo-rules.ts';
export { alertmanagerConfig, alertmanagerArgs, requireAlertmanager, alertReceiverName, ALERTMANAGER_BIN, NULL_RECEIVER, type AlertReceiver, type AlertRouting } from './alertmanager.ts';
export { runMonitoringConfig, type MonitoringConfigOptions, type ConfigTarget } from './config-sync.ts';
