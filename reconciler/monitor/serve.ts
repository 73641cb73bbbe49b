/**
 * The reconciler's monitoring endpoint: /metrics, /healthz, and /sd, Prometheus HTTP service
 * discovery (sd.ts) over informers of the nodes, tasks and status buckets, so a refresh reads
 * memory, never the store.
 */
import type { NodeRecord, TaskSpec, TaskStatus } from '../../api/index.ts';
import { serveMonitoring, type HealthCheck, type Logger, type MonitoringEndpoint } from '../../lib/index.ts';
import { Informer, type RoBucket } from '../../store/index.ts';
import type { ReconcilerMetrics } from './metrics.ts';
import { discoverTargets, hostPortOf, type ControlPlaneTarget } from './sd.ts';

/** SD_PATH is where the discovery document is served. */
export const SD_PATH = '/sd';

/** ReconcilerMonitoringOptions: where to listen, what to read, which other components to list. */
export interface ReconcilerMonitoringOptions {
  host: string;
  port: number;
  metrics: ReconcilerMetrics;
  health: HealthCheck;
  store: { nodes: RoBucket<NodeRecord>; tasks: RoBucket<TaskSpec>; status: RoBucket<TaskStatus> };
  /** other control-plane endpoints to list (the scheduler's), as http://host:port */
  scrape?: { component: string; url: string }[];
  signal: AbortSignal;
  log: Logger;
}

/** startReconcilerMonitoring serves the endpoint until the signal aborts (then close it). */
export async function startReconcilerMonitoring(o: ReconcilerMonitoringOptions): Promise<MonitoringEndpoint> {
  const follow = { signal: o.signal, log: o.log };
  const nodes = new Informer<NodeRecord>(o.store.nodes, follow);
  const tasks = new Informer<TaskSpec>(o.store.tasks, follow);
  const statuses = new Informer<TaskStatus>(o.store.status, follow);
  let self: string | undefined;
  const endpoint = await serveMonitoring({
    registry: o.metrics.registry,
    health: o.health,
    host: o.host,
    port: o.port,
    routes: {
      [SD_PATH]: async () => {
        await Promise.all([nodes.synced, tasks.synced, statuses.synced]);
        const controlPlane: ControlPlaneTarget[] = [
          ...(self ? [{ component: 'reconciler', address: self }] : []),
          ...(o.scrape ?? []).flatMap((s) => {
            const address = hostPortOf(s.url);
            return address ? [{ component: s.component, address }] : [];
          }),
        ];
        return discoverTargets({ controlPlane, nodes: nodes.values(), tasks: tasks.values(), statuses: statuses.values() });
      },
    },
  });
  self = hostPortOf(endpoint.url);
  return endpoint;
}
