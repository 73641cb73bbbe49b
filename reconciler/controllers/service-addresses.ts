import { formatIpv4, parseIpv4, parseIpv4Cidr } from '../../lib/index.ts';
import { hashSlot as slot, probeFree as probe } from './hash-slot.ts';

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
  const t: AddressTable = {
    cidr: opts.serviceCidr, network, size, minPort, maxPort,
    out: new Map(sorted.map((r) => [r.key, { nodePorts: {}, problems: [] }])),
    ips: new Map(),
    ports: new Map(),
  };
  for (const r of sorted) keepRecorded(t, r, recorded.get(r.key));
  for (const r of sorted) takePinned(t, r);
  for (const r of sorted) deriveRest(t, r);
  return t.out;
}

/** AddressTable is one allocation in progress: the ranges, who holds what, and each Service's result. */
interface AddressTable {
  cidr: string;
  network: number;
  size: number;
  minPort: number;
  maxPort: number;
  out: Map<string, Allocation>;
  /** offset in the CIDR -> holder */
  ips: Map<number, string>;
  /** "port/protocol" -> holder */
  ports: Map<string, string>;
}

/** ipOffset is an address's offset in the CIDR; offsets 0 and size-1 (network, broadcast) are not usable. */
function ipOffset(t: AddressTable, ip: string): number | undefined {
  const n = parseIpv4(ip);
  const off = n === undefined ? -1 : n - t.network;
  return off >= 1 && off <= t.size - 2 ? off : undefined;
}

function portKey(port: number, protocol: string): string {
  return `${port}/${protocol}`;
}

function portInRange(t: AddressTable, p: number): boolean {
  return Number.isInteger(p) && p >= t.minPort && p <= t.maxPort;
}

/** keepRecorded (step 1): an unpinned Service keeps what the `services` bucket records for it, while free. */
function keepRecorded(t: AddressTable, r: AddressRequest, rec: Addresses | undefined): void {
  if (!rec) return;
  const a = t.out.get(r.key)!;
  if (!r.headless && r.clusterIP === undefined && rec.clusterIP !== undefined) {
    const off = ipOffset(t, rec.clusterIP);
    if (off !== undefined && !t.ips.has(off)) {
      t.ips.set(off, r.key);
      a.clusterIP = rec.clusterIP;
    }
  }
  for (const p of r.nodePorts) {
    const held = rec.nodePorts[p.name];
    if (p.nodePort !== undefined || held === undefined || !portInRange(t, held) || t.ports.has(portKey(held, p.protocol))) continue;
    t.ports.set(portKey(held, p.protocol), r.key);
    a.nodePorts[p.name] = held;
  }
}

/** takePinned (step 2): a clusterIP or nodePort written in Git, refused when outside the range or held by another Service. */
function takePinned(t: AddressTable, r: AddressRequest): void {
  const a = t.out.get(r.key)!;
  if (!r.headless && r.clusterIP !== undefined) {
    const off = ipOffset(t, r.clusterIP);
    const holder = off === undefined ? undefined : t.ips.get(off);
    if (off === undefined) a.problems.push(`clusterIP ${r.clusterIP} is not a usable address of the service CIDR ${t.cidr}`);
    else if (holder !== undefined && holder !== r.key) a.problems.push(`clusterIP ${r.clusterIP} is already in use by Service ${holder}`);
    else {
      t.ips.set(off, r.key);
      a.clusterIP = r.clusterIP;
    }
  }
  for (const p of r.nodePorts) {
    if (p.nodePort === undefined) continue;
    const k = portKey(p.nodePort, p.protocol);
    const holder = t.ports.get(k);
    if (!portInRange(t, p.nodePort)) a.problems.push(`nodePort ${p.nodePort} of port ${p.name} is outside the NodePort range ${t.minPort}-${t.maxPort}`);
    else if (holder !== undefined && holder !== r.key) a.problems.push(`nodePort ${k} of port ${p.name} is already in use by Service ${holder}`);
    else {
      t.ports.set(k, r.key);
      a.nodePorts[p.name] = p.nodePort;
    }
  }
}

/** deriveRest (step 3): what is still missing starts at a slot hashed from the name and probes upwards. */
function deriveRest(t: AddressTable, r: AddressRequest): void {
  const a = t.out.get(r.key)!;
  if (!r.headless && r.clusterIP === undefined && a.clusterIP === undefined) {
    const off = probe(slot(r.key, t.size - 2) + 1, t.size - 2, 1, (o) => !t.ips.has(o));
    if (off === undefined) a.problems.push(`the service CIDR ${t.cidr} is full`);
    else {
      t.ips.set(off, r.key);
      a.clusterIP = formatIpv4(t.network + off);
    }
  }
  for (const p of r.nodePorts) {
    if (p.nodePort !== undefined || a.nodePorts[p.name] !== undefined) continue;
    const span = t.maxPort - t.minPort + 1;
    const port = probe(slot(`${r.key}/${p.name}`, span) + t.minPort, span, t.minPort, (n) => !t.ports.has(portKey(n, p.protocol)));
    if (port === undefined) a.problems.push(`no free nodePort left in ${t.minPort}-${t.maxPort} for port ${p.name}`);
    else {
      t.ports.set(portKey(port, p.protocol), r.key);
      a.nodePorts[p.name] = port;
    }
  }
}
