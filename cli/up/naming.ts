/**
 * Machine-global names of a `gitcell up` cluster. Node names (node-1, node-2, ...) are per cluster,
 * but bridges, network namespaces and cgroups are per machine: two `up`s on one machine (different
 * --cluster-dir and --subnet-base) must never share one. Every such name carries a short tag derived
 * from the absolute state dir, so it also tells which cluster left it behind.
 *
 *   /abs/cluster-dir ─sha256─► tag "3f9a1c0b" ─► bridge     gc<hash(state, node)>      (15 chars max)
 *                                           ─► netns      gc-3f9a1c0b-node-1-<task>
 *                                           ─► cgroups    gitcell/up-3f9a1c0b/node-1/<container>
 */
import { createHash } from 'node:crypto';
import { readdirSync, rmdirSync } from 'node:fs';
import { hostname, type NetworkInterfaceInfo } from 'node:os';
import { join, resolve } from 'node:path';

/** clusterTag is 8 hex characters identifying the cluster of an (absolute or relative) state dir. Pure. */
export function clusterTag(stateDir: string): string {
  return createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8);
}

/** nodeName is the name of the i-th simulated node (1-based), unique only inside its cluster. */
export function nodeName(i: number): string {
  return `node-${i}`;
}

/** nodeBridge is the Linux bridge of a node: interface names have at most 15 characters, so a hash. Pure. */
export function nodeBridge(stateDir: string, node: string): string {
  return `gc${createHash('sha256').update(`${resolve(stateDir)}\0${node}`).digest('hex').slice(0, 8)}`;
}

/** clusterCgroupParent is the cgroup (below every hierarchy root) holding all of a cluster's nodes. Pure. */
export function clusterCgroupParent(stateDir: string): string {
  return `gitcell/up-${clusterTag(stateDir)}`;
}

/** nodeCgroupParent is the cgroup parent of a node's containers: `gitcell/up-<tag>/<node>`. Pure. */
export function nodeCgroupParent(stateDir: string, node: string): string {
  return `${clusterCgroupParent(stateDir)}/${node}`;
}

/** nodeNetnsPrefix starts the name of every network namespace of a node's tasks: `gc-<tag>-<node>-`. Pure. */
export function nodeNetnsPrefix(stateDir: string, node: string): string {
  return `gc-${clusterTag(stateDir)}-${node}-`;
}

/**
 * componentIdentity is the leader identity of a control-plane component `up` supervises
 * (`<host>-up-<tag>-<component>`): stable across its restarts, so a restarted reconciler or scheduler
 * takes its own lease back at once (the supervisor never runs two instances of one component), and
 * distinct between clusters and machines, so two `up`s sharing NATS never take each other's. Pure
 * given the host name.
 */
export function componentIdentity(stateDir: string, component: string, host: string = hostname()): string {
  return `${host}-up-${clusterTag(stateDir)}-${component}`;
}

/** MAX_UP_NODES is the most nodes one `gitcell up` simulates (--nodes). */
export const MAX_UP_NODES = 200;

/**
 * subnetBaseHolder names the host interface, other than this cluster's own bridges (left by an
 * earlier run of it), that holds an address in `<subnetBase>.0.0/16`, if any. Node subnets are a hash
 * of the node's name, so two clusters on one /16 give their node-2 the same subnet: one bridge address
 * on two bridges, routes that shadow each other and a DNS server that cannot bind. Pure.
 */
export function subnetBaseHolder(subnetBase: string, stateDir: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): { iface: string; address: string } | undefined {
  const own = new Set(Array.from({ length: MAX_UP_NODES }, (_, i) => nodeBridge(stateDir, nodeName(i + 1))));
  for (const [iface, addrs] of Object.entries(interfaces)) {
    if (own.has(iface)) continue;
    const a = (addrs ?? []).find((x) => x.family === 'IPv4' && x.address.startsWith(`${subnetBase}.`));
    if (a) return { iface, address: a.address };
  }
  return undefined;
}

/**
 * removeClusterCgroups removes the (now empty) cgroup parents `gitcell/up-<tag>/<node>` the agents'
 * containers left, then the cluster's own `gitcell/up-<tag>`.
 */
export function removeClusterCgroups(stateDir: string, nodes: string[]): void {
  const root = '/sys/fs/cgroup';
  let controllers: string[] = [];
  try {
    controllers = readdirSync(root);
  } catch {
    return;
  }
  for (const c of ['', ...controllers]) {
    for (const dir of [...nodes.map((node) => nodeCgroupParent(stateDir, node)), clusterCgroupParent(stateDir)]) {
      try {
        rmdirSync(join(root, c, dir));
      } catch {
        // absent, not a hierarchy, or still busy: nothing to do here
      }
    }
  }
}
