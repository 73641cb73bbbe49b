// Service checks beyond the schema: one object's ports, and the addresses a whole revision's
// Services claim (a virtual IP or a NodePort belongs to one Service; the second one is refused).
import { DEFAULT_NAMESPACE, HEADLESS_CLUSTER_IP } from '../../api/index.ts';
import { ValidationCode, arrayAt, isRecord, recordAt, stringAt, type Report } from './finding.ts';
import { quote } from './format.ts';

/** checkService: port names and port/protocol pairs unique, nodePort only with type NodePort, no headless NodePort. */
export function checkService(obj: Record<string, unknown>, report: Report): void {
  const spec = recordAt(obj, 'spec');
  if (!spec) return;
  const type = stringAt(spec, 'type') ?? 'ClusterIP';
  const headless = stringAt(spec, 'clusterIP') === HEADLESS_CLUSTER_IP;
  if (headless && type === 'NodePort') {
    report(['spec', 'type'], ValidationCode.conflict, 'a headless Service (clusterIP: None) has no virtual IP to expose on a NodePort; use type ClusterIP or drop clusterIP: None');
  }
  const names = new Map<string, number>();
  const ports = new Map<string, number>();
  arrayAt(spec, 'ports').forEach((p, i) => {
    if (!isRecord(p)) return;
    const name = stringAt(p, 'name');
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) report(['spec', 'ports', i, 'name'], ValidationCode.conflict, `port name ${quote(name)} is already used by spec.ports[${first}]`);
      else names.set(name, i);
    }
    if (typeof p.port === 'number') {
      const key = `${p.port}/${stringAt(p, 'protocol') ?? 'TCP'}`;
      const first = ports.get(key);
      if (first !== undefined) report(['spec', 'ports', i, 'port'], ValidationCode.conflict, `port ${key} is already used by spec.ports[${first}]`);
      else ports.set(key, i);
    }
    if ('nodePort' in p && type !== 'NodePort') {
      report(['spec', 'ports', i, 'nodePort'], ValidationCode.conflict, `nodePort applies only to type: NodePort (this Service is type: ${type})`);
    }
  });
}

/** ClaimIndex remembers which Service (and where) claimed each virtual IP and NodePort of a revision. */
export type ClaimIndex = Map<string, { service: string; where: string }>;

/**
 * claimServiceAddresses records the pinned clusterIP and nodePorts of one Service in `claims` and
 * reports each one an earlier Service (in file order) already claimed: the second is refused, with
 * the first one's file:line in the message. A NodePort is claimed per protocol, as on the node.
 */
export function claimServiceAddresses(obj: Record<string, unknown>, where: string, claims: ClaimIndex, report: Report): void {
  const spec = recordAt(obj, 'spec');
  if (!spec) return;
  const meta = recordAt(obj, 'metadata');
  const service = `${stringAt(meta, 'namespace') ?? DEFAULT_NAMESPACE}/${stringAt(meta, 'name') ?? ''}`;
  const claim = (key: string, path: (string | number)[], what: string) => {
    const first = claims.get(key);
    if (first && first.service !== service) report(path, ValidationCode.addressClaimed, `${what} is already claimed by Service ${first.service} at ${first.where}`);
    else if (!first) claims.set(key, { service, where });
  };
  const ip = stringAt(spec, 'clusterIP');
  if (ip !== undefined && ip !== HEADLESS_CLUSTER_IP) claim(`ip:${ip}`, ['spec', 'clusterIP'], `clusterIP ${ip}`);
  if (stringAt(spec, 'type') !== 'NodePort') return;
  arrayAt(spec, 'ports').forEach((p, i) => {
    if (!isRecord(p) || typeof p.nodePort !== 'number') return;
    const proto = stringAt(p, 'protocol') ?? 'TCP';
    claim(`nodePort:${p.nodePort}/${proto}`, ['spec', 'ports', i, 'nodePort'], `nodePort ${p.nodePort}/${proto}`);
  });
}
