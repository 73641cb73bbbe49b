import type { Command } from 'commander';
import { exitOnStoreReset } from '../store-reset.ts';
import { guardNodeIdentity } from '../identity-guard.ts';
import { registrySettings } from '../registry-flags.ts';
import { collect } from '../containers.ts';
import { quantityBytes } from './image.ts';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, UsageError } from '../../lib/errors.ts';
import { parseHostPort } from '../../lib/metrics-http.ts';
import { createLogger } from '../../lib/log.ts';
import { componentLife, hostedLife } from '../../lib/component-life.ts';
import {
  Bucket, closeConnection, connectFromOptions, nodeSecretsBucket, objectCodec, openAgentStore, openClusterStore, probeIncarnation, waitForStore,
} from '../../store/index.ts';
import { Keyring } from '../../secrets/index.ts';
import type { NodeSecretRecord, TaskStatus } from '../../api/index.ts';
import { NetworkManager, limitCgroupParent, parseIpv4Cidr, removeCgroupParent, validateCgroupParent } from '../../runtime/index.ts';
import {
  Agent, ClusterNetwork, RuntimeAdapter, createNodeServices, obtainSubnet, registrationRecord, type AgentOptions, hostAddresses, kernelVersion, machineCapacity, parseCapacity, parseLabels, runcVersion,
} from '../../agent/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { addClusterOptions, addNodeDirOption, CLUSTER_DIR_DEFAULT } from '../options.ts';

const execFileAsync = promisify(execFile);

interface AgentFlags {
  node: string;
  nats?: string;
  creds?: string;
  clusterDir: string;
  nodeDir?: string;
  imageCache?: string;
  labels?: string;
  capacity?: string;
  subnet?: string;
  bridge?: string;
  cgroupParent?: string;
  netnsPrefix?: string;
  http: string;
  prefix: string;
  stopTasksOnExit?: boolean;
  /** --warm-image: images to unpack while the agent starts */
  warmImage?: string[];
  recoveryHold: string;
  registryMirror?: string[];
  registryAuth?: string;
  logRetention: string;
  logRetentionBytes: string;
}

/** defaultBridge derives a bridge name (at most 15 characters) from the node name. */
export function defaultBridge(node: string): string {
  return `gc${createHash('sha256').update(node).digest('hex').slice(0, 8)}`;
}

/** parseLogRetention reads --log-retention (attempts) and --log-retention-bytes (a quantity). */
function parseLogRetention(f: Pick<AgentFlags, 'logRetention' | 'logRetentionBytes'>): { maxEntries: number; maxBytes: number } {
  if (!/^\d+$/.test(f.logRetention)) throw new UsageError(ErrorCodes.Usage, `--log-retention: "${f.logRetention}" is not a whole number`, { flag: '--log-retention' });
  return { maxEntries: Number(f.logRetention), maxBytes: quantityBytes(f.logRetentionBytes, '--log-retention-bytes') };
}

/** registerAgent adds `gitcell agent --node NAME`: the node agent, running until SIGTERM or SIGINT. */
export function registerAgent(program: Command): void {
  addNodeDirOption(addClusterOptions(program.command('agent'), {
    clusterDir: CLUSTER_DIR_DEFAULT,
    clusterDirHelp: 'directory of the `gitcell up` cluster this node belongs to (its NATS server, credentials, images)',
    stateDirAlias: false,
  }), "this agent's own state (journal, containers, network, secrets); default <cluster-dir>/nodes/<node>")
    .description('run the node agent: register this node, run the tasks bound to it, report their status')
    .requiredOption('--node <name>', 'node name (unique in the cluster)')
    .option('--image-cache <dir>', 'image store shared by the agents of this machine; default <cluster-dir>/images')
    .option('--labels <k=v,...>', 'node labels')
    .option('--capacity <cpu=N,memory=Q>', 'override the capacity read from the machine')
    .option('--subnet <cidr>', "this node's task subnet, fixed by hand (default: the one the control plane allocates, kept in the node dir)")
    .option('--bridge <name>', 'Linux bridge of this node (default derived from the node name)')
    .option('--cgroup-parent <path>', 'cgroup parent of this node\'s containers, below every hierarchy root (default gitcell/<node>)')
    .option('--netns-prefix <prefix>', 'start of the name of every task network namespace (default gc-<node>-)')
    .option('--http <host:port>', '/healthz and /metrics endpoint', '127.0.0.1:0')
    .option('--recovery-hold <seconds>', 'after the store lost its data, keep running tasks this long for the control plane to claim them', '300')
    .option('--registry-mirror <host=endpoint>', 'try ENDPOINT (host[:port] or http(s)://host[:port]) before registry HOST when pulling (repeatable, in order)', collect, [])
    .option('--registry-auth <file>', "this node's registry credentials, a docker config.json (used after a task's imagePullSecrets)")
    .option('--log-retention <n>', 'keep the logs of this many removed containers (previous attempts, finished tasks)', '200')
    .option('--log-retention-bytes <quantity>', 'and at most this much of them (oldest go first)', '256Mi')
    .option('--warm-image <ref>', 'unpack this image (from the image cache; waiting up to 60 s for it to appear there) while the agent starts, so its first task does not wait for that (repeatable; gitcell up: its sample image)', collect, [])
    .option('--stop-tasks-on-exit', 'on SIGTERM/SIGINT also stop every task and remove its container, netns and the bridge (gitcell up); default: tasks keep running for the next agent to adopt')
    .action((f: AgentFlags) => runAgent(f));
}

/** AgentSettings are the agent's flags, checked before anything is opened (a bad one is a usage error). */
interface AgentSettings {
  labels: Record<string, string>;
  capacity: ReturnType<typeof parseCapacity>;
  http: { host: string; port: number };
  cgroupParent: string;
  netnsPrefix: string;
  registry: ReturnType<typeof registrySettings>;
  logRetention: ReturnType<typeof parseLogRetention>;
  recoveryHoldMs: number;
  stateDir: string;
}

function checkAgentFlags(f: AgentFlags): AgentSettings {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(f.node)) {
    throw new UsageError(ErrorCodes.Usage, `--node: "${f.node}" must be a DNS label (lowercase letters, digits, '-', at most 63)`, { flag: '--node' });
  }
  if (process.getuid?.() !== 0) throw new UsageError(ErrorCodes.NotRoot, 'gitcell agent runs containers and network namespaces: run it as root', {});
  if (f.subnet !== undefined) parseIpv4Cidr(f.subnet, '--subnet');
  const labels = parseLabels(f.labels);
  const capacity = parseCapacity(f.capacity, machineCapacity());
  const http = parseHostPort(f.http, '--http');
  // Machine-global names: two clusters on one machine (gitcell up) pass their own.
  const cgroupParent = f.cgroupParent ?? `gitcell/${f.node}`;
  try {
    validateCgroupParent(cgroupParent);
  } catch (err) {
    throw new UsageError(ErrorCodes.Usage, `--cgroup-parent: ${errorMessage(err)}`, { flag: '--cgroup-parent' });
  }
  const netnsPrefix = f.netnsPrefix ?? `gc-${f.node}-`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(netnsPrefix)) {
    throw new UsageError(ErrorCodes.Usage, `--netns-prefix: "${netnsPrefix}" must be letters, digits, '_', '.', '-' (at most 64)`, { flag: '--netns-prefix' });
  }
  const registry = registrySettings(f);
  const logRetention = parseLogRetention(f);
  const recoveryHoldMs = Number(f.recoveryHold) * 1000;
  if (!Number.isFinite(recoveryHoldMs) || recoveryHoldMs <= 0) throw new UsageError(ErrorCodes.Usage, `--recovery-hold: "${f.recoveryHold}" is not a positive number of seconds`, { flag: '--recovery-hold' });
  const stateDir = resolve(f.nodeDir ?? join(f.clusterDir, 'nodes', f.node));
  return { labels, capacity, http, cgroupParent, netnsPrefix, registry, logRetention, recoveryHoldMs, stateDir };
}

/** runAgent runs the node agent until SIGTERM or SIGINT (or until the server refuses this node's credentials). */
async function runAgent(f: AgentFlags): Promise<void> {
  const s = checkAgentFlags(f);
  const { cgroupParent, stateDir } = s;
  // The node's containers together get no more CPU and memory than the node offers the scheduler
  // (before anything is opened: a refused limit is a start error with nothing to close).
  limitCgroupParent(cgroupParent, s.capacity);
  const log = createLogger('agent');
  // Independent of the store, so begun before it and awaited where needed: the node's key pair
  // (files written and fsynced; made on a first start) and `runc --version` (a Go binary's start).
  // Under `gitcell up` both were on the path to the node's registration and its start, one after
  // the other, behind the connection and the subnet.
  const keyringOpened = Keyring.openNode(stateDir);
  keyringOpened.catch(() => undefined); // awaited below; a connection failure first must not leave it unhandled
  const runc = runcVersion();
  const c = await connectAgent(f, log);
  const { nc, store, guard } = c;
  const runtime = new RuntimeAdapter({ root: join(stateDir, 'runtime'), imageRoot: resolve(f.imageCache ?? join(f.clusterDir, 'images')), cgroupParent, ...s.registry });
  const bridge = f.bridge ?? defaultBridge(f.node);
  warmImages(runtime, f.warmImage ?? [], log);
  const agentOptions: AgentOptions = {
    node: f.node, stateDir, labels: s.labels, capacity: s.capacity, addresses: hostAddresses(), http: s.http,
    versions: { runc: await runc, kernel: kernelVersion() },
    recoveryHoldMs: s.recoveryHoldMs, logRetention: s.logRetention, ...(c.incarnation ? { storeIncarnation: c.incarnation } : {}),
  };
  const { subnet, network, services, cluster } = await startNodeNetwork(f, s, c, agentOptions, bridge, log);
  // The node's own key pair (the reconciler re-seals this node's Secrets to its public key), loaded
  // before the agent starts so it can release a previous run's Secret volumes; a first start makes
  // one (X25519: well under a millisecond of CPU, so registration does not wait for it).
  const keyring = await keyringOpened;
  const agent = new Agent({ ...agentOptions, subnet }, { nc, store, runtime, network, log, services, secrets: { keyring, bucket: c.secretsBucket } });
  await c.guarded(agent.start()).catch(async (err: unknown) => {
    await agent.stop().catch(() => undefined);
    await services.stop().catch(() => undefined);
    await cluster.stop().catch(() => undefined);
    throw err;
  });
  if (hostedLife()) log.info({ metrics: `${agent.httpUrl}/metrics` }, 'agent: running');
  else process.stderr.write(`gitcell agent ${f.node}: running; metrics at ${agent.httpUrl}/metrics\n`);
  // NATS lost its data: start over (the supervisor or systemd restarts us). Tasks keep running;
  // the next start holds them until the rebuilt control plane claims them.
  if (c.incarnation) await exitOnStoreReset(nc, { prefix: f.prefix, log, component: 'agent', known: c.incarnation, note: 'tasks keep running' });
  const life = componentLife();
  const refusedLater = await new Promise<Error | undefined>((done) => {
    void life.stopping.then(() => done(undefined));
    void guard?.refused.then(done);
  });
  // A crash (a drill of `gitcell up`, which hosts its agents in one process) leaves what kill -9
  // would: tasks, the nft table, routes and the node record stay for the next start to adopt.
  const leaving = f.stopTasksOnExit === true && !life.crashed;
  // Tasks keep running: a restarted agent adopts them (unless told to clean up, as `gitcell up` does).
  await agent.stop();
  // The nft table stays for the next agent (established and new connections keep working while
  // it restarts) unless this node is going away for good.
  await services.stop({ removeTable: leaving });
  // Routes and the overlay device stay for the next agent, unless this node leaves for good: then
  // its record goes too, and every other node drops its routes to it.
  await cluster.stop({ remove: leaving });
  if (leaving) {
    await store.nodes.delete(f.node).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'agent: cannot delete its node record'));
    await store.heartbeats.delete(f.node).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'agent: cannot delete its lease'));
  }
  if (leaving) {
    await stopAllTasks(runtime, network, store, f.node, stateDir, log);
    // The node's cgroup parent (and the cluster's, when this is its last node): gitcell up
    // removes them too, but not when it was killed.
    const busy = removeCgroupParent(cgroupParent);
    if (busy.length) log.warn({ cgroups: busy }, 'agent: cgroups still in use after every task stopped');
  }
  await closeConnection(nc);
  if (refusedLater) throw refusedLater;
}

/**
 * startNodeNetwork gets the node's task subnet (allocated by the control plane unless --subnet fixes
 * it), its task network (CNI bridge), its Services module (nft load balancing with outbound
 * masquerade, dnsmasq on the bridge gateway) and its share of the cluster network (routes, VXLAN).
 * Missing nft or dnsmasq leaves the node running tasks with ServicesReady False.
 */
async function startNodeNetwork(f: AgentFlags, s: AgentSettings, c: Awaited<ReturnType<typeof connectAgent>>, agentOptions: AgentOptions, bridge: string, log: ReturnType<typeof createLogger>) {
  const { store } = c;
  const { stateDir } = s;
  const given = f.subnet ? { subnet: f.subnet } : await c.guarded(untilSignal((signal) => obtainSubnet({ node: f.node, stateDir, store, record: (req) => registrationRecord(agentOptions, req), signal, log })));
  const { subnet } = given;
  const network = new NetworkManager({ bridge, subnet, stateDir: join(stateDir, 'network'), netnsPrefix: s.netnsPrefix });
  const services = createNodeServices({
    node: f.node, stateDir, subnet, bridge, services: store.services, log, ...(given.clusterCidr ? { clusterCidr: given.clusterCidr } : {}),
    hostResolvConf: (() => { try { return readFileSync('/etc/resolv.conf', 'utf8'); } catch { return ''; } })(),
  });
  await services.start();
  const cluster = new ClusterNetwork({ node: f.node, subnet, nodes: store.nodes, subnets: store.subnets, vxlanName: `gx${defaultBridge(`${stateDir}\0${f.node}`).slice(2)}`, log });
  cluster.start();
  return { subnet, network, services, cluster };
}

/** WARM_DEADLINE_MS: how long --warm-image waits for its image to appear in the image cache. */
const WARM_DEADLINE_MS = 60_000;

/**
 * warmImages unpacks the --warm-image images in the background, while the agent waits for its
 * subnet and starts its node network: under `gitcell up` the three first starts each unpacked the
 * sample image after their binding (~170 ms of the agents' process CPU per node at load 48, against
 * 3-5 ms for a create of an unpacked image), on the one thread the three agents share.
 */
function warmImages(runtime: RuntimeAdapter, refs: string[], log: ReturnType<typeof createLogger>): void {
  if (!refs.length) return;
  const ac = new AbortController();
  void componentLife().stopping.then(() => ac.abort());
  for (const ref of refs) {
    void runtime.warmImage(ref, WARM_DEADLINE_MS, ac.signal).then(
      (done) => { if (!done && !ac.signal.aborted) log.warn({ image: ref }, 'agent: --warm-image: not in the image cache within 60 s; its first task unpacks it'); },
      (err: unknown) => log.warn({ image: ref, err: errorMessage(err) }, 'agent: --warm-image failed; its first task unpacks it'),
    );
  }
}

/** untilSignal runs `fn` with a signal that aborts on SIGTERM or SIGINT (a stop while the agent waits to start). */
async function untilSignal<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  void componentLife().stopping.then(() => ac.abort());
  return await fn(ac.signal);
}

/**
 * connectAgent connects and opens the node's store. With credentials the agent runs under agent
 * permissions: it may only bind existing buckets, so after NATS lost its data it waits for the
 * control plane to create them again; another node's credential (the server refuses this node's
 * subjects) stops it instead of waiting.
 */
async function connectAgent(f: AgentFlags, log: ReturnType<typeof createLogger>) {
  const nc = await connectFromOptions({ ...(f.nats ? { nats: f.nats } : {}), ...(f.creds ? { creds: f.creds } : {}), stateDir: f.clusterDir, name: `gitcell agent ${f.node}` });
  const guard = f.creds ? guardNodeIdentity(nc, f.node, f.creds) : undefined;
  const guarded = <T>(p: Promise<T>): Promise<T> => (guard ? guard.race(p) : p).catch(async (err: unknown) => {
    await closeConnection(nc);
    throw err;
  });
  let incarnation: string | undefined;
  if (f.creds) {
    incarnation = await guarded(waitForStore(nc, { prefix: f.prefix, buckets: ['tasks', 'bindings', 'status', 'nodes', 'heartbeats', 'nodespec', 'services', 'subnets', 'cluster'], streams: [`${f.prefix}events`], log }));
  }
  const agentStore = f.creds ? await guarded(openAgentStore(nc, f.node, { prefix: f.prefix, log })) : undefined;
  const store = agentStore ?? await openClusterStore(nc, { prefix: f.prefix, log });
  if (!incarnation) {
    const p = await probeIncarnation(nc, f.prefix);
    if (p.state === 'present') incarnation = p.incarnation;
  }
  const secretsBucket = agentStore?.secrets
    ?? await Bucket.open<NodeSecretRecord>(nc, { name: nodeSecretsBucket(f.node, f.prefix), history: 1 }, objectCodec<NodeSecretRecord>(), { log });
  return { nc, guard, guarded, incarnation, store, secretsBucket };
}

/**
 * stopAllTasks ends every task of this node: SIGTERM, up to 5 s grace, then the containers are
 * removed (SIGKILL, mounts, cgroups), the network torn down (netns, IPs, bridge), the Secret tmpfs
 * volumes unmounted, and the node's
 * status keys deleted, so a stopped `gitcell up` leaves nothing behind.
 */
async function stopAllTasks(runtime: RuntimeAdapter, network: NetworkManager, store: { status: Bucket<TaskStatus> }, node: string, stateDir: string, log: ReturnType<typeof createLogger>): Promise<void> {
  const containers = await runtime.list();
  await Promise.allSettled(containers.map((c) => runtime.kill(c.id, 'SIGTERM')));
  await Promise.race([Promise.allSettled(containers.map((c) => runtime.wait(c.id))), new Promise((r) => setTimeout(r, 5000))]);
  for (const c of containers) await runtime.remove(c.id).catch((err: unknown) => log.warn({ err: String(err), container: c.id }, 'agent: cannot remove container'));
  await network.destroy().catch((err: unknown) => log.warn({ err: String(err) }, 'agent: cannot tear down the network'));
  // Each task's Secret files live on a tmpfs of its own (agent/secret-volumes.ts): unmount them all.
  const volumes = join(stateDir, 'secret-volumes');
  for (const task of await readdir(volumes).catch(() => [] as string[])) {
    await execFileAsync('umount', ['-l', join(volumes, task)]).catch(() => undefined);
  }
  await rm(volumes, { recursive: true, force: true }).catch((err: unknown) => log.warn({ err: String(err) }, 'agent: cannot remove the Secret volumes'));
  try {
    // Bounded: when `gitcell up` died, NATS is going away at the same moment.
    const clear = (async () => {
      for (const r of await store.status.list(node)) await store.status.delete(r.key);
    })();
    await Promise.race([clear, new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 10 s')), 10_000).unref())]);
  } catch (err) {
    log.warn({ err: String(err) }, 'agent: cannot delete the status of its tasks');
  }
  // A runc command that ended after the last removal made runc's root (STATE/runc) again.
  runtime.sweepState();
  log.info({ containers: containers.length }, 'agent: every task stopped and removed');
}
