/**
 * Test helpers for the node agent: a TaskSpec builder with defaults, a busybox image in a fresh image
 * store, an in-process agent on a real nats-server, runc and CNI, `waitFor` on conditions, and a
 * leak check of everything a node can leave behind.
 */
import { mkdtemp, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import type { ResolvedProbe, TaskSpec, TaskStatus, TaskTemplate } from '../../api/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { Bucket, connect, nodeSecretsBucket, objectCodec, openClusterStore, type ClusterStore } from '../../store/index.ts';
import { Keyring } from '../../secrets/index.ts';
import type { NodeSecretRecord } from '../../api/index.ts';
import { ImageStore, NetworkManager, buildBusyboxRootfs, importRootfs, listNetns } from '../../runtime/index.ts';
import { Agent, RuntimeAdapter, SecretVolumes, kernelVersion, removeCgroup, runcVersion, type AgentOptions } from '../../agent/index.ts';
import type { NatsServer } from './nats.ts';
import { waitFor } from './wait.ts';

// waitFor lived here first; agent, secrets and e2e tests still import it from this file.
export { waitFor };

/** probe builds a ResolvedProbe with fast test timings. */
export function probe(o: Partial<ResolvedProbe>): ResolvedProbe {
  return { initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1, ...o };
}

/** makeTask builds a TaskSpec running `command` in the busybox image. */
export function makeTask(id: string, image: string, command: string[], o: Partial<TaskTemplate> = {}, type: TaskSpec['type'] = 'service'): TaskSpec {
  const template: TaskTemplate = {
    image, command, env: [], resources: { requests: { cpuMillis: 10, memoryBytes: 16 << 20 }, limits: { memoryBytes: 64 << 20 } },
    ports: [], probes: {}, secretMounts: [], nodeSelector: {}, tolerations: [], restartPolicy: type === 'batch' ? 'Never' : 'Always',
    terminationGracePeriodSeconds: 5, ...o,
  };
  return {
    id, namespace: 'default', owner: { kind: 'Job', name: id }, jobKey: `Job/default/${id}`, index: 0, priority: 500, type,
    templateHash: `h${randomBytes(4).toString('hex')}`, template, generation: 1, createdAt: new Date().toISOString(),
  };
}

/** TestNode is an agent's whole world in a test. */
export interface TestNode {
  node: string;
  dir: string;
  subnet: string;
  bridge: string;
  image: string;
  imageRoot: string;
  store: ClusterStore;
  agent: Agent;
  runtime: RuntimeAdapter;
  network: NetworkManager;
  /** the node's key ring and secrets bucket (startTestNode with `secrets: true`) */
  keyring?: Keyring;
  secretsBucket?: Bucket<NodeSecretRecord>;
  bind(spec: TaskSpec): Promise<void>;
  unbind(taskId: string): Promise<void>;
  status(taskId: string): Promise<TaskStatus | undefined>;
  waitStatus(taskId: string, what: string, pred: (s: TaskStatus) => boolean, timeoutMs?: number): Promise<TaskStatus>;
  close(): Promise<void>;
}

/** buildBusyboxImage imports a busybox root filesystem as `ref` into the image store at `root`. */
export async function buildBusyboxImage(root: string, ref: string): Promise<void> {
  const rootfs = await mkdtemp(join(tmpdir(), 'gitcell-bb-'));
  try {
    await buildBusyboxRootfs(rootfs);
    await importRootfs(new ImageStore(root), rootfs, ref);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

/** DEFAULT_TEST_CAPACITY is what a test node offers unless the test says otherwise. */
export const DEFAULT_TEST_CAPACITY = { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30 };

/** startTestNode starts an in-process agent with its own node name, bridge, subnet and state dir. */
export async function startTestNode(server: NatsServer, o: Partial<AgentOptions> & { prefix?: string; imageRoot?: string; secrets?: boolean } = {}): Promise<TestNode> {
  const suffix = randomBytes(3).toString('hex');
  const node = `n-${suffix}`;
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-agent-'));
  const imageRoot = o.imageRoot ?? join(dir, 'images');
  const image = 'localhost/busybox:test';
  await mkdir(imageRoot, { recursive: true });
  if (!o.imageRoot) await buildBusyboxImage(imageRoot, image);
  const nc = await connect({ servers: server.url });
  const store = await openClusterStore(nc, { prefix: o.prefix ?? `t${suffix}_`, log: silentLogger() });
  const subnet = `10.${150 + randomInt(50)}.${randomInt(256)}.0/24`;
  const bridge = `gct${suffix}`;
  const runtime = new RuntimeAdapter({ root: join(dir, 'state', 'runtime'), imageRoot, cgroupParent: `gitcell-test/${node}` });
  // As `gitcell agent` does: the node's containers together get at most its capacity.
  runtime.limitNode(o.capacity ?? DEFAULT_TEST_CAPACITY);
  const network = new NetworkManager({ bridge, subnet, stateDir: join(dir, 'state', 'network'), netnsPrefix: `gct-${node}-` });
  const prefix = o.prefix ?? `t${suffix}_`;
  // A node's ring, as `gitcell agent` opens it (X25519).
  const keyring = o.secrets ? await Keyring.openNode(join(dir, 'state')) : undefined;
  const secretsBucket = o.secrets ? await Bucket.open<NodeSecretRecord>(nc, { name: nodeSecretsBucket(node, prefix), history: 1 }, objectCodec<NodeSecretRecord>(), { log: silentLogger() }) : undefined;
  const { secrets: _s, prefix: _p, imageRoot: _i, ...agentOpts } = o;
  const agent = new Agent({
    node, stateDir: join(dir, 'state'), versions: { runc: await runcVersion(), kernel: kernelVersion() }, capacity: DEFAULT_TEST_CAPACITY, subnet,
    heartbeatMs: 500, resyncMs: 500, usageMs: 500, backoff: { initialMs: 300, maxMs: 2000, resetAfterMs: 60_000 },
    http: { host: '127.0.0.1', port: 0 }, ...agentOpts,
  }, { nc, store, runtime, network, log: silentLogger(), ...(keyring && secretsBucket ? { secrets: { keyring, bucket: secretsBucket } } : {}) });
  await agent.start();
  const status = async (taskId: string) => (await store.status.get(`${node}.${taskId}`))?.value;
  return {
    node, dir, subnet, bridge, image, imageRoot, store, agent, runtime, network,
    ...(keyring ? { keyring } : {}), ...(secretsBucket ? { secretsBucket } : {}),
    async bind(spec) {
      await store.tasks.put(spec.id, spec);
      await store.bindings.put(spec.id, { taskId: spec.id, node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
    },
    async unbind(taskId) {
      await store.bindings.delete(taskId);
      await store.tasks.delete(taskId);
    },
    status,
    waitStatus: (taskId, what, pred, timeoutMs) => waitFor(`${taskId}: ${what}`, async () => {
      const s = await status(taskId);
      return s && pred(s) ? s : undefined;
    }, timeoutMs),
    async close() {
      await agent.stop();
      // Remove every task's container and network, then the node's bridge and directories.
      for (const c of await runtime.list()) await runtime.remove(c.id);
      await network.destroy();
      if (keyring && secretsBucket) await new SecretVolumes({ root: join(dir, 'state', 'secret-volumes'), node, keyring, source: secretsBucket }).releaseAllExcept(new Set());
      await removeNodeCgroups(`gitcell-test/${node}`);
      await nc.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** leaks lists what a node left behind: containers, overlay mounts, cgroups, namespaces, IP files. */
export async function leaks(n: Pick<TestNode, 'node' | 'dir' | 'runtime' | 'network'>, cgroupParent = `gitcell-test/${n.node}`, netnsPrefix = `gct-${n.node}-`): Promise<string[]> {
  const out: string[] = [];
  for (const c of await n.runtime.list()) out.push(`container ${c.id} (${c.status})`);
  try {
    const runcRoot = n.runtime.manager.runc.root;
    const list = execFileSync(n.runtime.manager.runc.bin, ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).trim();
    if (list) out.push(`runc containers: ${list.split('\n').join(', ')}`);
  } catch {
    // no runc root yet: nothing there
  }
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of mounts.split('\n')) if (line.includes(n.dir) || line.includes(n.runtime.manager.stateRoot)) out.push(`mount ${line.split(' ')[4]}`);
  for (const ns of await listNetns()) if (ns.startsWith(netnsPrefix)) out.push(`netns ${ns}`);
  for (const [ip, owner] of await n.network.allocations()) out.push(`ip ${ip} held by ${owner}`);
  for (const h of ['memory', 'pids', 'cpu', 'unified']) {
    const dir = join('/sys/fs/cgroup', h, cgroupParent);
    try {
      for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(`cgroup ${join(dir, e.name)}`);
    } catch {
      // hierarchy or parent not there
    }
  }
  return out;
}

/** removeNodeCgroups removes a node's (empty) cgroup parent, and its root when no other node uses it. */
export async function removeNodeCgroups(parent: string): Promise<void> {
  await removeCgroup(parent).catch(() => {});
  await removeCgroup(parent.split('/')[0]!).catch(() => {}); // ENOTEMPTY while other nodes run: fine
}
