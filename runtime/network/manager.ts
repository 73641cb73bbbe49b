import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { errorMessage, NetworkError } from '../../lib/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import {
  addNetworkList, checkNetworkList, delNetworkList, ipv4Of,
  type CniInvocation, type CniNetworkList, type CniResult,
} from './cni.ts';
import { bridgeNetworkList, validateBridgeName } from './config.ts';
import { runCommand } from './exec.ts';
import { createNetns, deleteNetns, ipBinary, listNetns, netnsExists, netnsPath, validateNetnsName } from './netns.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** NetworkManagerOptions configure one node's task network. */
export interface NetworkManagerOptions {
  /** Linux bridge of this node (unique per node on a machine), e.g. "gitcell0". */
  bridge: string;
  /** IPv4 subnet of this node's tasks, e.g. "10.88.0.0/24". */
  subnet: string;
  /** Directory owned by this manager: host-local allocations and cached CNI results. */
  stateDir: string;
  /** Prefix of the namespaces this manager creates, so several nodes on one machine never collide. */
  netnsPrefix: string;
  /** Plugin directories (CNI_PATH); default /usr/lib/cni and /opt/cni/bin. */
  pluginDirs?: string[];
  ipMasq?: boolean;
}

/** Attachment is a sandbox's network: its namespace and the address CNI gave it. */
export interface Attachment {
  id: string;
  /** the namespace's name under /var/run/netns, or '' for one the container runtime made */
  netns: string;
  /** the path CNI entered: /var/run/netns/NAME, or the container's /proc/PID/ns/net at the ADD */
  netnsPath: string;
  ip: string;
  prefix: number;
  gateway?: string;
}

interface CachedAttachment {
  id: string;
  /** the named namespace this manager made (`ip netns`), or '' when the container runtime made it */
  netns: string;
  /** the runtime's namespace (`/proc/PID/ns/net` of the container), entered only by the ADD */
  netnsPath?: string;
  result: CniResult;
}

const DEFAULT_PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * NetworkManager gives each sandbox (a task) its own network namespace and IP on the node's bridge
 * through the standard CNI plugins, and takes them back. Every operation is idempotent so a
 * restarted caller can finish a half-done setup or teardown: the ADD result is cached on disk (the
 * way libcni does) and a missing cache with a live host-local allocation is cleaned with DEL first.
 */
export class NetworkManager {
  readonly options: Required<Omit<NetworkManagerOptions, 'ipMasq'>> & { ipMasq: boolean };
  readonly list: CniNetworkList;
  private readonly ipamDir: string;
  private readonly cacheDir: string;
  /**
   * allocated: the sandboxes host-local holds an address for, read from its directory once and then
   * kept by this manager's own ADDs and DELs (it alone allocates in its directory); undefined after
   * a failed ADD or DEL (unknown outcome) until the next read. Scanning every allocation file per
   * start made 50 starts read 1,275 files.
   */
  private allocated: Set<string> | undefined;

  constructor(options: NetworkManagerOptions) {
    validateBridgeName(options.bridge);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(options.netnsPrefix)) {
      throw new NetworkError(ErrorCodes.NetworkConfig, `netnsPrefix "${options.netnsPrefix}" must be letters, digits, '_', '.', '-'`, { field: 'netnsPrefix' });
    }
    this.options = { pluginDirs: DEFAULT_PLUGIN_DIRS, ipMasq: false, ...options };
    this.ipamDir = join(options.stateDir, 'ipam');
    this.cacheDir = join(options.stateDir, 'results');
    this.list = bridgeNetworkList({
      name: `gitcell-${options.bridge}`, bridge: options.bridge, subnet: options.subnet, ipamDir: this.ipamDir, ipMasq: this.options.ipMasq,
    });
  }

  /** netnsName is the namespace name of sandbox `id`. */
  netnsName(id: string): string {
    return `${this.options.netnsPrefix}${id}`;
  }

  /**
   * setup creates sandbox `id`'s namespace with its loopback up and attaches it (bridge+host-local). If it
   * is already attached and CNI CHECK agrees, the existing attachment is returned unchanged. With
   * `netnsPath` (a created container's `/proc/PID/ns/net`: runc made the namespace, loopback up),
   * it attaches that namespace instead (attachTo).
   */
  async setup(id: string, opts: { netnsPath?: string } = {}): Promise<Attachment> {
    this.validateId(id);
    if (opts.netnsPath !== undefined) return this.attachTo(id, opts.netnsPath);
    const name = this.netnsName(id);
    const cached = await this.readCache(id);
    if (cached && !cached.netnsPath && (await netnsExists(name))) {
      try {
        await checkNetworkList(this.list, this.invocation(id, netnsPath(name)), cached.result);
        return this.toAttachment(cached);
      } catch {
        // Broken attachment: fall through to a clean re-attach.
      }
    }
    if (cached || (await this.hasAllocation(id))) await this.release(id, cached);
    await createNetns(name);
    try {
      this.allocated = undefined; // the ADD below allocates, or fails having perhaps allocated
      const result = await addNetworkList(this.list, this.invocation(id, netnsPath(name)));
      const entry = { id, netns: name, result };
      await this.writeCache(entry);
      return this.toAttachment(entry);
    } catch (err) {
      await this.detach(id, netnsPath(name), undefined).catch(() => {});
      await deleteNetns(name).catch(() => {});
      throw err;
    }
  }

  /**
   * attachTo attaches a namespace the container runtime made, between `runc create` and the start of
   * the process: no `ip netns` namespace, bind mount or process of our own, and the namespace (and
   * the veth in it) goes with the container. The sandbox's previous attachment (an earlier attempt's,
   * whose namespace died with its container) is released first and its address asked for again
   * (host-local's IP argument), so a restarted task keeps its IP; if that address is taken, any.
   */
  private async attachTo(id: string, path: string): Promise<Attachment> {
    if (!isAbsolute(path)) throw new NetworkError(ErrorCodes.NetworkConfig, `network namespace path "${path}" of ${id} is not absolute`, { id, field: 'netnsPath' });
    const cached = await this.readCache(id);
    const previousIp = cached ? ipv4Of(cached.result)?.ip : undefined;
    if (cached || (await this.hasAllocation(id))) await this.release(id, cached);
    const inv = this.invocation(id, path);
    let result: CniResult;
    try {
      try {
        result = await addNetworkList(this.list, previousIp ? { ...inv, args: `IgnoreUnknown=1;IP=${previousIp}` } : inv);
      } catch (err) {
        if (!previousIp) throw err;
        result = await addNetworkList(this.list, inv);
      }
    } catch (err) {
      this.allocated = undefined;
      await this.detach(id, '', undefined).catch(() => {});
      throw err;
    }
    this.allocated?.add(id);
    const entry = { id, netns: '', netnsPath: path, result };
    await this.writeCache(entry);
    return this.toAttachment(entry);
  }

  /** get returns sandbox `id`'s attachment from the cache, or undefined when it has none. */
  async get(id: string): Promise<Attachment | undefined> {
    this.validateId(id);
    const cached = await this.readCache(id);
    return cached ? this.toAttachment(cached) : undefined;
  }

  /** check runs CNI CHECK for sandbox `id`; it throws E_CNI_CHECK (or E_NETWORK_NOT_FOUND). */
  async check(id: string): Promise<void> {
    this.validateId(id);
    const cached = await this.readCache(id);
    if (!cached) throw new NetworkError(ErrorCodes.NetworkNotFound, `sandbox ${id} has no network attachment`, { id });
    await checkNetworkList(this.list, this.invocation(id, cached.netnsPath ?? netnsPath(cached.netns)), cached.result);
  }

  /** teardown releases sandbox `id`'s address and deletes its namespace; missing parts are fine. */
  async teardown(id: string): Promise<void> {
    this.validateId(id);
    await this.release(id, await this.readCache(id));
  }

  /**
   * release undoes an attachment: DEL (inside the named namespace while it exists; never inside a
   * runtime-made one: its container is gone or going, which takes the veth along, and its
   * /proc/PID path may name another process by now), the named namespace, the cached result.
   */
  private async release(id: string, cached: CachedAttachment | undefined): Promise<void> {
    const name = this.netnsName(id);
    const named = !cached?.netnsPath && (await netnsExists(name));
    await this.detach(id, named ? netnsPath(name) : '', cached?.result);
    await deleteNetns(name);
    await rm(this.cachePath(id), { force: true });
  }

  /** ids lists the sandboxes this manager has attached (from its cache and its namespaces). */
  async ids(): Promise<string[]> {
    const out = new Set<string>();
    for (const f of await readdirOrEmpty(this.cacheDir)) if (f.endsWith('.json')) out.add(f.slice(0, -5));
    for (const ns of await listNetns()) if (ns.startsWith(this.options.netnsPrefix)) out.add(ns.slice(this.options.netnsPrefix.length));
    return [...out].sort();
  }

  /** allocations maps each address host-local holds for this node to its sandbox id. */
  async allocations(): Promise<Map<string, string>> {
    const dir = join(this.ipamDir, this.list.name);
    const out = new Map<string, string>();
    for (const f of await readdirOrEmpty(dir)) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue;
      const content = await readFile(join(dir, f), 'utf8').catch(() => '');
      out.set(f, content.split(/\r?\n/)[0] ?? '');
    }
    return out;
  }

  /**
   * destroy tears down every sandbox and removes the bridge and this manager's state directory:
   * what a node leaves behind when it is removed (and what tests call in `after`).
   */
  async destroy(): Promise<void> {
    for (const id of await this.ids()) await this.teardown(id);
    for (const id of new Set((await this.allocations()).values())) if (id) await this.detach(id, '', undefined).catch(() => {});
    const link = await runCommand(ipBinary(), ['link', 'show', this.options.bridge]);
    if (link.code === 0) {
      const r = await runCommand(ipBinary(), ['link', 'delete', this.options.bridge, 'type', 'bridge']);
      if (r.code !== 0) throw new NetworkError(ErrorCodes.NetworkDestroy, `cannot delete bridge ${this.options.bridge}: ${r.stderr.trim()}`, { bridge: this.options.bridge });
    }
    await rm(this.options.stateDir, { recursive: true, force: true });
  }

  /** detach runs DEL in namespace `path` ('' for none: IPAM is still released, so it runs even after a crash). */
  private async detach(id: string, path: string, prevResult: CniResult | undefined): Promise<void> {
    const inv = this.invocation(id, path);
    try {
      await delNetworkList(this.list, inv, prevResult);
      this.allocated?.delete(id);
    } catch (err) {
      this.allocated = undefined;
      throw new NetworkError(ErrorCodes.CniDel, `cannot release the network of ${id}: ${errorMessage(err)}`, { id }, { cause: err });
    }
  }

  private async hasAllocation(id: string): Promise<boolean> {
    if (!this.allocated) {
      const owners = new Set((await this.allocations()).values());
      this.allocated ??= owners;
    }
    return this.allocated.has(id);
  }

  private invocation(id: string, path: string): CniInvocation {
    return { containerId: id, netns: path, ifName: 'eth0', pluginDirs: this.options.pluginDirs };
  }

  private toAttachment(e: CachedAttachment): Attachment {
    const v4 = ipv4Of(e.result);
    if (!v4) throw new NetworkError(ErrorCodes.CniResult, `CNI gave sandbox ${e.id} no IPv4 address`, { id: e.id });
    return { id: e.id, netns: e.netns, netnsPath: e.netnsPath ?? netnsPath(e.netns), ip: v4.ip, prefix: v4.prefix, ...(v4.gateway ? { gateway: v4.gateway } : {}) };
  }

  private validateId(id: string): void {
    if (!ID_RE.test(id)) throw new NetworkError(ErrorCodes.NetworkId, `sandbox id "${id}" is invalid (letters, digits, '_', '.', '-', at most 128)`, { id });
    validateNetnsName(this.netnsName(id));
  }

  private cachePath(id: string): string {
    return join(this.cacheDir, `${id}.json`);
  }

  private async readCache(id: string): Promise<CachedAttachment | undefined> {
    try {
      return JSON.parse(await readFile(this.cachePath(id), 'utf8')) as CachedAttachment;
    } catch {
      return undefined;
    }
  }

  private async writeCache(entry: CachedAttachment): Promise<void> {
    await mkdir(this.cacheDir, { recursive: true });
    // No fsync (two per task start, each holding a thread of the pool on a busy disk): the cache
    // must outlive this process, which the page cache does; after a power loss every namespace is
    // gone too, and setup() cleans a live allocation without a cache.
    await writeFileAtomic(this.cachePath(entry.id), JSON.stringify(entry), { durable: false });
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
