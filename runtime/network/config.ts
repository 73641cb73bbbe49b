import { NetworkError } from '../../lib/errors.ts';
import { parseIpv4Cidr } from '../../lib/ipv4.ts';
import type { CniNetworkList } from './cni.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

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

// The IPv4 helpers live in lib/ (the service network uses them too); re-exported for runtime's users.
export { parseIpv4Cidr, formatIpv4, ipv4InSubnet } from '../../lib/ipv4.ts';

/** validateBridgeName checks a Linux interface name: 1-15 characters, no '/', no whitespace. */
export function validateBridgeName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) {
    throw new NetworkError(ErrorCodes.NetworkConfig, `bridge "${name}" is not a valid interface name (1-15 letters, digits, '_', '.', '-')`, { field: 'bridge', value: name });
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
    throw new NetworkError(ErrorCodes.NetworkConfig, `network name "${o.name}" must be letters, digits, '_', '.', '-'`, { field: 'name', value: o.name });
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
