// reconciler/monitor/: the reconciler's metrics and Prometheus service discovery (see sd.ts, serve.ts).
export { ReconcilerMetrics } from './metrics.ts';
export { startReconcilerMonitoring, SD_PATH, type ReconcilerMonitoringOptions } from './serve.ts';
export { discoverTargets, hostPortOf, METRICS_PORT_NAME, type SdTargetGroup, type SdInput, type ControlPlaneTarget } from './sd.ts';
export { prometheusConfig, prometheusArgs, requirePrometheus, PROMETHEUS_BIN, type PrometheusConfigOptions } from './prometheus.ts';
