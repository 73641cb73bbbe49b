// Cross-node routes, as flannel's host-gw backend: a route to every other node's task subnet via
// that node's address, when the two share a link. `planRoutes` decides (pure); `RouteProgrammer`
// makes the kernel's routes of protocol ROUTE_PROTO match the plan (the edge: `ip route`), so
// routes of nodes that left are found and removed, even after a restart of the agent.
import { ErrorCodes, NetworkError, ipv4InSubnet } from '../../lib/index.ts';
import { runCommand } from './exec.ts';

/** ROUTE_PROTO marks gitcell's routes in the kernel (`ip route show proto 211`). */
export const ROUTE_PROTO = '211';

/** PeerNode is what routing needs of another node: its task subnet and addresses. */
export interface PeerNode {
  name: string;
  subnet?: string;
  addresses: readonly string[];
}

/** LocalLink is one of this node's own underlay addresses with its link's CIDR (e.g. 10.250.0.2 in 10.250.0.0/24). */
export interface LocalLink {
  address: string;
  cidr: string;
}

/** PlannedRoute is one peer subnet's route: via the peer itself (host-gw), or through the overlay device `dev`. */
export interface PlannedRoute {
  subnet: string;
  via: string;
  node: string;
  /** the VXLAN device: `via` is then the peer's VTEP address, reached on-link */
  dev?: string;
}

/** OverlayPeer is a peer reached through the VXLAN overlay: its subnet and the underlay address its VTEP listens on. */
export interface OverlayPeer {
  node: string;
  subnet: string;
  underlay: string;
}

/** RoutePlan: host-gw routes, the peers the VXLAN overlay reaches, and the peers nothing reaches (no address at all). */
export interface RoutePlan {
  routes: { subnet: string; via: string; node: string }[];
  overlay: OverlayPeer[];
  unreachable: { node: string; reason: string }[];
}

/**
 * planRoutes routes each peer's subnet via its first address on one of our links (host-gw). A peer
 * with one of our own addresses is this machine (nodes sharing a host: its bridge is already
 * connected) and gets no route; a peer on no shared link goes through the VXLAN overlay to its first
 * address (the underlay routes it); a peer without any address is unreachable. Pure.
 */
export function planRoutes(self: string, links: readonly LocalLink[], peers: readonly PeerNode[]): RoutePlan {
  const own = new Set(links.map((l) => l.address));
  const plan: RoutePlan = { routes: [], overlay: [], unreachable: [] };
  for (const p of [...peers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (p.name === self || !p.subnet) continue;
    if (p.addresses.some((a) => own.has(a))) continue;
    const via = p.addresses.find((a) => links.some((l) => safeIn(a, l.cidr)));
    if (via) plan.routes.push({ subnet: p.subnet, via, node: p.name });
    else if (p.addresses[0]) plan.overlay.push({ node: p.name, subnet: p.subnet, underlay: p.addresses[0] });
    else plan.unreachable.push({ node: p.name, reason: `node ${p.name} reports no address` });
  }
  return plan;
}

function safeIn(ip: string, cidr: string): boolean {
  try {
    return ipv4InSubnet(ip, cidr);
  } catch {
    return false;
  }
}

/** RouteProgrammer makes the kernel's gitcell routes (in `netns`, default the caller's) match a plan. */
export class RouteProgrammer {
  constructor(private readonly o: { netns?: string; timeoutMs?: number } = {}) {}

  /** current lists the routes of protocol ROUTE_PROTO: subnet -> gateway (and ` dev X` for an on-link overlay route). */
  async current(): Promise<Map<string, string>> {
    const r = await this.ip(['-j', 'route', 'show', 'proto', ROUTE_PROTO]);
    const rows = JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string; dev?: string; flags?: string[] }[];
    return new Map(rows.map((x) => [x.dst, `${x.gateway ?? ''}${x.flags?.includes('onlink') ? ` dev ${x.dev}` : ''}`]));
  }

  /** apply adds or replaces the plan's routes and deletes gitcell routes the plan no longer has; returns what changed. */
  async apply(routes: readonly PlannedRoute[]): Promise<{ added: string[]; removed: string[] }> {
    const have = await this.current();
    const want = new Map(routes.map((r) => [r.subnet, r]));
    const added: string[] = [];
    const removed: string[] = [];
    for (const [subnet, r] of want) {
      if (have.get(subnet) === `${r.via}${r.dev ? ` dev ${r.dev}` : ''}`) continue;
      await this.ip(['route', 'replace', subnet, 'via', r.via, ...(r.dev ? ['dev', r.dev, 'onlink'] : []), 'proto', ROUTE_PROTO]);
      added.push(subnet);
    }
    for (const subnet of have.keys()) {
      if (want.has(subnet)) continue;
      await this.ip(['route', 'del', subnet, 'proto', ROUTE_PROTO]);
      removed.push(subnet);
    }
    return { added, removed };
  }

  /** removeAll deletes every gitcell route (a node leaving for good). */
  async removeAll(): Promise<void> {
    await this.apply([]);
  }

  private async ip(args: string[]) {
    const argv = this.o.netns ? ['netns', 'exec', this.o.netns, 'ip', ...args] : args;
    const r = await runCommand('ip', argv, { timeoutMs: this.o.timeoutMs ?? 10_000, helper: true });
    if (r.code !== 0) throw new NetworkError(ErrorCodes.NetworkConfig, `ip ${args.join(' ')}: ${r.stderr.trim()}`, { args: args.join(' ') });
    return r;
  }
}
