import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
  netns: string;
  netnsPath: string;
  ip: string;
  prefix: number;
  gateway?: string;
}

interface CachedAttachment {
  id: string;
  netns: string;
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
   * is already attached and CNI CHECK agrees, the existing attachment is returned unchanged.
   */
  async setup(id: string): Promise<Attachment> {
    this.validateId(id);
    const name = this.netnsName(id);
    const cached = await this.readCache(id);
    if (cached && (await netnsExists(name))) {
      try {
        await checkNetworkList(this.list, this.invocation(id, name, 'eth0'), cached.result);
        return this.toAttachment(id, name, cached.result);
      } catch {
        // Broken attachment: fall through to a clean re-attach.
      }
    }
    if (cached || (await this.hasAllocation(id))) await this.detach(id, name, cached?.result);
    await createNetns(name);
    try {
      const result = await addNetworkList(this.list, this.invocation(id, name, 'eth0'));
      await this.writeCache({ id, netns: name, result });
      return this.toAttachment(id, name, result);
    } catch (err) {
      await this.detach(id, name, undefined).catch(() => {});
      await deleteNetns(name).catch(() => {});
      throw err;
    }
  }

  /** get returns sandbox `id`'s attachment from the cache, or undefined when it has none. */
  async get(id: string): Promise<Attachment | undefined> {
    this.validateId(id);
    const cached = await this.readCache(id);
    return cached ? this.toAttachment(id, cached.netns, cached.result) : undefined;
  }

  /** check runs CNI CHECK for sandbox `id`; it throws E_CNI_CHECK (or E_NETWORK_NOT_FOUND). */
  async check(id: string): Promise<void> {
    this.validateId(id);
    const cached = await this.readCache(id);
    if (!cached) throw new NetworkError(ErrorCodes.NetworkNotFound, `sandbox ${id} has no network attachment`, { id });
    await checkNetworkList(this.list, this.invocation(id, cached.netns, 'eth0'), cached.result);
  }

  /** teardown releases sandbox `id`'s address and deletes its namespace; missing parts are fine. */
  async teardown(id: string): Promise<void> {
    this.validateId(id);
    const name = this.netnsName(id);
    const cached = await this.readCache(id);
    await this.detach(id, name, cached?.result);
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
    for (const id of new Set((await this.allocations()).values())) if (id) await this.detach(id, this.netnsName(id), undefined).catch(() => {});
    const link = await runCommand(ipBinary(), ['link', 'show', this.options.bridge]);
    if (link.code === 0) {
      const r = await runCommand(ipBinary(), ['link', 'delete', this.options.bridge, 'type', 'bridge']);
      if (r.code !== 0) throw new NetworkError(ErrorCodes.NetworkDestroy, `cannot delete bridge ${this.options.bridge}: ${r.stderr.trim()}`, { bridge: this.options.bridge });
    }
    await rm(this.options.stateDir, { recursive: true, force: true });
  }

  private async detach(id: string, name: string, prevResult: CniResult | undefined): Promise<void> {
    // DEL tolerates a missing namespace (IPAM is still released), so it runs even after a crash.
    const inv = this.invocation(id, name, 'eth0');
    const exists = await netnsExists(name);
    if (!exists) inv.netns = '';
    try {
      await delNetworkList(this.list, inv, prevResult);
    } catch (err) {
      throw new NetworkError(ErrorCodes.CniDel, `cannot release the network of ${id}: ${errorMessage(err)}`, { id }, { cause: err });
    }
  }

  private async hasAllocation(id: string): Promise<boolean> {
    for (const owner of (await this.allocations()).values()) if (owner === id) return true;
    return false;
  }

  private invocation(id: string, name: string, ifName: string): CniInvocation {
    return { containerId: id, netns: netnsPath(name), ifName, pluginDirs: this.options.pluginDirs };
  }

  private toAttachment(id: string, name: string, result: CniResult): Attachment {
    const v4 = ipv4Of(result);
    if (!v4) throw new NetworkError(ErrorCodes.CniResult, `CNI gave sandbox ${id} no IPv4 address`, { id });
    return { id, netns: name, netnsPath: netnsPath(name), ip: v4.ip, prefix: v4.prefix, ...(v4.gateway ? { gateway: v4.gateway } : {}) };
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
