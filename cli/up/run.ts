/**
 * runUp: the whole cluster on one machine. Order matters:
 *
 *   cluster key pair (X25519, Keyring.openUp) ┐   sample images (<state>/images, unpacked by the agents) ┐
 *   identities (nkeys) ─► embedded nats-server with authorization ─► buckets (control connection)
 *     ─► agents' process (loads, registers the nodes) ┐
 *     ─► scheduler ─► repository (<state>/repo from sample-repo, Secrets re-sealed)
 *     ─► reconciler (allocates the nodes' subnets; components.ts) ─► images imported ─► dashboard once a task runs
 *     ─► live view ─► Ctrl-C: agents stop their tasks, then the reconciler and scheduler, then nats.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createLogger, type Logger } from '../../lib/log.ts';
import { Backoff } from '../../lib/backoff.ts';
import { errorMessage, UsageError } from '../../lib/errors.ts';
import { clientTlsConfig, closeConnection, connect, openAutoscalerStore, ensureNatsTls, EMBEDDED_TLS_DIR, nodeSecretsBucket, openClusterStore, probeIncarnation, replicasFor, splitServers, startEmbedded, ensureBucket, removeExternalCluster, waitForStore, watchIncarnation, type ClusterStore, type EmbeddedServer, type NatsTls } from '../../store/index.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import { ensureIdentities } from './credentials.ts';
import { ensureSampleImages } from './images.ts';
import { ensureStateRepo, followsDirectly } from './repo.ts';
import { stopLeftovers, type Supervisor } from './supervisor.ts';
import { preloadCommands, type HostedComponent } from './host.ts';
import { LiveView } from './view.ts';
import { monitoringLines, planMonitoring, type ExternalMonitoring, type UpMonitoring } from './monitoring.ts';
import { MAX_UP_NODES, nodeName, removeClusterCgroups, subnetBaseHolder } from './naming.ts';
import { networkInterfaces } from 'node:os';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { createIsolatedNodes, destroyIsolatedNodes, isolatedLayout, type IsolatedNodes } from './isolated.ts';
import { Keyring } from '../../secrets/index.ts';
import { freePort } from '../../lib/net.ts';
import { startAgents, startControlPlane, startDashboard, startScheduler } from './components.ts';

export { nodeName } from './naming.ts';
export { agentArgs, clusterCidr } from './components.ts';

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
  /** the cluster's key ring of `stateDir`, already being opened (up's command starts it before loading this module) */
  clusterKey?: Promise<Keyring>;
  /** the embedded server's certificates under `stateDir`, already being made (up's command starts them before loading this module) */
  natsTls?: Promise<NatsTls>;
}

/**
 * runUp runs the cluster until SIGINT or SIGTERM, then stops everything it started. The steps are
 * UpCluster's methods, in this order; any failure before the signal stops what already started.
 */
export async function runUp(o: UpOptions): Promise<void> {
  const t0 = Date.now();
  if (process.getuid?.() !== 0) throw new UsageError(ErrorCodes.NotRoot, 'gitcell up runs containers, network namespaces and bridges: run it as root', {});
  if (o.nodes < 1 || o.nodes > MAX_UP_NODES) throw new UsageError(ErrorCodes.Usage, `--nodes ${o.nodes}: expected 1 to ${MAX_UP_NODES}`, { flag: '--nodes' });
  const holder = subnetBaseHolder(o.subnetBase, o.stateDir, networkInterfaces());
  if (holder) {
    const why = `${holder.address} is already on interface ${holder.iface} (another cluster on this machine?): pick another --subnet-base`;
    throw new UsageError(ErrorCodes.Usage, `--subnet-base ${o.subnetBase}: ${why}`, { flag: '--subnet-base' });
  }
  const up = new UpCluster(o);
  await mkdir(join(up.stateDir, 'logs'), { recursive: true });
  // The cluster's key ring (a new one: an X25519 pair, Keyring.openUp), opened while NATS starts
  // if up's command has not begun it already. Each agent makes its node's itself.
  const clusterKey = o.clusterKey ?? Keyring.openUp(up.stateDir);
  clusterKey.catch(() => undefined);
  // When each step ended (ms after t0), logged once started: where up's own start goes.
  const phases: Record<string, number> = {};
  const mark = (phase: string) => (phases[phase] = Date.now() - t0);
  void clusterKey.then(() => mark('clusterKey'));
  // The control plane's command modules load while NATS starts (up waits on I/O there), and so
  // are the sample images imported (the agents unpack them while they wait for their subnets).
  preloadCommands(['reconciler', 'scheduler']);
  const images = up.importImages();
  // 1. Identities and NATS.
  await up.startNats();
  mark('nats');
  try {
    await up.connect();
    // 2. Buckets, created by the control plane: agents may only bind them.
    const store = await up.openStore();
    mark('store');
    // 3. The agents: their process loads and registers the nodes while the rest starts (each makes
    // its node's key pair; its task subnet waits for the reconciler).
    up.startAgents();
    mark('agents');
    // 4. The scheduler (it needs no repository: its start overlaps the repository's I/O), then the
    // repository (Secrets sealed with the cluster's key).
    up.monitoring = await planMonitoring(up.stateDir, o.external);
    up.dashboardListen = `127.0.0.1:${await freePort()}`;
    up.startScheduler();
    mark('scheduler');
    const repo = await up.prepareRepo(clusterKey);
    mark('repo');
    // 5. The reconciler (and Prometheus), then what a user reads and the store's incarnation.
    up.startControlPlane(repo);
    mark('controlPlane');
    // Nothing waited for the images so far (the agents look for them every 200 ms).
    await images;
    mark('images');
    void firstTaskRunning(store, DASHBOARD_WAIT_MS, up.stopped.signal).then(() => {
      if (!up.stopping) startDashboard(up, repo);
    });
    up.printSummary(repo, t0);
    up.log.info({ phasesMs: phases }, 'gitcell up: started');
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

/** DASHBOARD_WAIT_MS: the dashboard starts with the first running task, or after this long. */
const DASHBOARD_WAIT_MS = 15_000;

/** firstTaskRunning resolves once a task of the cluster reports running, or after `maxMs`, on `stop`, or on a failed watch. */
async function firstTaskRunning(store: ClusterStore<DesiredRecord, SyncRecord>, maxMs: number, stop: AbortSignal): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), maxMs);
  stop.addEventListener('abort', () => ac.abort(), { once: true, signal: ac.signal });
  try {
    for await (const ev of store.status.watch({ signal: ac.signal })) if (ev.type === 'put' && ev.value.state === 'running') break;
  } catch {
    // the watch failed or ended: start anyway
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
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
  /** aborted when shutdown begins (waits of up's own end with it) */
  readonly stopped = new AbortController();
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
      const tls = await (o.natsTls ?? ensureNatsTls(join(stateDir, EMBEDDED_TLS_DIR), host ? [host] : []));
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

  /** importImages imports the sample images unless they are there (awaited by the caller, later: an error is kept until then). */
  importImages(): Promise<void> {
    const images = ensureSampleImages(join(this.stateDir, 'images')).then((imported) => {
      if (imported) this.log.info('imported localhost/busybox:latest from busybox-static');
    });
    images.catch(() => undefined);
    return images;
  }

  /** prepareRepo makes the cluster repository (unless --repo is followed directly; its Secrets re-sealed with the cluster key); returns the repository. */
  async prepareRepo(clusterKey: Promise<Keyring>): Promise<string> {
    const { o, stateDir, log } = this;
    let repo = o.repo;
    if (!followsDirectly(o.repo)) {
      const r = await ensureStateRepo(resolve(o.repo), stateDir, clusterKey);
      repo = r.dir;
      if (r.created) log.info({ repo, from: o.repo, resealed: r.resealed }, 'made the cluster repository (Secrets re-sealed with the cluster key)');
    }
    return repo;
  }

  /** startAgents: components.ts (as soon as the buckets exist). */
  startAgents(): void {
    startAgents(this);
  }

  /** startScheduler: components.ts. */
  startScheduler(): void {
    startScheduler(this);
  }

  /** startControlPlane: components.ts. */
  startControlPlane(repo: string): void {
    startControlPlane(this, repo);
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
    this.stopped.abort();
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
