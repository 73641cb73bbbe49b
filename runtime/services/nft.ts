// Pure nftables renderer for service load balancing, modelled on kube-proxy's nftables mode: one
// table of our own, a verdict map from VIP . protocol . port to the chain lb-N of the service's
// endpoint count, which picks a slot with `numgen random mod N` and DNATs through a map from
// VIP . protocol . port . slot to a ready endpoint. Updates are deltas inside one `nft -f`
// transaction (map elements, mostly); connections already NATed keep their endpoint in conntrack.

import { VXLAN_PORT } from '../network/vxlan.ts';

/** LbEndpoint is one backend of a service port. */
export interface LbEndpoint {
  ip: string;
  port: number;
}

/** LbPort is one port of a service: `port` on the VIP (and `nodePort` on the node) to the endpoints. */
export interface LbPort {
  name: string;
  protocol: 'TCP' | 'UDP';
  port: number;
  nodePort?: number;
  endpoints: LbEndpoint[];
}

/** LbService is a service as the node balances it; `id` names it (e.g. "default/web"). */
export interface LbService {
  id: string;
  /** the virtual IP; a service without one (headless) only contributes its node ports, if any */
  vip?: string;
  ports: LbPort[];
}

/** LbConfig is everything the node's table depends on. */
export interface LbConfig {
  /** nft table name (family ip), e.g. "gitcell" */
  table: string;
  services: readonly LbService[];
  /**
   * the node's task subnet and bridge: a task reaching a VIP answered by a task on the same bridge
   * is masqueraded, else the reply would go bridge-direct and bypass the NAT
   */
  local?: { subnet: string; bridge: string };
  /** every task subnet of the cluster: traffic from outside it to a VIP is masqueraded (replies come back here) */
  clusterCidr?: string;
  /** masquerade task traffic leaving clusterCidr (tasks reach the outside world) */
  masqueradeOutbound?: boolean;
}

/** NftChain is one chain: its hook (base chains) and its rules in order. */
export interface NftChain {
  hook?: string;
  rules: string[];
}

/** NftModel is the table as data: what renderFull writes and renderDelta compares. */
export interface NftModel {
  chains: Map<string, NftChain>;
  /** map name -> element key -> verdict */
  maps: Map<string, Map<string, string>>;
}

/** MAPS declares each map of the table: verdict maps that dispatch, data maps that DNAT. */
const MAPS: Record<string, string> = {
  'service-ips': 'type ipv4_addr . inet_proto . inet_service : verdict',
  'service-nodeports': 'type inet_proto . inet_service : verdict',
  'no-endpoint-services': 'type ipv4_addr . inet_proto . inet_service : verdict',
  'no-endpoint-nodeports': 'type inet_proto . inet_service : verdict',
  // VIP . protocol . port . slot -> endpoint; the slot is `numgen random mod N` of the lb-N chain
  endpoints: 'typeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . tcp dport',
  'nodeport-endpoints': 'typeof meta l4proto . th dport . numgen random mod 1 : ip daddr . tcp dport',
};

const MASQ_MARK = '0x4000';

/**
 * buildModel turns a configuration into the table's chains and map elements. Pure.
 *
 * Every service port is data, not chains: `service-ips` sends VIP . proto . port to the chain
 * `lb-N` of its endpoint count N, which DNATs through the `endpoints` map keyed by the same tuple
 * and a slot `numgen random mod N`. The table holds a handful of chains whatever the number of
 * services (nft 1.0.6 rereads the whole table on every invocation: 11,000 chains made every apply
 * take seconds), and an endpoint change is a few map elements in one transaction.
 */
export function buildModel(cfg: LbConfig): NftModel {
  const chains = new Map<string, NftChain>();
  const maps = new Map<string, Map<string, string>>(Object.keys(MAPS).map((m) => [m, new Map()]));
  const base = (name: string, hook: string, rules: string[]) => chains.set(name, { hook, rules });
  base('nat-prerouting', 'type nat hook prerouting priority -100; policy accept;', ['jump services']);
  base('nat-output', 'type nat hook output priority -100; policy accept;', ['jump services']);
  base('nat-postrouting', 'type nat hook postrouting priority 100; policy accept;', ['jump masquerading']);
  base('filter-forward', 'type filter hook forward priority 0; policy accept;', [...overlayGuard(cfg), 'ct state new ip daddr . meta l4proto . th dport vmap @no-endpoint-services']);
  base('filter-output', 'type filter hook output priority 0; policy accept;', ['ct state new ip daddr . meta l4proto . th dport vmap @no-endpoint-services']);
  base('filter-input', 'type filter hook input priority 0; policy accept;', ['ct state new fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports']);
  chains.set('services', { rules: ['ip daddr . meta l4proto . th dport vmap @service-ips', 'fib daddr type local meta l4proto . th dport vmap @service-nodeports'] });
  chains.set('reject-chain', { rules: ['reject'] });
  chains.set('mark-for-masquerade', { rules: [`meta mark set meta mark or ${MASQ_MARK}`] });
  chains.set('masquerading', { rules: masqueradeRules(cfg) });
  const lbChain = (n: number) => {
    const name = `lb-${n}`;
    const rules = cfg.clusterCidr ? [`ip saddr != ${cfg.clusterCidr} jump mark-for-masquerade`] : [];
    chains.set(name, { rules: [...rules, `dnat ip to ip daddr . meta l4proto . th dport . numgen random mod ${n} map @endpoints`] });
    return name;
  };
  const extChain = (n: number) => {
    // From outside, the endpoint may be on another node: masquerade so its reply returns here.
    chains.set(`ext-${n}`, { rules: ['jump mark-for-masquerade', `dnat ip to meta l4proto . th dport . numgen random mod ${n} map @nodeport-endpoints`] });
    return `ext-${n}`;
  };
  // lb-N (and ext-N) exist for every N up to the largest endpoint count, used or not: an endpoint
  // leaving or coming back then changes map elements only, never creates or deletes a chain.
  const most = Math.max(0, ...cfg.services.flatMap((s) => s.ports.map((p) => p.endpoints.length)));
  const mostNodePort = Math.max(0, ...cfg.services.flatMap((s) => s.ports.filter((p) => p.nodePort !== undefined).map((p) => p.endpoints.length)));
  for (let n = 1; n <= most; n++) lbChain(n);
  for (let n = 1; n <= mostNodePort; n++) extChain(n);
  for (const svc of [...cfg.services].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    for (const p of svc.ports) {
      const proto = p.protocol === 'UDP' ? 'udp' : 'tcp';
      const eps = [...p.endpoints].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
      const n = eps.length;
      const vipKey = svc.vip ? `${svc.vip} . ${proto} . ${p.port}` : undefined;
      const npKey = p.nodePort !== undefined ? `${proto} . ${p.nodePort}` : undefined;
      if (n === 0) {
        if (vipKey) maps.get('no-endpoint-services')!.set(vipKey, 'goto reject-chain');
        if (npKey) maps.get('no-endpoint-nodeports')!.set(npKey, 'goto reject-chain');
        continue;
      }
      if (vipKey) {
        maps.get('service-ips')!.set(vipKey, `goto ${lbChain(n)}`);
        eps.forEach((ep, i) => maps.get('endpoints')!.set(`${vipKey} . ${i}`, `${ep.ip} . ${ep.port}`));
      }
      if (npKey) {
        maps.get('service-nodeports')!.set(npKey, `goto ${extChain(n)}`);
        eps.forEach((ep, i) => maps.get('nodeport-endpoints')!.set(`${npKey} . ${i}`, `${ep.ip} . ${ep.port}`));
      }
    }
  }
  return { chains, maps };
}

/**
 * overlayGuard: a task may not speak VXLAN to the underlay. A datagram to port 4789 of another
 * node would be decapsulated there with whatever inner source address the task wrote: another
 * task's, another node's. Tasks keep the port among themselves (inside the cluster CIDR).
 */
function overlayGuard(cfg: LbConfig): string[] {
  return cfg.local && cfg.clusterCidr ? [`ip saddr ${cfg.local.subnet} ip daddr != ${cfg.clusterCidr} udp dport ${VXLAN_PORT} drop`] : [];
}

function masqueradeRules(cfg: LbConfig): string[] {
  const masq: string[] = [];
  if (cfg.local) masq.push(`ip saddr ${cfg.local.subnet} oifname "${cfg.local.bridge}" ct status dnat masquerade`);
  if (cfg.clusterCidr && cfg.masqueradeOutbound) masq.push(`ip saddr ${cfg.clusterCidr} ip daddr != ${cfg.clusterCidr} masquerade`);
  masq.push(`meta mark & ${MASQ_MARK} == 0 return`, `meta mark set meta mark xor ${MASQ_MARK}`, 'masquerade fully-random');
  return masq;
}

/** renderFull writes the whole table, replacing any previous one in the same transaction. */
export function renderFull(table: string, model: NftModel): string {
  const out = [`add table ip ${table}`, `delete table ip ${table}`, `add table ip ${table}`];
  for (const [name, decl] of Object.entries(MAPS)) out.push(`add map ip ${table} ${name} { ${decl} ; }`);
  // Every chain exists before any rule refers to it.
  for (const [name, c] of model.chains) out.push(addChain(table, name, c));
  for (const [name, c] of model.chains) for (const r of c.rules) out.push(`add rule ip ${table} ${name} ${r}`);
  // One statement per map: 10,000 endpoints parse far faster as one element list.
  for (const [map, elements] of model.maps) if (elements.size) out.push(`add element ip ${table} ${map} { ${[...elements].map(([k, v]) => `${k} : ${v}`).join(', ')} }`);
  return out.join('\n') + '\n';
}

/**
 * renderDelta writes what turns `prev` into `next` except deleting chains, or '' when nothing but
 * deletions differ: new chains, then changed chains flushed and refilled, then map elements.
 * Unchanged chains (the endpoints that stay) are not mentioned at all. The kernel refuses (EBUSY)
 * to delete a chain in the transaction that drops the last rule jumping to it, so chains that
 * left go in a second transaction (renderCleanup), as kube-proxy does.
 */
export function renderDelta(table: string, prev: NftModel, next: NftModel): string {
  const out: string[] = [];
  for (const [name, c] of next.chains) if (!prev.chains.has(name)) out.push(addChain(table, name, c));
  for (const [name, c] of next.chains) {
    const old = prev.chains.get(name);
    if (old && sameRules(old, c)) continue;
    if (old) out.push(`flush chain ip ${table} ${name}`);
    for (const r of c.rules) out.push(`add rule ip ${table} ${name} ${r}`);
  }
  for (const map of Object.keys(MAPS)) {
    const before = prev.maps.get(map) ?? new Map<string, string>();
    const after = next.maps.get(map) ?? new Map<string, string>();
    for (const [k, v] of before) if (after.get(k) !== v) out.push(`delete element ip ${table} ${map} { ${k} }`);
    for (const [k, v] of after) if (before.get(k) !== v) out.push(`add element ip ${table} ${map} { ${k} : ${v} }`);
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** renderCleanup deletes the chains of `prev` that `next` no longer has, or '' when there are none. */
export function renderCleanup(table: string, prev: NftModel, next: NftModel): string {
  const out: string[] = [];
  for (const name of prev.chains.keys()) if (!next.chains.has(name)) out.push(`delete chain ip ${table} ${name}`);
  return out.length ? out.join('\n') + '\n' : '';
}

/** validTableName tells whether a name is usable as an nft table name. */
export function validTableName(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(name);
}

function addChain(table: string, name: string, c: NftChain): string {
  return `add chain ip ${table} ${name}${c.hook ? ` { ${c.hook} }` : ''}`;
}

function sameRules(a: NftChain, b: NftChain): boolean {
  return a.hook === b.hook && a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i]);
}
