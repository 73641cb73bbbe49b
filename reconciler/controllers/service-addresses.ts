import { createHash } from 'node:crypto';
import { formatIpv4, parseIpv4, parseIpv4Cidr } from '../../lib/index.ts';

/** DEFAULT_SERVICE_CIDR is Kubernetes' default service range: 2^20 addresses keep hash collisions rare. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';

/** DEFAULT_NODE_PORT_RANGE is Kubernetes' NodePort range, inclusive. */
export const DEFAULT_NODE_PORT_RANGE: readonly [number, number] = [30000, 32767];

/** AddressRequest is what one Service asks of the allocator. */
export interface AddressRequest {
  /** `<namespace>/<name>` */
  key: string;
  headless: boolean;
  /** clusterIP pinned in Git, if any */
  clusterIP?: string;
  /** the ports that need a NodePort (type NodePort only), with the one pinned in Git if any */
  nodePorts: { name: string; protocol: 'TCP' | 'UDP'; nodePort?: number }[];
}

/** Addresses are what a Service holds: a virtual IP and a NodePort per port name. */
export interface Addresses {
  clusterIP?: string;
  nodePorts: Record<string, number>;
}

/** Allocation is a Service's addresses plus why some could not be given (a pin already taken, out of range). */
export interface Allocation extends Addresses {
  problems: string[];
}

/** AllocatorOptions: the service CIDR and the NodePort range. */
export interface AllocatorOptions {
  serviceCidr: string;
  nodePortRange?: readonly [number, number];
}

/**
 * allocateServiceAddresses gives every Service a virtual IP from the service CIDR and each NodePort
 * port a node port, keeping what they hold. Pure; the same inputs give the same answer. In order:
 *   1. kept: an unpinned Service keeps the address recorded for it (the `services` bucket), so a
 *      VIP never moves while the store lives, whatever Services come and go;
 *   2. pinned: a clusterIP or nodePort written in Git, refused (a problem, no address) when
 *      outside the range or held by another Service;
 *   3. derived: the rest start at a slot hashed from the Service's name and probe upwards to the
 *      first free one, Services in name order.
 * After a store rebuild nothing is recorded and step 3 derives the same address again for every
 * Service whose hash slot was free when it was first allocated: with the default /12, 1,000
 * Services expect about 0.5 collisions (n²/2N), and only a collided Service can move. A Service
 * that must never move pins its clusterIP in Git.
 */
export function allocateServiceAddresses(
  requests: readonly AddressRequest[],
  recorded: ReadonlyMap<string, Addresses>,
  opts: AllocatorOptions,
): Map<string, Allocation> {
  const { network, prefix } = parseIpv4Cidr(opts.serviceCidr, 'service CIDR');
  const size = 2 ** (32 - prefix);
  const [minPort, maxPort] = opts.nodePortRange ?? DEFAULT_NODE_PORT_RANGE;
  const sorted = [...requests].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out = new Map<string, Allocation>(sorted.map((r) => [r.key, { nodePorts: {}, problems: [] }]));
  const ips = new Map<number, string>(); // offset in the CIDR -> holder
  const ports = new Map<string, string>(); // "port/protocol" -> holder
  // Offsets 0 and size-1 are the network and broadcast addresses.
  const ipOffset = (ip: string): number | undefined => {
    const n = parseIpv4(ip);
    const off = n === undefined ? -1 : n - network;
    return off >= 1 && off <= size - 2 ? off : undefined;
  };
  const portKey = (port: number, protocol: string) => `${port}/${protocol}`;
  const portInRange = (p: number) => Number.isInteger(p) && p >= minPort && p <= maxPort;

  // 1. kept
  for (const r of sorted) {
    const rec = recorded.get(r.key);
    if (!rec) continue;
    const a = out.get(r.key)!;
    if (!r.headless && r.clusterIP === undefined && rec.clusterIP !== undefined) {
      const off = ipOffset(rec.clusterIP);
      if (off !== undefined && !ips.has(off)) {
        ips.set(off, r.key);
        a.clusterIP = rec.clusterIP;
      }
    }
    for (const p of r.nodePorts) {
      const held = rec.nodePorts[p.name];
      if (p.nodePort !== undefined || held === undefined || !portInRange(held) || ports.has(portKey(held, p.protocol))) continue;
      ports.set(portKey(held, p.protocol), r.key);
      a.nodePorts[p.name] = held;
    }
  }
  // 2. pinned
  for (const r of sorted) {
    const a = out.get(r.key)!;
    if (!r.headless && r.clusterIP !== undefined) {
      const off = ipOffset(r.clusterIP);
      const holder = off === undefined ? undefined : ips.get(off);
      if (off === undefined) a.problems.push(`clusterIP ${r.clusterIP} is not a usable address of the service CIDR ${opts.serviceCidr}`);
      else if (holder !== undefined && holder !== r.key) a.problems.push(`clusterIP ${r.clusterIP} is already in use by Service ${holder}`);
      else {
        ips.set(off, r.key);
        a.clusterIP = r.clusterIP;
      }
    }
    for (const p of r.nodePorts) {
      if (p.nodePort === undefined) continue;
      const k = portKey(p.nodePort, p.protocol);
      const holder = ports.get(k);
      if (!portInRange(p.nodePort)) a.problems.push(`nodePort ${p.nodePort} of port ${p.name} is outside the NodePort range ${minPort}-${maxPort}`);
      else if (holder !== undefined && holder !== r.key) a.problems.push(`nodePort ${k} of port ${p.name} is already in use by Service ${holder}`);
      else {
        ports.set(k, r.key);
        a.nodePorts[p.name] = p.nodePort;
      }
    }
  }
  // 3. derived
  for (const r of sorted) {
    const a = out.get(r.key)!;
    if (!r.headless && r.clusterIP === undefined && a.clusterIP === undefined) {
      const off = probe(slot(r.key, size - 2) + 1, size - 2, 1, (o) => !ips.has(o));
      if (off === undefined) a.problems.push(`the service CIDR ${opts.serviceCidr} is full`);
      else {
        ips.set(off, r.key);
        a.clusterIP = formatIpv4(network + off);
      }
    }
    for (const p of r.nodePorts) {
      if (p.nodePort !== undefined || a.nodePorts[p.name] !== undefined) continue;
      const span = maxPort - minPort + 1;
      const port = probe(slot(`${r.key}/${p.name}`, span) + minPort, span, minPort, (n) => !ports.has(portKey(n, p.protocol)));
      if (port === undefined) a.problems.push(`no free nodePort left in ${minPort}-${maxPort} for port ${p.name}`);
      else {
        ports.set(portKey(port, p.protocol), r.key);
        a.nodePorts[p.name] = port;
      }
    }
  }
  return out;
}

/** slot is a stable position in [0, n) derived from a name. */
function slot(name: string, n: number): number {
  return createHash('sha256').update(name).digest().readUIntBE(0, 6) % n;
}

/** probe walks the n values first, first+1, ... wrapping to `base`, and returns the first free one. */
function probe(first: number, n: number, base: number, free: (v: number) => boolean): number | undefined {
  for (let i = 0; i < n; i++) {
    const v = base + ((first - base + i) % n);
    if (free(v)) return v;
  }
  return undefined;
}
