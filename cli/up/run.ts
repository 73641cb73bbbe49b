/**
 * runUp: the whole cluster on one machine. Order matters:
 *
 *   identities (nkeys) ─► embedded nats-server with authorization ─► buckets (control connection)
 *     ─► repository (<state>/repo from sample-repo) ─► sample images ─► reconciler, scheduler,
 *     agents as supervised children ─► live view ─► Ctrl-C: agents stop their tasks, then the
 *     reconciler and scheduler, then nats.
 */
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { createLogger, type Logger } from '../../lib/log.ts';
import { Backoff } from '../../lib/backoff.ts';
import { errorMessage, UsageError } from '../../lib/errors.ts';
import { clientTlsConfig, connect, ensureNatsTls, EMBEDDED_TLS_DIR, nodeSecretsBucket, openClusterStore, probeIncarnation, replicasFor, splitServers, startEmbedded, ensureBucket, removeExternalCluster, waitForStore, watchIncarnation, writeExternalCluster, type EmbeddedServer } from '../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import { ensureIdentities } from './credentials.ts';
import { ensureSampleImages } from './images.ts';
import { ensureStateRepo, followsDirectly } from './repo.ts';
import { Supervisor, stopLeftovers } from './supervisor.ts';
import { LiveView } from './view.ts';
import { clusterCgroupParent, componentIdentity, nodeBridge, nodeCgroupParent, nodeName, nodeNetnsPrefix } from './naming.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

export { nodeName } from './naming.ts';

/** UpOptions are `gitcell up`'s flags, parsed. */
export interface UpOptions {
  repo: string;
  nodes: number;
  /** an existing NATS cluster (comma-separated URLs) instead of the embedded server */
  nats?: string;
  /** with `nats`: credentials file for up and every component */
  creds?: string;
  /** bucket and stream replicas (default: 1 embedded, suggestReplicas with `nats`) */
  replicas?: number;
  stateDir: string;
  prefix: string;
  /** node capacity, e.g. "cpu=1,memory=1Gi" */
  capacity: string;
  /** first two octets of the node subnets: node i gets <subnetBase>.<i>.0/24 */
  subnetBase: string;
  /** live view on a TTY (default: when stdout is one) */
  tty: boolean;
}

/**
 * BIN is what the components run: the compiled entry of the build this `up` runs from (every
 * restart runs the same code), or cli/bin.js when `up` itself runs from the TypeScript sources.
 */
const BIN = import.meta.url.endsWith('.js')
  ? join(dirname(fileURLToPath(import.meta.url)), '..', 'entry.js')
  : join(dirname(fileURLToPath(import.meta.url)), '..', 'bin.js');

/** agentArgs are the flags of the i-th simulated node's agent. Pure. */
export function agentArgs(o: { i: number; natsUrl: string; seedFile: string; stateDir: string; capacity: string; prefix: string; subnetBase: string }): string[] {
  const node = nodeName(o.i);
  // Bridge, netns and cgroup names carry the cluster's tag: two `up`s on one machine never share one.
  return [
    'agent', '--node', node, '--nats', o.natsUrl, '--creds', o.seedFile, '--cluster-dir', o.stateDir,
    '--state-dir', join(o.stateDir, 'nodes', node), '--image-cache', join(o.stateDir, 'images'),
    '--subnet', `${o.subnetBase}.${o.i}.0/24`, '--bridge', nodeBridge(o.stateDir, node),
    '--cgroup-parent', nodeCgroupParent(o.stateDir, node), '--netns-prefix', nodeNetnsPrefix(o.stateDir, node), '--capacity', o.capacity, '--labels', `gitcell.io/node=${node},zone=zone-${((o.i - 1) % 3) + 1}`,
    '--prefix', o.prefix, '--stop-tasks-on-exit',
  ];
}

/** runUp runs the cluster until SIGINT or SIGTERM, then stops everything it started. */
export async function runUp(o: UpOptions): Promise<void> {
  const log = createLogger('up');
  const t0 = Date.now();
  const stateDir = resolve(o.stateDir);
  if (process.getuid?.() !== 0) throw new UsageError(ErrorCodes.NotRoot, 'gitcell up runs containers, network namespaces and bridges: run it as root', {});
  if (o.nodes < 1 || o.nodes > 200) throw new UsageError(ErrorCodes.Usage, `--nodes ${o.nodes}: expected 1 to 200`, { flag: '--nodes' });
  await mkdir(join(stateDir, 'logs'), { recursive: true });
  const nodes = Array.from({ length: o.nodes }, (_, i) => nodeName(i + 1));

  // 1. Identities and NATS.
  const ids = await ensureIdentities(stateDir, nodes, o.prefix);
  let embedded: EmbeddedServer | undefined;
  let natsUrl = o.nats;
  let stopping = false;
  const pidDir = join(stateDir, 'pids');
  // The embedded server speaks TLS only, with a certificate from the cluster's own CA that every
  // component and client command verifies (the components find it in GITCELL_NATS_CA).
  let caFile: string | undefined;
  if (!natsUrl) {
    const tls = await ensureNatsTls(join(stateDir, EMBEDDED_TLS_DIR));
    caFile = tls.caFile;
    process.env.GITCELL_NATS_CA = caFile;
    const serverConfig = `${ids.serverConfig}\n${clientTlsConfig(tls)}`;
    embedded = await startEmbedded({ stateDir, extraConfig: serverConfig, probeCreds: ids.controlSeedFile, probeCaFile: caFile, log });
    natsUrl = embedded.url;
    const port = Number(new URL(natsUrl).port);
    // The embedded server is part of the cluster like any component: restarted when it dies, on
    // the same port so every client reconnects (held down by <state>/pids/nats.hold for drills).
    const keepNatsRunning = (server: EmbeddedServer): void => {
      void server.exited.then(async () => {
        for (const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 }); !stopping; ) {
          const delay = backoff.next();
          log.warn({ restartInMs: delay }, 'embedded nats-server exited; restarting it on the same port');
          await new Promise((r) => setTimeout(r, delay));
          while (!stopping && existsSync(join(pidDir, 'nats.hold'))) await new Promise((r) => setTimeout(r, 500));
          if (stopping) return;
          try {
            embedded = await startEmbedded({ stateDir, extraConfig: serverConfig, probeCreds: ids.controlSeedFile, probeCaFile: caFile, port, log });
            keepNatsRunning(embedded);
            return;
          } catch (err) {
            log.error({ err: errorMessage(err) }, 'embedded nats-server did not restart');
          }
        }
      });
    };
    keepNatsRunning(embedded);
  }
  const leftovers = await stopLeftovers(pidDir, stateDir);
  if (leftovers.length) log.warn({ stopped: leftovers }, 'stopped components a previous gitcell up left running');
  const supervisors: Supervisor[] = [];
  let view: LiveView | undefined;
  // Embedded: the control seed up made. External: what the user gave (or nothing: an open server).
  const controlCreds = o.nats ? o.creds : ids.controlSeedFile;
  const nc = await connect({ servers: natsUrl, ...(controlCreds ? { creds: controlCreds } : {}), ...(caFile ? { caFile } : {}), name: 'gitcell up' });
  // Every component gets this one count: they would otherwise scale the buckets back and forth.
  const replicas = o.replicas ?? (o.nats ? replicasFor(nc, splitServers(o.nats).length) : 1);
  const shutdown = async (): Promise<void> => {
    stopping = true;
    view?.stop();
    process.stderr.write('\ngitcell up: stopping: agents stop their tasks first\n');
    for (const s of supervisors) s.markStopping();
    // Agents first, while NATS still runs: they stop every task and remove its netns, mounts, cgroups.
    await Promise.all(supervisors.filter((s) => s.o.name.startsWith('agent')).map((s) => s.stop()));
    await Promise.all(supervisors.map((s) => s.stop()));
    removeClusterCgroups(stateDir, nodes);
    await nc.close().catch(() => undefined);
    if (o.nats) removeExternalCluster(stateDir);
    await embedded?.stop();
    process.stderr.write('gitcell up: stopped\n');
  };
  try {
    // 2. Buckets, created by the control plane: agents may only bind them.
    const openStore = async () => {
      const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: o.prefix, replicas, log });
      for (const node of nodes) await ensureBucket(nc, { name: nodeSecretsBucket(node, o.prefix), history: 1, replicas });
      return s;
    };
    const store = await openStore();
    log.info({ replicas, nats: natsUrl }, 'buckets and streams ready');

    // 3. Repository and images.
    let repo = o.repo;
    if (!followsDirectly(o.repo)) {
      const r = await ensureStateRepo(resolve(o.repo), stateDir);
      repo = r.dir;
      if (r.created) log.info({ repo, from: o.repo, resealed: r.resealed }, 'made the cluster repository (Secrets re-sealed with the cluster key)');
    }
    if (await ensureSampleImages(join(stateDir, 'images'))) log.info('imported localhost/busybox:latest from busybox-static');

    // 4. Components.
    const common = ['--nats', natsUrl, ...(controlCreds ? ['--creds', controlCreds] : []), '--prefix', o.prefix, '--replicas', String(replicas)];
    const add = (name: string, args: string[], stopGraceMs = 20_000) => {
      const s = new Supervisor({ name, args: [BIN, ...args], logFile: join(stateDir, 'logs', `${name}.log`), pidDir, stopGraceMs, log });
      supervisors.push(s);
      s.start();
    };
    // Stable identities: a restarted reconciler or scheduler takes its lease back at once. The
    // reconciler knows how many nodes there are: on a new or rebuilt store, tasks are created once
    // all of them registered (and re-reported what they run).
    add('reconciler', ['reconciler', '--repo', repo, '--state-dir', stateDir, '--identity', componentIdentity(stateDir, 'reconciler'), '--expect-nodes', String(o.nodes), ...common]);
    add('scheduler', ['scheduler', '--state-dir', stateDir, '--identity', componentIdentity(stateDir, 'scheduler'), ...common]);
    nodes.forEach((node, i) => {
      // External NATS with --creds: the agents use them too (the server knows nothing of up's per-node seeds).
      add(`agent-${node}`, agentArgs({ i: i + 1, natsUrl: natsUrl!, seedFile: (o.nats && o.creds) || ids.agentSeedFiles.get(node)!, stateDir, capacity: o.capacity, prefix: o.prefix, subnetBase: o.subnetBase }), 90_000);
    });

    // Clients find an embedded server through the state dir; an external one only through its URLs.
    // Client commands find an external cluster through the state dir too, while this up runs.
    if (o.nats) writeExternalCluster(stateDir, { nats: o.nats, ...(controlCreds ? { creds: controlCreds } : {}) });
    const find = `--state-dir ${stateDir}`;
    const lines = [
      `gitcell up: ${o.nodes} node(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      `  repository   ${repo}${existsSync(join(repo, '.git')) ? `   (commit here: git -C ${repo} commit -am "...")` : ''}`,
      `  NATS         ${natsUrl}${controlCreds ? `   (credentials ${controlCreds})` : ''}${caFile ? `   (TLS, CA ${caFile})` : ''}   (replicas ${replicas})`,
      `  state        ${stateDir}   (logs in ${join(stateDir, 'logs')})`,
      `  try          npx gitcell get tasks ${find}`,
      `               npx gitcell status ${find}`,
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
    const showView = (s: typeof store) => new LiveView(s, {
      tty: o.tty,
      header: () => `gitcell up · ${repo} · ${natsUrl} · ${new Date().toLocaleTimeString()}`,
      write: (w) => (o.tty ? process.stdout.write(w) : process.stderr.write(w)),
    });
    view = showView(store);
    // NATS lost its data: the components exit on the same finding and the restarted reconciler and
    // scheduler make the buckets again. Not us: a component that has not noticed yet must find no
    // bucket to write into. Then follow the new ones.
    const followIncarnation = (known: string): void => {
      watchIncarnation(nc, known, {
        prefix: o.prefix,
        log,
        onReset: (reason) => {
          log.warn({ reason }, 'gitcell up: the store was reset; creating the buckets again: Git and the agents rebuild the state');
          void (async () => {
            for (const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 }); !stopping; ) {
              const delay = backoff.next();
              try {
                await waitForStore(nc, { prefix: o.prefix });
                const fresh = await openStore();
                view?.stop();
                view = showView(fresh);
                const p = await probeIncarnation(nc, o.prefix);
                if (p.state === 'present') followIncarnation(p.incarnation);
                return;
              } catch (err) {
                log.warn({ err: errorMessage(err), retryInMs: delay }, 'gitcell up: cannot create the buckets yet');
                await new Promise((r) => setTimeout(r, delay));
              }
            }
          })();
        },
      });
    };
    const first = await probeIncarnation(nc, o.prefix);
    if (first.state === 'present') followIncarnation(first.incarnation);
  } catch (err) {
    await shutdown();
    throw err;
  }
  await waitForSignal(log);
  await shutdown();
}

/**
 * removeClusterCgroups removes the (now empty) cgroup parents `gitcell/up-<tag>/<node>` the agents'
 * containers left, then the cluster's own `gitcell/up-<tag>`.
 */
function removeClusterCgroups(stateDir: string, nodes: string[]): void {
  const root = '/sys/fs/cgroup';
  let controllers: string[] = [];
  try {
    controllers = readdirSync(root);
  } catch {
    return;
  }
  for (const c of ['', ...controllers]) {
    for (const dir of [...nodes.map((node) => nodeCgroupParent(stateDir, node)), clusterCgroupParent(stateDir)]) {
      try {
        rmdirSync(join(root, c, dir));
      } catch {
        // absent, not a hierarchy, or still busy: nothing to do here
      }
    }
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
