/**
 * `gitcell up --isolated-nodes`: each simulated node is its own "machine": a network namespace of
 * its own (its own root network stack: task bridge, routes, VXLAN, nft table, dnsmasq), with one
 * veth onto an underlay bridge that up owns in the machine's namespace. The bridge holds the
 * underlay gateway, where the embedded NATS server listens: the agents reach NATS over the underlay,
 * as real machines reach it over their network, and the cluster network between nodes is the
 * cross-machine path for real (host-gw routes over the shared underlay link).
 *
 *   root ns: bridge gcu<tag> (<underlay>.254, NATS) ─┬─ veth ─► netns gcm-<tag>-node-1 (<underlay>.1) ─ agent (nsenter --net)
 *                                                   └─ veth ─► netns gcm-<tag>-node-2 (<underlay>.2) ─ agent
 *
 * Agents enter the namespace with `nsenter --net` only (not `ip netns exec`, which would also give
 * them a mount namespace of their own, hiding their containers' mounts from the machine). Every
 * namespace, veth and the bridge are removed on stop (a namespace takes its veth, task bridge, nft
 * table and routes with it), and at the next start when a killed up left them behind.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { runCommand } from '../../runtime/network/exec.ts';
import { ipBinary } from '../../runtime/network/netns.ts';
import { clusterTag } from './naming.ts';

/** IsolatedNodes is the underlay of one cluster: its bridge, gateway and one namespace per node. */
export interface IsolatedNodes {
  bridge: string;
  /** the underlay gateway on the bridge: where NATS listens */
  gateway: string;
  /** the underlay's CIDR */
  cidr: string;
  /** node -> its namespace and underlay address */
  nodes: Map<string, { netns: string; address: string }>;
}

/** isolatedLayout names everything of a cluster's underlay (pure): 172.30.<k>.0/24 with k from the cluster tag. */
export function isolatedLayout(stateDir: string, nodes: readonly string[]): IsolatedNodes {
  const tag = clusterTag(stateDir);
  const k = createHash('sha256').update(`underlay\0${resolve(stateDir)}`).digest().readUInt8(0);
  const base = `172.30.${k}`;
  return {
    bridge: `gcu${tag}`,
    gateway: `${base}.254`,
    cidr: `${base}.0/24`,
    nodes: new Map(nodes.map((n, i) => [n, { netns: `gcm-${tag}-${n}`, address: `${base}.${i + 1}` }])),
  };
}

/** nodeCommand runs `argv` inside a node's network namespace only (nsenter --net). */
export function nodeCommand(layout: IsolatedNodes, node: string, argv: string[]): { command: string; args: string[] } {
  const ns = layout.nodes.get(node)!.netns;
  return { command: 'nsenter', args: [`--net=/run/netns/${ns}`, '--', ...argv] };
}

async function ip(args: string[], tolerate = false): Promise<void> {
  const r = await runCommand(ipBinary(), args, { timeoutMs: 30_000 });
  if (r.code !== 0 && !tolerate) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** createIsolatedNodes builds the underlay (removing what a killed up left first); on failure it removes what it made. */
export async function createIsolatedNodes(layout: IsolatedNodes): Promise<void> {
  await destroyIsolatedNodes(layout);
  try {
    await ip(['link', 'add', layout.bridge, 'type', 'bridge']);
    await ip(['addr', 'add', `${layout.gateway}/24`, 'dev', layout.bridge]);
    await ip(['link', 'set', layout.bridge, 'up']);
    let i = 0;
    for (const [, n] of layout.nodes) {
      const host = `${layout.bridge}v${i++}`;
      await ip(['netns', 'add', n.netns]);
      await ip(['-n', n.netns, 'link', 'set', 'lo', 'up']);
      await ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns]);
      await ip(['link', 'set', host, 'master', layout.bridge, 'up']);
      await ip(['-n', n.netns, 'addr', 'add', `${n.address}/24`, 'dev', 'eth0']);
      await ip(['-n', n.netns, 'link', 'set', 'eth0', 'up']);
    }
  } catch (err) {
    await destroyIsolatedNodes(layout);
    throw err;
  }
}

/** destroyIsolatedNodes deletes every node namespace and the underlay bridge; missing ones are fine. */
export async function destroyIsolatedNodes(layout: IsolatedNodes): Promise<void> {
  for (const [, n] of layout.nodes) await ip(['netns', 'delete', n.netns], true);
  await ip(['link', 'delete', layout.bridge], true);
}
