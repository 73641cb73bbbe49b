import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../../lib/errors.ts';
import { EMBEDDED_TLS_DIR, ensureNatsTls, parseReplicas } from '../../store/index.ts';
import { addClusterOptions, CLUSTER_DIR_DEFAULT } from '../options.ts';
import { hostAgents, type AgentsSpec } from '../up/host.ts';
import { createLogger } from '../../lib/log.ts';
import { componentLife } from '../../lib/component-life.ts';
import type { ExternalMonitoring } from '../up/monitoring.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

interface UpFlags {
  repo: string;
  nodes: string;
  nats?: string;
  creds?: string;
  autoscalerCreds?: string;
  replicas?: string;
  clusterDir: string;
  prefix: string;
  capacity: string;
  view?: boolean;
  subnetBase: string;
  prometheus?: string;
  prometheusRules?: string;
  alertmanager?: string;
  alertmanagerConfig?: string;
  isolatedNodes?: boolean;
  hostAgents?: string;
}

/**
 * registerUp adds `gitcell up`: the embedded NATS server (with per-node credentials), the
 * reconciler following a repository, the scheduler and N local agents, supervised until Ctrl-C.
 */
export function registerUp(program: Command): void {
  addClusterOptions(program.command('up'), {
    nats: 'connect to an existing NATS cluster (comma-separated URLs) instead of starting one',
    natsFromEnv: false,
    creds: 'with --nats: credentials (.creds file or nkey seed) for up and every component it starts',
    clusterDir: CLUSTER_DIR_DEFAULT,
    clusterDirHelp: 'the cluster\'s directory: NATS data, credentials, repository, images, logs (or GITCELL_CLUSTER_DIR)',
  })
    .description('run the whole cluster on this machine, following a Git repository')
    .option('--repo <path|url>', 'repository to follow; a plain directory (default sample-repo) is copied into <cluster-dir>/repo and committed on first run', 'sample-repo')
    .option('--nodes <n>', 'number of simulated nodes', '3')
    .option('--autoscaler-creds <file>', 'with --nats: credentials of the autoscaler identity, the only one that may write live replica counts (scripts/nats-auth.ts makes nats/autoscaler.nk); without it the reconciler\'s autoscaler uses --creds')
    .option('--replicas <n>', 'replicas of every bucket and stream (default 1 embedded; with --nats 3 when the server is in a cluster of 3 or more, else 1)')
    .option('--capacity <cpu=N,memory=Q>', 'capacity of each simulated node', 'cpu=1,memory=1Gi')
    .option('--subnet-base <a.b>', 'the control plane gives each node a /24 task subnet of <a.b>.0.0/16', '10.88')
    .option('--isolated-nodes', 'each node in a network namespace of its own, as its own machine, on an underlay bridge where NATS listens (the cross-machine network for real)')
    .option('--no-view', 'no live view, even on a TTY (periodic log lines instead)')
    .option('--prometheus <url>', 'use this Prometheus instead of starting one: up writes <cluster-dir>/prometheus/external.yml (scrape job on /sd, rule file, Alertmanager) to add to its configuration')
    .option('--prometheus-rules <file>', 'with --prometheus: the SLO rule file that Prometheus reads (the reconciler writes it and POSTs <url>/-/reload; default <cluster-dir>/prometheus/rules/slo.yml)')
    .option('--alertmanager <url>', 'use this Alertmanager instead of starting one')
    .option('--alertmanager-config <file>', 'with --alertmanager: the configuration file it reads, rewritten (mode 0600) from the Receivers in Git, then <url>/-/reload (default <cluster-dir>/alertmanager/alertmanager.yml)')
    // How `up` runs its agents: one process for all of them (cli/up/host.ts), started with this.
    .addOption(new Option('--host-agents <file>', 'internal: run the agents listed in FILE in this process').hideHelp())
    .action(async (f: UpFlags) => {
      if (f.hostAgents) {
        const spec = JSON.parse(readFileSync(f.hostAgents, 'utf8')) as AgentsSpec;
        return hostAgents(spec, createLogger('agents'), componentLife().stopping);
      }
      const nodes = Number(f.nodes);
      if (!Number.isInteger(nodes) || nodes < 1) throw new UsageError(ErrorCodes.Usage, `--nodes "${f.nodes}": expected a positive whole number`, { flag: '--nodes' });
      if (!/^\d{1,3}\.\d{1,3}$/.test(f.subnetBase) || f.subnetBase.split('.').some((n) => Number(n) > 255)) {
        throw new UsageError(ErrorCodes.Usage, `--subnet-base "${f.subnetBase}": expected two octets like 10.88`, { flag: '--subnet-base' });
      }
      if (f.autoscalerCreds && !f.nats) throw new UsageError(ErrorCodes.Usage, '--autoscaler-creds needs --nats: the embedded server uses the autoscaler credentials gitcell up makes in the cluster dir', { flag: '--autoscaler-creds' });
      if (f.isolatedNodes && f.nats) throw new UsageError(ErrorCodes.Usage, '--isolated-nodes needs the embedded NATS server (it listens on the nodes\' underlay): drop --nats', { flag: '--isolated-nodes' });
      if (f.creds && !f.nats) throw new UsageError(ErrorCodes.Usage, '--creds needs --nats: the embedded server uses the credentials gitcell up makes in the cluster dir', { flag: '--creds' });
      const replicas = f.replicas === undefined ? undefined : parseReplicas(f.replicas);
      if (replicas !== undefined && replicas > 1 && !f.nats) {
        throw new UsageError(ErrorCodes.Usage, `--replicas ${replicas} needs --nats: the embedded server is a single server (R1)`, { flag: '--replicas' });
      }
      const external = externalMonitoring(f);
      if (nodes > 254) throw new UsageError(ErrorCodes.Usage, `--nodes ${nodes}: at most 254 (one /24 per node)`, { flag: '--nodes' });
      // The cluster's key ring is opened (a new one: an X25519 pair, Keyring.openUp) while up's own
      // modules load: the repository's Secrets wait for it.
      const clusterKey = process.getuid?.() === 0 ? import('../../secrets/index.ts').then(({ Keyring }) => Keyring.openUp(resolve(f.clusterDir))) : undefined;
      clusterKey?.catch(() => undefined);
      // So are the embedded server's TLS certificates (three openssl runs, ~0.1-0.15 s, on up's path
      // to NATS); with --isolated-nodes they name the underlay gateway too, and wait for run.ts.
      const natsTls = process.getuid?.() === 0 && !f.nats && !f.isolatedNodes ? ensureNatsTls(join(resolve(f.clusterDir), EMBEDDED_TLS_DIR)) : undefined;
      natsTls?.catch(() => undefined);
      // Loaded here: the agents' process (--host-agents) needs none of up's own modules.
      const { runUp } = await import('../up/run.ts');
      await runUp({
        ...(clusterKey ? { clusterKey } : {}),
        ...(natsTls ? { natsTls } : {}),
        subnetBase: f.subnetBase,
        repo: f.repo,
        nodes,
        ...(f.nats ? { nats: f.nats } : {}),
        ...(f.creds ? { creds: resolve(f.creds) } : {}),
        ...(f.autoscalerCreds ? { autoscalerCreds: resolve(f.autoscalerCreds) } : {}),
        ...(replicas !== undefined ? { replicas } : {}),
        stateDir: f.clusterDir,
        prefix: f.prefix,
        capacity: f.capacity,
        tty: f.view !== false && process.stdout.isTTY === true,
        external,
        ...(f.isolatedNodes ? { isolatedNodes: true } : {}),
      });
    });
}

/** externalMonitoring checks the flags of existing monitoring servers: URLs, and each file flag only with its server. */
function externalMonitoring(f: UpFlags): ExternalMonitoring {
  for (const [flag, url] of [['--prometheus', f.prometheus], ['--alertmanager', f.alertmanager]] as const) {
    if (url !== undefined && !/^https?:\/\/\S+$/.test(url)) throw new UsageError(ErrorCodes.Usage, `${flag} "${url}": expected an http(s) URL`, { flag });
  }
  if (f.prometheusRules && !f.prometheus) throw new UsageError(ErrorCodes.Usage, '--prometheus-rules needs --prometheus: up\'s own Prometheus reads its rules from the cluster dir', { flag: '--prometheus-rules' });
  if (f.alertmanagerConfig && !f.alertmanager) throw new UsageError(ErrorCodes.Usage, '--alertmanager-config needs --alertmanager: up\'s own Alertmanager reads its configuration from the cluster dir', { flag: '--alertmanager-config' });
  return {
    ...(f.prometheus ? { prometheus: f.prometheus } : {}),
    ...(f.prometheusRules ? { prometheusRules: resolve(f.prometheusRules) } : {}),
    ...(f.alertmanager ? { alertmanager: f.alertmanager } : {}),
    ...(f.alertmanagerConfig ? { alertmanagerConfig: resolve(f.alertmanagerConfig) } : {}),
  };
}
