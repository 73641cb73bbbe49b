import { GitcellError } from '../../lib/errors.ts';
import type { CniNetworkList } from './cni.ts';

/** BridgeNetworkOptions describe one node's task network: a Linux bridge and an IPv4 subnet. */
export interface BridgeNetworkOptions {
  /** CNI network name; also the host-local directory name under `ipamDir`. */
  name: string;
  /** Linux bridge device, at most 15 characters (IFNAMSIZ), e.g. "gitcell0". */
  bridge: string;
  /** IPv4 CIDR the tasks' addresses come from, e.g. "10.88.0.0/24"; the bridge takes the first host. */
  subnet: string;
  /** host-local's data directory: one file per allocated address. */
  ipamDir: string;
  /** Masquerade traffic leaving the subnet; off by default so tasks cannot reach the outside. */
  ipMasq?: boolean;
}

/** parseIpv4Cidr parses "a.b.c.d/n" and checks the address is the network address. */
export function parseIpv4Cidr(cidr: string, field = 'subnet'): { network: number; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new GitcellError('E_NETWORK_CONFIG', `${field} "${cidr}" is not an IPv4 CIDR like 10.88.0.0/24`, { field, value: cidr });
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) throw new GitcellError('E_NETWORK_CONFIG', `${field} "${cidr}" has an octet above 255`, { field, value: cidr });
  const prefix = Number(m[5]);
  // /31 and /32 leave no room for a gateway and tasks.
  if (prefix < 8 || prefix > 30) throw new GitcellError('E_NETWORK_CONFIG', `${field} "${cidr}" prefix must be between /8 and /30`, { field, value: cidr });
  const network = octets.reduce((acc, o) => acc * 256 + o, 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((network & mask) >>> 0 !== network) {
    throw new GitcellError('E_NETWORK_CONFIG', `${field} "${cidr}" has host bits set; did you mean ${formatIpv4((network & mask) >>> 0)}/${prefix}?`, { field, value: cidr });
  }
  return { network, prefix };
}

/** formatIpv4 renders a 32-bit number as a dotted quad. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** ipv4InSubnet tells whether a dotted-quad address lies inside a CIDR. */
export function ipv4InSubnet(ip: string, cidr: string): boolean {
  const { network, prefix } = parseIpv4Cidr(cidr);
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return false;
  const n = parts.reduce((acc, o) => acc * 256 + o, 0);
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return ((n & mask) >>> 0) === network;
}

/** validateBridgeName checks a Linux interface name: 1-15 characters, no '/', no whitespace. */
export function validateBridgeName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) {
    throw new GitcellError('E_NETWORK_CONFIG', `bridge "${name}" is not a valid interface name (1-15 letters, digits, '_', '.', '-')`, { field: 'bridge', value: name });
  }
}

/**
 * bridgeNetworkList is the one place the node's CNI configuration is spelled out: the `bridge`
 * plugin (gateway address on the bridge so the node reaches its tasks, default route through it so
 * tasks reach other nodes' subnets when the host routes) with `host-local` IPAM over the subnet.
 */
export function bridgeNetworkList(o: BridgeNetworkOptions): CniNetworkList {
  validateBridgeName(o.bridge);
  parseIpv4Cidr(o.subnet);
  if (!/^[A-Za-z0-9_.-]+$/.test(o.name)) {
    throw new GitcellError('E_NETWORK_CONFIG', `network name "${o.name}" must be letters, digits, '_', '.', '-'`, { field: 'name', value: o.name });
  }
  return {
    cniVersion: '1.0.0',
    name: o.name,
    plugins: [
      {
        type: 'bridge',
        bridge: o.bridge,
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: o.ipMasq ?? false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet }]], dataDir: o.ipamDir },
      },
    ],
  };
}

/** loopbackNetworkList brings `lo` up inside a task's namespace. */
export function loopbackNetworkList(): CniNetworkList {
  return { cniVersion: '1.0.0', name: 'gitcell-loopback', plugins: [{ type: 'loopback' }] };
}
