/**
 * runUp: the whole cluster on one machine. Order matters:
 *
 *   identities (nkeys) ─► embedded nats-server with authorization ─► buckets (control connection)
 *     ─► repository (<state>/repo from sample-repo) ─► sample images ─► reconciler, scheduler,
 *     agents as supervised children ─► live view ─► Ctrl-C: agents stop their tasks, then the
 *     reconciler and scheduler, then nats.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { createLogger, type Logger } from '../../lib/log.ts';
import { Backoff } from '../../lib/backoff.ts';
import { errorMessage, UsageError } from '../../lib/errors.ts';
import { clientTlsConfig, closeConnection, connect, openAutoscalerStore, ensureNatsTls, EMBEDDED_TLS_DIR, nodeSecretsBucket, openClusterStore, probeIncarnation, replicasFor, splitServers, startEmbedded, ensureBucket, removeExternalCluster, waitForStore, watchIncarnation, writeExternalCluster, type ClusterStore, type EmbeddedServer } from '../../store/index.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import { ensureIdentities } from './credentials.ts';
import { ensureSampleImages } from './images.ts';
import { ensureStateRepo, followsDirectly } from './repo.ts';
import { Supervisor, stopLeftovers } from './supervisor.ts';
import { HostedComponent, type AgentsSpec } from './host.ts';
import { LiveView } from './view.ts';
import { monitoringLines, planMonitoring, type ExternalMonitoring, type UpMonitoring } from './monitoring.ts';
import { componentIdentity, nodeBridge, nodeCgroupParent, nodeName, nodeNetnsPrefix, removeClusterCgroups } from './naming.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { createIsolatedNodes, destroyIsolatedNodes, isolatedLayout, nodeCommand, type IsolatedNodes } from './isolated.ts';
import { COMPONENT_NODE_FLAGS } from '../../lib/process.ts';
import { Keyring } from '../../secrets/index.ts';
import { freePort } from '../../lib/net.ts';

export { nodeName } from './naming.ts';

/** UpOptions are `gitcell up`'s flags, parsed. */
export interface UpOptions {
  repo: string;
  nodes: number;
  /** an existing NATS cluster (comma-separated URLs) instead of the embedded server */
  nats?: string;
  /** with `nats`: credentials file for up and every component */
  creds?: string;
  /** with `nats`: the autoscaler identity's credentials (the reconciler's --autoscaler-creds) */
  autoscalerCreds?: string;
  /** bucket and stream replicas (default: 1 embedded, suggestReplicas with `nats`) */
  replicas?: number;
  stateDir: string;
  prefix: string;
  /** node capacity, e.g. "cpu=1,memory=1Gi" */
  capacity: string;
  /** first two octets of the cluster CIDR the control plane gives each node a /24 of: <subnetBase>.0.0/16 */
  subnetBase: string;
  /** live view on a TTY (default: when stdout is one) */
  tty: boolean;
  /** existing Prometheus and Alertmanager instead of starting them, and the files they read */
  external?: ExternalMonitoring;
  /** each node in a network namespace of its own on an underlay bridge (isolated.ts) */
  isolatedNodes?: boolean;
}

/**
 * BIN is what the components run: the compiled entry of the build this `up` runs from (every
 * restart runs the same code), or cli/bin.js when `up` itself runs from the TypeScript sources.
 */
const BIN = import.meta.url.endsWith('.js')
  ? join(dirname(fileURLToPath(import.meta.url)), '..', 'entry.js')
  : join(dirname(fileURLToPath(import.meta.url)), '..', 'bin.js');

/** agentArgs are the flags of the i-th simulated node's agent. Pure. */
export function agentArgs(o: { i: number; natsUrl: string; seedFile: string; stateDir: string; capacity: string; prefix: string }): string[] {
  const node = nodeName(o.i);
  // Bridge, netns and cgroup names carry the cluster's tag: two `up`s on one machine never share one.
  // No --subnet: the reconciler allocates each node's from --cluster-cidr (clusterCidr).
  return [
    'agent', '--node', node, '--nats', o.natsUrl, '--creds', o.seedFile, '--cluster-dir', o.stateDir,
    '--node-dir', join(o.stateDir, 'nodes', node), '--image-cache', join(o.stateDir, 'images'),
    '--bridge', nodeBridge(o.stateDir, node),
    '--cgroup-parent', nodeCgroupParent(o.stateDir, node), '--netns-prefix', nodeNetnsPrefix(o.stateDir, node), '--capacity', o.capacity, '--labels', `gitcell.io/node=${node},zone=zone-${((o.i - 1) % 3) + 1}`,
    '--prefix', o.prefix, '--stop-tasks-on-exit',
  ];
}

/** clusterCidr is where the reconciler allocates the nodes' task subnets (a /24 each): <subnetBase>.0.0/16. Pure. */
export function clusterCidr(subnetBase: string): string {
  return `${subnetBase}.0.0/16`;
}

/**
 * runUp runs the cluster until SIGINT or SIGTERM, then stops everything it started. The steps are
 * UpCluster's methods, in this order; any failure before the signal stops what already started.
 */
export async function runUp(o: UpOptions): Promise<void> {
  const t0 = Date.now();
  if (process.getuid?.() !== 0) throw new UsageError(ErrorCodes.NotRoot, 'gitcell up runs containers, network namespaces and bridges: run it as root', {});
  if (o.nodes < 1 || o.nodes > 200) throw new UsageError(ErrorCodes.Usage, `--nodes ${o.nodes}: expected 1 to 200`, { flag: '--nodes' });
  const up = new UpCluster(o);
  await mkdir(join(up.stateDir, 'logs'), { recursive: true });
  // The cluster's key pair (RSA-4096, about a CPU-second) and every node's (X25519), made while
  // NATS starts.
  const keys = Promise.all([Keyring.open(up.stateDir), ...up.nodes.map((n) => Keyring.openNode(join(up.stateDir, 'nodes', n)))]);
  keys.catch(() => undefined);
  // 1. Identities and NATS.
  await up.startNats();
  try {
    await up.connect();
    // 2. Buckets, created by the control plane: agents may only bind them.
    const store = await up.openStore();
    // 3. Repository and images (Secrets sealed with the cluster's key).
    await keys;
    const repo = await up.prepareRepo();
    // 4. Components (and Prometheus), then what a user reads and the store's incarnation.
    up.monitoring = await planMonitoring(up.stateDir, o.external);
    up.dashboardListen = `127.0.0.1:${await freePort()}`;
    up.startComponents(repo);
    up.printSummary(repo, t0);
    up.view = up.showView(store, repo);
    const first = await probeIncarnation(up.nc!, o.prefix);
    if (first.state === 'present') up.followIncarnation(first.incarnation, repo);
  } catch (err) {
    await up.shutdown();
    throw err;
  }
  await waitForSignal(up.log);
  await up.shutdown();
}

/** UpCluster is one `gitcell up`: what it started, so that shutdown stops exactly that. */
class UpCluster {
  readonly log = createLogger('up');
  readonly stateDir: string;
  readonly nodes: string[];
  readonly pidDir: string;
  ids!: Awaited<ReturnType<typeof ensureIdentities>>;
  embedded: EmbeddedServer | undefined;
  natsUrl: string | undefined;
  /** the embedded server's CA (it speaks TLS only); external clusters bring their own */
  caFile: string | undefined;
  /** embedded: the control seed up made; external: what the user gave (or nothing: an open server) */
  controlCreds: string | undefined;
  nc: NatsConnection | undefined;
  replicas = 1;
  stopping = false;
  /** every component: a child process (Supervisor) or hosted in this process (HostedComponent) */
  readonly supervisors: Array<Supervisor | HostedComponent> = [];
  view: LiveView | undefined;
  monitoring: UpMonitoring | undefined;
  /** where the dashboard listens (loopback: no token needed) */
  dashboardListen: string | undefined;
  /** --isolated-nodes: the underlay and each node's namespace */
  readonly isolated: IsolatedNodes | undefined;

  constructor(readonly o: UpOptions) {
    this.stateDir = resolve(o.stateDir);
    this.nodes = Array.from({ length: o.nodes }, (_, i) => nodeName(i + 1));
    this.isolated = o.isolatedNodes ? isolatedLayout(this.stateDir, this.nodes) : undefined;
    this.pidDir = join(this.stateDir, 'pids');
    this.natsUrl = o.nats;
  }

  /** startNats makes the identities and, without --nats, starts the embedded server (TLS, kept running). */
  async startNats(): Promise<void> {
    const { o, stateDir, log } = this;
    this.ids = await ensureIdentities(stateDir, this.nodes, o.prefix);
    this.controlCreds = o.nats ? o.creds : this.ids.controlSeedFile;
    if (!this.natsUrl) {
      // The embedded server speaks TLS only, with a certificate from the cluster's own CA that every
      // component and client command verifies (the components find it in GITCELL_NATS_CA).
      // Isolated nodes reach NATS on the underlay gateway: it listens there, and its certificate names it.
      if (this.isolated) await createIsolatedNodes(this.isolated);
      const host = this.isolated?.gateway;
      const tls = await ensureNatsTls(join(stateDir, EMBEDDED_TLS_DIR), host ? [host] : []);
      this.caFile = tls.caFile;
      process.env.GITCELL_NATS_CA = tls.caFile;
      const serverConfig = `${this.ids.serverConfig}\n${clientTlsConfig(tls)}`;
      const start = (port?: number) => startEmbedded({ stateDir, extraConfig: serverConfig, ...(host ? { host } : {}), probeCreds: this.ids.controlSeedFile, probeCaFile: tls.caFile, ...(port ? { port } : {}), log });
      this.embedded = await start();
      this.natsUrl = this.embedded.url;
      this.keepNatsRunning(this.embedded, () => start(Number(new URL(this.natsUrl!).port)));
    }
    const leftovers = await stopLeftovers(this.pidDir, stateDir);
    if (leftovers.length) log.warn({ stopped: leftovers }, 'stopped components a previous gitcell up left running');
  }

  /**
   * keepNatsRunning: the embedded server is part of the cluster like any component: restarted when
   * it dies, on the same port so every client reconnects (held down by <state>/pids/nats.hold for drills).
   */
  private keepNatsRunning(server: EmbeddedServer, restart: () => Promise<EmbeddedServer>): void {
    const { log } = this;
    void server.exited.then(async () => {
      for (const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 }); !this.stopping; ) {
        const delay = backoff.next();
        log.warn({ restartInMs: delay }, 'embedded nats-server exited; restarting it on the same port');
        await new Promise((r) => setTimeout(r, delay));
        while (!this.stopping && existsSync(join(this.pidDir, 'nats.hold'))) await new Promise((r) => setTimeout(r, 500));
        if (this.stopping) return;
        try {
          this.embedded = await restart();
          this.keepNatsRunning(this.embedded, restart);
          return;
        } catch (err) {
          log.error({ err: errorMessage(err) }, 'embedded nats-server did not restart');
        }
      }
    });
  }

  /** connect opens up's control connection and settles the replica count every component gets. */
  async connect(): Promise<void> {
    const { o, controlCreds, caFile } = this;
    this.nc = await connect({ servers: this.natsUrl!, ...(controlCreds ? { creds: controlCreds } : {}), ...(caFile ? { caFile } : {}), name: 'gitcell up' });
    // Every component gets this one count: they would otherwise scale the buckets back and forth.
    this.replicas = o.replicas ?? (o.nats ? replicasFor(this.nc, splitServers(o.nats).length) : 1);
  }

  /** openStore creates (or binds) the cluster's buckets and every node's secrets bucket. */
  async openStore(): Promise<ClusterStore<DesiredRecord, SyncRecord>> {
    const { o, replicas, log } = this;
    const nc = this.nc!;
    const autoscalerCreds = o.nats ? o.autoscalerCreds : this.ids.autoscalerSeedFile;
    if (autoscalerCreds) {
      // The autoscale bucket is the autoscaler identity's to configure (the control plane binds it).
      const as = await connect({ servers: this.natsUrl!, creds: autoscalerCreds, ...(this.caFile ? { caFile: this.caFile } : {}), name: 'gitcell up (autoscaler)' });
      try {
        await openAutoscalerStore(as, { prefix: o.prefix, replicas, log });
      } finally {
        await closeConnection(as);
      }
    }
    const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: o.prefix, replicas, log });
    for (const node of this.nodes) await ensureBucket(nc, { name: nodeSecretsBucket(node, o.prefix), history: 1, replicas });
    log.info({ replicas, nats: this.natsUrl }, 'buckets and streams ready');
    return s;
  }

  /** prepareRepo makes the cluster repository (unless --repo is followed directly) and the sample images; returns the repository. */
  async prepareRepo(): Promise<string> {
    const { o, stateDir, log } = this;
    let repo = o.repo;
    if (!followsDirectly(o.repo)) {
      const r = await ensureStateRepo(resolve(o.repo), stateDir);
      repo = r.dir;
      if (r.created) log.info({ repo, from: o.repo, resealed: r.resealed }, 'made the cluster repository (Secrets re-sealed with the cluster key)');
    }
    if (await ensureSampleImages(join(stateDir, 'images'))) log.info('imported localhost/busybox:latest from busybox-static');
    return repo;
  }

  /**
   * startComponents starts the reconciler, the scheduler and the dashboard in this process (each
   * with its own connection, identity, log and restarts: host.ts), the agents of the simulated
   * nodes in one child process (with --isolated-nodes one per node, in its namespace), and
   * Prometheus and Alertmanager as children.
   */
  startComponents(repo: string): void {
    const { o, stateDir, controlCreds } = this;
    const natsUrl = this.natsUrl!;
    const common = ['--nats', natsUrl, ...(controlCreds ? ['--creds', controlCreds] : []), '--prefix', o.prefix, '--replicas', String(this.replicas)];
    const logFile = (name: string) => join(stateDir, 'logs', `${name}.log`);
    const add = (name: string, args: string[], stopGraceMs = 20_000, command?: string) => {
      const s = new Supervisor({ name, args: command ? args : [...COMPONENT_NODE_FLAGS, BIN, ...args], ...(command ? { command } : {}), logFile: logFile(name), pidDir: this.pidDir, stopGraceMs, log: this.log });
      this.supervisors.push(s);
      s.start();
    };
    const host = (name: string, args: string[]) => {
      const s = new HostedComponent({ name, args, logFile: logFile(name), pidDir: this.pidDir, log: this.log });
      this.supervisors.push(s);
      s.start();
    };
    const mon = this.monitoring!;
    // Stable identities: a restarted reconciler or scheduler takes its lease back at once. The
    // reconciler knows how many nodes there are: on a new or rebuilt store, tasks are created once
    // all of them registered (and re-reported what they run).
    host('reconciler', ['reconciler', '--repo', repo, '--cluster-dir', stateDir, '--identity', componentIdentity(stateDir, 'reconciler'), '--expect-nodes', String(o.nodes),
      '--cluster-cidr', clusterCidr(o.subnetBase), '--http', mon.reconcilerHttp, '--scrape', `scheduler=http://${mon.schedulerHttp}`, '--prometheus-url', mon.prometheusUrl, ...mon.reconcilerFlags, ...common,
      // The autoscaler connects as itself: the control plane may not write live counts.
      ...(o.nats ? (o.autoscalerCreds ? ['--autoscaler-creds', o.autoscalerCreds] : []) : ['--autoscaler-creds', this.ids.autoscalerSeedFile])]);
    host('scheduler', ['scheduler', '--cluster-dir', stateDir, '--identity', componentIdentity(stateDir, 'scheduler'), '--http', mon.schedulerHttp, ...common]);
    if (mon.prometheus) add('prometheus', mon.prometheus.args, 20_000, mon.prometheus.command);
    if (mon.alertmanager) add('alertmanager', mon.alertmanager.args, 20_000, mon.alertmanager.command);
    // The dashboard reads as the viewer (an external cluster: with the credentials given).
    const viewerCreds = o.nats ? controlCreds : this.ids.viewerSeedFile;
    host('dashboard', ['dashboard', '--nats', natsUrl, ...(viewerCreds ? ['--creds', viewerCreds] : []), '--prefix', o.prefix, '--listen', this.dashboardListen!,
      ...(existsSync(repo) ? ['--repo', repo] : []), '--prometheus', mon.prometheusUrl, '--alertmanager', mon.alertmanagerUrl]);
    // External NATS with --creds: the agents use them too (the server knows nothing of up's per-node seeds).
    const agents = this.nodes.map((node, i) => ({
      name: `agent-${node}`,
      args: agentArgs({ i: i + 1, natsUrl, seedFile: (o.nats && o.creds) || this.ids.agentSeedFiles.get(node)!, stateDir, capacity: o.capacity, prefix: o.prefix }),
      logFile: logFile(`agent-${node}`),
    }));
    if (this.isolated) {
      for (const a of agents) {
        const c = nodeCommand(this.isolated, a.name.slice('agent-'.length), [process.execPath, ...COMPONENT_NODE_FLAGS, BIN, ...a.args]);
        add(a.name, c.args, 90_000, c.command);
      }
    } else {
      // One process for every agent: its watchdog ends it (and so every agent stops its tasks) when up dies.
      const spec: AgentsSpec = { pidDir: this.pidDir, agents };
      const specFile = join(stateDir, 'agents.json');
      writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`);
      add('agents', ['up', '--host-agents', specFile, '--cluster-dir', stateDir], 120_000);
    }
    // Clients find an embedded server through the state dir; an external one only through its URLs.
    // Client commands find an external cluster through the state dir too, while this up runs.
    if (o.nats) writeExternalCluster(stateDir, { nats: o.nats, ...(controlCreds ? { creds: controlCreds } : {}) });
  }

  /** printSummary tells the user where everything is and what to try. */
  printSummary(repo: string, t0: number): void {
    const { o, stateDir, controlCreds, caFile, natsUrl } = this;
    const find = `--cluster-dir ${stateDir}`;
    const lines = [
      `gitcell up: ${o.nodes} node(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      `  repository   ${repo}${existsSync(join(repo, '.git')) ? `   (commit here: git -C ${repo} commit -am "...")` : ''}`,
      `  NATS         ${natsUrl}${controlCreds ? `   (credentials ${controlCreds})` : ''}${caFile ? `   (TLS, CA ${caFile})` : ''}   (replicas ${this.replicas})`,
      `  state        ${stateDir}   (logs in ${join(stateDir, 'logs')})`,
      ...(this.monitoring ? monitoringLines(this.monitoring, find) : []),
      ...(this.dashboardListen ? [`  dashboard    http://${this.dashboardListen}/`] : []),
      `  try          npx gitcell get tasks ${find}`,
      `               npx gitcell status ${find}`,
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
  }

  showView(store: ClusterStore<DesiredRecord, SyncRecord>, repo: string): LiveView {
    const { o } = this;
    return new LiveView(store, {
      tty: o.tty,
      header: () => `gitcell up · ${repo} · ${this.natsUrl} · ${new Date().toLocaleTimeString()}`,
      write: (w) => (o.tty ? process.stdout.write(w) : process.stderr.write(w)),
    });
  }

  /**
   * followIncarnation: NATS lost its data: the components exit on the same finding and the
   * restarted reconciler and scheduler make the buckets again. Not us: a component that has not
   * noticed yet must find no bucket to write into. Then follow the new ones (store/REBUILD.md).
   */
  followIncarnation(known: string, repo: string): void {
    const { o, log } = this;
    const nc = this.nc!;
    watchIncarnation(nc, known, {
      prefix: o.prefix,
      log,
      onReset: (reason) => {
        log.warn({ reason }, 'gitcell up: the store was reset; creating the buckets again: Git and the agents rebuild the state');
        void (async () => {
          for (const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 }); !this.stopping; ) {
            const delay = backoff.next();
            try {
              await waitForStore(nc, { prefix: o.prefix });
              const fresh = await this.openStore();
              this.view?.stop();
              this.view = this.showView(fresh, repo);
              const p = await probeIncarnation(nc, o.prefix);
              if (p.state === 'present') this.followIncarnation(p.incarnation, repo);
              return;
            } catch (err) {
              log.warn({ err: errorMessage(err), retryInMs: delay }, 'gitcell up: cannot create the buckets yet');
              await new Promise((r) => setTimeout(r, delay));
            }
          }
        })();
      },
    });
  }

  /** shutdown stops the agents first (while NATS still runs: they remove every task's netns, mounts, cgroups), then the rest, then NATS. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.view?.stop();
    process.stderr.write('\ngitcell up: stopping: agents stop their tasks first\n');
    for (const s of this.supervisors) s.markStopping();
    await Promise.all(this.supervisors.filter((s) => s.o.name.startsWith('agent')).map((s) => s.stop()));
    await Promise.all(this.supervisors.map((s) => s.stop()));
    removeClusterCgroups(this.stateDir, this.nodes);
    // The node namespaces take their veths, task bridges, nft tables and routes with them.
    if (this.isolated) await destroyIsolatedNodes(this.isolated).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'cannot remove the isolated nodes\' namespaces'));
    await this.nc?.close().catch(() => undefined);
    if (this.o.nats) removeExternalCluster(this.stateDir);
    await this.embedded?.stop();
    process.stderr.write('gitcell up: stopped\n');
  }
}

function waitForSignal(log: Logger): Promise<void> {
  return new Promise((done) => {
    const on = (sig: string) => {
      log.info({ signal: sig }, 'gitcell up: stopping');
      done();
    };
    process.once('SIGINT', () => on('SIGINT'));
    process.once('SIGTERM', () => on('SIGTERM'));
    // The terminal went away: stop cleanly too (the default would end us without cleaning up).
    process.once('SIGHUP', () => on('SIGHUP'));
  });
}
