/**
 * ClusterNetwork: this node's share of the cluster network, driven by the store. From every other
 * node's allocated subnet (`subnets`) and addresses (`nodes`) it plans (runtime/network planRoutes)
 * a host-gw route to each peer on a shared link and a VXLAN path (device, neighbour, FDB, on-link
 * route) to each other peer, and programs them; a node whose record or allocation is deleted
 * loses its routes and entries on every node at the next pass.
 *
 *   nodes, subnets ─► informers ─► pass: links (ip addr) + planRoutes ─► VxlanDevice.apply ─► RouteProgrammer.apply
 *                    (heartbeats ignored)   every change, and every tickMs (repairs)
 */
import type { NodeRecord, NodeSubnetRecord } from '../api/index.ts';
import { errorMessage, formatIpv4, ipv4InSubnet, parseIpv4, PassRunner, type Logger } from '../lib/index.ts';
import { planRoutes, RouteProgrammer, runCommand, VxlanDevice, type LocalLink, type PeerNode } from '../runtime/network/index.ts';
import { ipBinary } from '../runtime/network/netns.ts';
import { Informer, type InformerChange, type InformerSource } from '../store/index.ts';

/** ClusterNetworkOptions: this node, its subnet, the buckets to follow and the overlay device's name. */
export interface ClusterNetworkOptions {
  node: string;
  subnet: string;
  nodes: InformerSource<NodeRecord>;
  subnets: InformerSource<NodeSubnetRecord>;
  /** the VXLAN device (at most 15 characters), made only when some peer needs the overlay */
  vxlanName: string;
  log: Logger;
  /** a named network namespace to program instead of the agent's own (tests) */
  netns?: string;
  /** a pass at least this often, to repair what someone else changed (default 30 s) */
  tickMs?: number;
}

/** VXLAN_VNI is the cluster overlay's VXLAN network identifier. */
export const VXLAN_VNI = 4242;

/** ClusterNetwork follows the store and programs this node's routes; see the file comment. */
export class ClusterNetwork {
  private readonly ac = new AbortController();
  private readonly routes: RouteProgrammer;
  private vxlan: VxlanDevice | undefined;
  private runner: PassRunner | undefined;
  private informers: Informer<unknown>[] = [];
  /** what the last pass programmed, for tests and logs */
  last: { hostGw: string[]; overlay: string[]; unreachable: string[] } = { hostGw: [], overlay: [], unreachable: [] };

  constructor(private readonly o: ClusterNetworkOptions) {
    this.routes = new RouteProgrammer(o.netns ? { netns: o.netns } : {});
  }

  /** start follows both buckets; passes begin once both are synced. */
  start(): void {
    const { signal } = this.ac;
    const runner = (this.runner = new PassRunner({
      signal,
      tickMs: this.o.tickMs ?? 30_000,
      ready: () => nodes.hasSynced && subnets.hasSynced,
      onError: (err, failures) => this.o.log.warn({ err: errorMessage(err), failures }, 'cluster network: pass failed, retrying'),
      pass: () => this.pass(nodes, subnets),
    }));
    // Addresses matter, heartbeats do not.
    const onNode = (c: InformerChange<NodeRecord>) => (!c || !c.prev || !c.next || c.prev.addresses.join() !== c.next.addresses.join() ? runner.request() : undefined);
    const nodes = new Informer<NodeRecord>(this.o.nodes, { signal, log: this.o.log, onChange: onNode });
    const subnets = new Informer<NodeSubnetRecord>(this.o.subnets, { signal, log: this.o.log, onChange: () => runner.request() });
    this.informers = [nodes as Informer<unknown>, subnets as Informer<unknown>];
  }

  /** stop ends the watches; with `remove` (the node leaves for good) it also deletes every route and the overlay device. */
  async stop(opts: { remove?: boolean } = {}): Promise<void> {
    this.ac.abort();
    await this.runner?.stop();
    await Promise.allSettled(this.informers.map((i) => i.done));
    if (!opts.remove) return; // routes stay for the next agent: tasks keep talking while it restarts
    await this.routes.removeAll().catch((err: unknown) => this.o.log.warn({ err: errorMessage(err) }, 'cluster network: cannot remove routes'));
    await this.device('').remove();
  }

  private async pass(nodes: Informer<NodeRecord>, subnets: Informer<NodeSubnetRecord>): Promise<void> {
    const links = await localLinks(this.o.subnet, this.o.netns);
    const peers: PeerNode[] = subnets.values().flatMap((s) => {
      const n = nodes.get(s.node);
      // A node is its key: a record naming another node, or no record at all (it left), gets no route.
      return s.subnet && n && n.name === s.node ? [{ name: s.node, subnet: s.subnet, addresses: n.addresses ?? [] }] : [];
    });
    const plan = planRoutes(this.o.node, links, peers);
    let overlayRoutes: Awaited<ReturnType<VxlanDevice['apply']>> = [];
    if (plan.overlay.length > 0 && links[0]) {
      this.vxlan ??= this.device(links[0].address);
      await this.vxlan.ensure();
      overlayRoutes = await this.vxlan.apply(plan.overlay);
    } else if (this.vxlan) {
      await this.vxlan.remove();
      this.vxlan = undefined;
    }
    const changed = await this.routes.apply([...plan.routes, ...overlayRoutes]);
    this.last = { hostGw: plan.routes.map((r) => r.node), overlay: plan.overlay.map((p) => p.node), unreachable: plan.unreachable.map((u) => u.node) };
    if (changed.added.length || changed.removed.length || plan.unreachable.length) this.o.log.info({ ...changed, ...this.last }, 'cluster network: routes programmed');
  }

  private device(local: string): VxlanDevice {
    return new VxlanDevice({ name: this.o.vxlanName, vni: VXLAN_VNI, local, subnet: this.o.subnet, ...(this.o.netns ? { netns: this.o.netns } : {}) });
  }
}

/**
 * localLinks are this host's IPv4 underlay addresses with their link's CIDR: every global address
 * but those in the node's own task subnet (its bridge) and host routes (/32, a VTEP).
 */
export async function localLinks(ownSubnet: string, netns?: string): Promise<LocalLink[]> {
  const r = await runCommand(ipBinary(), [...(netns ? ['-n', netns] : []), '-j', '-4', 'addr', 'show'], { timeoutMs: 10_000, helper: true });
  if (r.code !== 0) throw new Error(`ip addr show: ${r.stderr.trim()}`);
  const ifaces = JSON.parse(r.stdout || '[]') as { addr_info?: { local: string; prefixlen: number; scope?: string }[] }[];
  const out: LocalLink[] = [];
  for (const a of ifaces.flatMap((i) => i.addr_info ?? [])) {
    if (a.scope !== 'global' || a.prefixlen >= 32 || ipv4InSubnet(a.local, ownSubnet)) continue;
    out.push({ address: a.local, cidr: networkOf(a.local, a.prefixlen) });
  }
  return out;
}

function networkOf(ip: string, prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${formatIpv4(((parseIpv4(ip) ?? 0) & mask) >>> 0)}/${prefix}`;
}
