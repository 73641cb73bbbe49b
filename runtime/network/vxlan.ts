// The VXLAN overlay, as flannel's vxlan backend: one Linux `vxlan` device per node (no learning),
// whose address is the node's VTEP (its subnet's network address, /32) with a MAC derived from it.
// For each peer no shared link reaches: a permanent neighbour entry (VTEP address -> VTEP MAC), an
// FDB entry (VTEP MAC -> the peer's underlay address) and an on-link route to its subnet via its
// VTEP. Everything a peer needs is derived from what the store says of it (subnet, address), so
// no MAC travels through the store.
import { ErrorCodes, NetworkError, parseIpv4Cidr, formatIpv4 } from '../../lib/index.ts';
import { runCommand } from './exec.ts';
import { ipBinary } from './netns.ts';
import type { OverlayPeer, PlannedRoute } from './routes.ts';

/** VXLAN_PORT is the IANA VXLAN port. */
export const VXLAN_PORT = 4789;

/** VxlanOptions: the device, its VNI, this node's underlay address and task subnet, the namespace to work in. */
export interface VxlanOptions {
  /** device name (at most 15 characters) */
  name: string;
  vni: number;
  /** this node's underlay address: the VTEP's outer source */
  local: string;
  /** this node's task subnet: its network address is the VTEP address */
  subnet: string;
  /** a named network namespace (tests, isolated nodes); default the caller's */
  netns?: string;
  timeoutMs?: number;
}

/** vtepOf is a node's VTEP: its subnet's network address and a locally administered MAC made of it (0a:58:a:b:c:d). */
export function vtepOf(subnet: string): { address: string; mac: string } {
  const { network } = parseIpv4Cidr(subnet);
  const address = formatIpv4(network);
  const mac = ['0a', '58', ...address.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
  return { address, mac };
}

/** VxlanDevice creates, programs and removes one node's overlay device. */
export class VxlanDevice {
  constructor(private readonly o: VxlanOptions) {}

  /** ensure creates the device (or recreates one with another VNI or local address) and brings it up with the VTEP address. */
  async ensure(): Promise<void> {
    const { name, vni, local } = this.o;
    const vtep = vtepOf(this.o.subnet);
    const shown = await this.ip(['-d', '-j', 'link', 'show', name], true);
    const info = shown.code === 0 ? (JSON.parse(shown.stdout || '[]') as { address?: string; linkinfo?: { info_data?: { id?: number; local?: string } } }[])[0] : undefined;
    const data = info?.linkinfo?.info_data;
    if (info && (data?.id !== vni || data?.local !== local)) await this.ip(['link', 'del', name]);
    if (!info || data?.id !== vni || data?.local !== local) {
      await this.ip(['link', 'add', name, 'address', vtep.mac, 'type', 'vxlan', 'id', String(vni), 'local', local, 'dstport', String(VXLAN_PORT), 'nolearning']);
    }
    await this.ip(['addr', 'replace', `${vtep.address}/32`, 'dev', name]);
    await this.ip(['link', 'set', name, 'up']);
  }

  /**
   * apply makes the device's neighbour and FDB entries those of `peers` (removing the rest) and
   * returns the routes that send each peer's subnet through the device, for RouteProgrammer.
   */
  async apply(peers: readonly OverlayPeer[]): Promise<PlannedRoute[]> {
    const { name } = this.o;
    const want = new Map(peers.map((p) => [vtepOf(p.subnet).mac, { ...vtepOf(p.subnet), underlay: p.underlay }]));
    const neigh = JSON.parse((await this.ip(['-j', 'neigh', 'show', 'dev', name])).stdout || '[]') as { dst: string; lladdr?: string }[];
    for (const n of neigh) if (!n.lladdr || want.get(n.lladdr)?.address !== n.dst) await this.ip(['neigh', 'del', n.dst, 'dev', name], true);
    const fdb = JSON.parse((await this.bridge(['-j', 'fdb', 'show', 'dev', name])).stdout || '[]') as { mac: string; dst?: string }[];
    for (const f of fdb) if (f.dst && want.get(f.mac)?.underlay !== f.dst) await this.bridge(['fdb', 'del', f.mac, 'dev', name, 'dst', f.dst], true);
    for (const [mac, p] of want) {
      await this.ip(['neigh', 'replace', p.address, 'lladdr', mac, 'dev', name, 'nud', 'permanent']);
      await this.bridge(['fdb', 'replace', mac, 'dev', name, 'dst', p.underlay]);
    }
    return peers.map((p) => ({ subnet: p.subnet, via: vtepOf(p.subnet).address, node: p.node, dev: name }));
  }

  /** remove deletes the device (its entries and on-link routes go with it); a missing one is fine. */
  async remove(): Promise<void> {
    await this.ip(['link', 'del', this.o.name], true);
  }

  private async ip(args: string[], tolerate = false) {
    return this.run(ipBinary(), args, tolerate);
  }

  private async bridge(args: string[], tolerate = false) {
    return this.run('bridge', args, tolerate);
  }

  private async run(bin: string, args: string[], tolerate: boolean) {
    const argv = this.o.netns ? ['netns', 'exec', this.o.netns, bin, ...args] : args;
    const r = await runCommand(this.o.netns ? ipBinary() : bin, argv, { timeoutMs: this.o.timeoutMs ?? 10_000, helper: true });
    if (r.code !== 0 && !tolerate) throw new NetworkError(ErrorCodes.NetworkConfig, `${bin} ${args.join(' ')}: ${r.stderr.trim()}`, { args: args.join(' ') });
    return r;
  }
}
