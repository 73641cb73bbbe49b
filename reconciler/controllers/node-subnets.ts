// The node network's allocator: each node's task subnet, decided by the control plane so that no two
// nodes hold overlapping ones (a node's own record only says which one it asks for). Pure.
import { formatIpv4, parseIpv4Cidr } from '../../lib/index.ts';
import { hashSlot, probeFree } from './hash-slot.ts';

/**
 * DEFAULT_CLUSTER_CIDR is where node subnets come from when none is configured: 10.128.0.0/9 holds
 * 32,768 /24 subnets (a 10,000-node cluster rarely collides on its hash slot) and stays clear of the
 * service CIDR 10.96.0.0/12.
 */
export const DEFAULT_CLUSTER_CIDR = '10.128.0.0/9';

/** DEFAULT_NODE_SUBNET_PREFIX: each node gets a /24 (253 task addresses), as flannel's default. */
export const DEFAULT_NODE_SUBNET_PREFIX = 24;

/** SubnetRequest is one node: its name and the subnet its record asks for (one it already uses), if any. */
export interface SubnetRequest {
  node: string;
  requested?: string;
}

/** SubnetAllocation is a node's subnet, or why it has none. */
export interface SubnetAllocation {
  subnet?: string;
  problem?: string;
}

/** SubnetAllocatorOptions: the range node subnets are derived from and their size. */
export interface SubnetAllocatorOptions {
  clusterCidr: string;
  /** prefix length of each node's subnet (default 24) */
  nodePrefix?: number;
}

interface Held {
  start: number;
  end: number;
  node: string;
  cidr: string;
}

/**
 * allocateNodeSubnets gives every node a task subnet that overlaps no other node's, in order:
 *   1. kept: a node keeps the subnet recorded for it (the `subnets` bucket) unless it now asks for
 *      another, so a subnet never moves while the store lives;
 *   2. requested: a subnet a node asks for (one its tasks already use: a static `--subnet`, or the
 *      one it was given before a store rebuild) is given when it overlaps no subnet held by another
 *      node, else refused with a problem naming the holder (a node cannot take another's addresses);
 *   3. derived: the rest start at a slot of the cluster CIDR hashed from the node's name and probe
 *      upwards to the first free one, nodes in name order.
 * The same inputs give the same answer.
 */
export function allocateNodeSubnets(requests: readonly SubnetRequest[], recorded: ReadonlyMap<string, string>, opts: SubnetAllocatorOptions): Map<string, SubnetAllocation> {
  const cluster = parseIpv4Cidr(opts.clusterCidr, 'cluster CIDR');
  const nodePrefix = opts.nodePrefix ?? DEFAULT_NODE_SUBNET_PREFIX;
  if (!Number.isInteger(nodePrefix) || nodePrefix < cluster.prefix || nodePrefix > 30) {
    throw new RangeError(`node subnet prefix /${nodePrefix} must be between the cluster CIDR's /${cluster.prefix} and /30`);
  }
  const sorted = [...requests].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const out = new Map<string, SubnetAllocation>(sorted.map((r) => [r.node, {}]));
  const held = new HeldRanges();
  const overlapping = (h: { start: number; end: number }) => held.overlapping(h.start, h.end);
  const take = (node: string, cidr: string): string | undefined => {
    const range = rangeOf(cidr);
    if (!range) return `subnet "${cidr}" is not an IPv4 CIDR between /8 and /30`;
    const other = overlapping(range);
    if (other) return `subnet ${cidr} overlaps node ${other.node}'s ${other.cidr}`;
    held.add({ ...range, node, cidr });
    out.get(node)!.subnet = cidr;
    return undefined;
  };
  for (const r of sorted) {
    const rec = recorded.get(r.node);
    if (rec !== undefined && (r.requested === undefined || r.requested === rec)) take(r.node, rec);
  }
  for (const r of sorted) {
    if (r.requested === undefined || out.get(r.node)!.subnet !== undefined) continue;
    const problem = take(r.node, r.requested);
    if (problem) out.get(r.node)!.problem = `requested ${problem}; refused`;
  }
  const size = 2 ** (32 - nodePrefix);
  const slots = 2 ** (nodePrefix - cluster.prefix);
  for (const r of sorted) {
    const a = out.get(r.node)!;
    if (a.subnet !== undefined || a.problem !== undefined) continue;
    const slot = probeFree(hashSlot(r.node, slots), slots, 0, (i) => !overlapping({ start: cluster.network + i * size, end: cluster.network + (i + 1) * size - 1 }));
    if (slot === undefined) a.problem = `the cluster CIDR ${opts.clusterCidr} has no free /${nodePrefix} left`;
    else take(r.node, `${formatIpv4(cluster.network + slot * size)}/${nodePrefix}`);
  }
  return out;
}

/** rangeOf is a CIDR's first and last address, or undefined when it is not a usable one. */
function rangeOf(cidr: string): { start: number; end: number } | undefined {
  try {
    const { network, prefix } = parseIpv4Cidr(cidr);
    return { start: network, end: network + 2 ** (32 - prefix) - 1 };
  } catch {
    return undefined;
  }
}

/** HeldRanges are the subnets given so far, disjoint and sorted by start: an overlap test is a binary search. */
class HeldRanges {
  private readonly sorted: Held[] = [];

  /** overlapping is the held range that shares an address with [start, end], if any. */
  overlapping(start: number, end: number): Held | undefined {
    const i = this.lastStartingBy(end);
    const h = i >= 0 ? this.sorted[i] : undefined;
    return h && h.end >= start ? h : undefined;
  }

  /** add holds a range that overlaps none held (the caller checked). */
  add(h: Held): void {
    this.sorted.splice(this.lastStartingBy(h.start) + 1, 0, h);
  }

  /** lastStartingBy is the index of the last range starting at or before `at` (-1: none). */
  private lastStartingBy(at: number): number {
    let lo = 0;
    let hi = this.sorted.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]!.start <= at) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}
