import type { Command } from 'commander';
import { exitOnStoreReset } from '../store-reset.ts';
import { componentLife } from '../../lib/component-life.ts';
import { DEFAULT_RENEWALS_PER_S, NODE_LEASE_RENEW_MS } from '../../api/node-liveness.ts';

/** usage ends the command with exit code 2 and the message (commander prints it). */
function usage(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: 2, code: ErrorCodes.Usage });
}
import { createLogger, errorMessage, ErrorCodes, parseHostPort, serveMonitoring, type MonitoringEndpoint } from '../../lib/index.ts';
import { connectFromOptions, openClusterStore, parseReplicas, replicasFor, splitServers } from '../../store/index.ts';
import { modeOptions, SchedulerMetrics, SchedulerService } from '../../scheduler/index.ts';
import { addClusterOptions, addModeOption, parseMode } from '../options.ts';

interface SchedulerFlags {
  nats?: string;
  clusterDir: string;
  creds?: string;
  prefix: string;
  replicas?: string;
  identity?: string;
  mode: string;
  leaseMs: string;
  heartbeatGraceMs?: string;
  requeueGraceMs?: string;
  minHeartbeatMs: string;
  heartbeatsPerS: string;
  http?: string;
}

function ms(cmd: Command, flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) usage(cmd, `${flag}: "${value}" is not a positive number of ms`);
  return n;
}

/**
 * registerScheduler adds `gitcell scheduler`: the scheduler service. It runs for leadership (one
 * active replica per cluster), then binds pending tasks until SIGINT or SIGTERM.
 */
export function registerScheduler(program: Command): void {
  addModeOption(addClusterOptions(program.command('scheduler')))
    .description('run the scheduler service: bind pending tasks to nodes (one active replica, by leader election)')
    .option('--replicas <n>', 'replicas of the buckets and streams it creates or scales (default: 3 when the server is in a cluster of 3 or more, else 1; give every component the same)')
    .option('--identity <name>', 'name of this replica (default host-pid-random)')
    .option('--lease-ms <ms>', 'leader lease period', '15000')
    .option('--heartbeat-grace-ms <ms>', 'a node whose heartbeat is older takes no new tasks (default: the published grace: two renewal periods and --min-heartbeat-ms, at least four of those)')
    .option('--requeue-grace-ms <ms>', 'a node whose heartbeat is older loses its tasks to pending (default: the heartbeat grace)')
    .option('--min-heartbeat-ms <ms>', 'the shortest lease renewal period the leader publishes', String(NODE_LEASE_RENEW_MS))
    .option('--heartbeats-per-s <n>', 'lease renewals per second the whole cluster may make: the published period is max(--min-heartbeat-ms, nodes / this), as Nomad\'s max_heartbeats_per_second', String(DEFAULT_RENEWALS_PER_S))
    .option('--http <host:port>', '/metrics and /healthz here (off when not given)')
    .action(async (flags: SchedulerFlags, cmd: Command) => {
      const mode = parseMode(flags.mode);
      const timings = {
        ...(flags.heartbeatGraceMs !== undefined ? { heartbeatGraceMs: ms(cmd, '--heartbeat-grace-ms', flags.heartbeatGraceMs) } : {}),
        ...(flags.requeueGraceMs !== undefined ? { requeueGraceMs: ms(cmd, '--requeue-grace-ms', flags.requeueGraceMs) } : {}),
      };
      if (timings.requeueGraceMs !== undefined && timings.heartbeatGraceMs !== undefined && timings.requeueGraceMs < timings.heartbeatGraceMs) {
        usage(cmd, '--requeue-grace-ms must be at least --heartbeat-grace-ms');
      }
      const liveness = { minPeriodMs: ms(cmd, '--min-heartbeat-ms', flags.minHeartbeatMs), renewalsPerS: Number(flags.heartbeatsPerS) };
      if (!(liveness.renewalsPerS > 0)) usage(cmd, `--heartbeats-per-s: "${flags.heartbeatsPerS}" is not a positive number`);
      const leaseMs = ms(cmd, '--lease-ms', flags.leaseMs);
      const http = flags.http === undefined ? undefined : parseHostPort(flags.http, '--http');
      const wanted = flags.replicas === undefined ? undefined : parseReplicas(flags.replicas);
      const log = createLogger('scheduler');
      const nc = await connectFromOptions({ ...(flags.nats ? { nats: flags.nats } : {}), stateDir: flags.clusterDir, ...(flags.creds ? { creds: flags.creds } : {}), name: 'gitcell scheduler' });
      const replicas = wanted ?? replicasFor(nc, flags.nats ? splitServers(flags.nats).length : 1);
      let endpoint: MonitoringEndpoint | undefined;
      try {
        const store = await openClusterStore(nc, { prefix: flags.prefix, replicas, log });
        const service = new SchedulerService(store, {
          ...(flags.identity ? { identity: flags.identity } : {}),
          leaseMs,
          timings,
          liveness,
          core: modeOptions(mode),
          log,
        });
        const metrics = new SchedulerMetrics();
        service.start((report) => metrics.observePass(report));
        endpoint = http ? await serveMonitoring({ registry: metrics.registry, health: () => (nc.isClosed() ? 'NATS connection closed' : undefined), ...http }) : undefined;
        // NATS lost its data: start over (the supervisor or systemd restarts us) on the new buckets.
        await exitOnStoreReset(nc, { prefix: flags.prefix, log, component: 'scheduler' });
        log.info({ identity: service.options.identity, mode: flags.mode, replicas, http: endpoint?.url }, 'scheduler: started, running for leadership');
        await componentLife().stopping;
        await service.stop();
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'scheduler: failed');
        throw err;
      } finally {
        await endpoint?.close();
        await nc.close();
      }
    });
}
