import type { NodeRecord, ServiceEndpoint, ServicePort, ServiceRecord, ServiceSpec, TaskSpec, TaskStatus } from '../../api/index.ts';
import { formatSelector, HEADLESS_CLUSTER_IP, nodeIsLive, selectorMatches } from '../../api/index.ts';
import { ipv4InSubnet } from '../../lib/index.ts';
import type { Allocation } from './service-addresses.ts';

/** ServiceObject is a Service as the endpoints controller needs it: identity, generation, spec. */
export interface ServiceObject {
  namespace: string;
  name: string;
  generation: number;
  spec: ServiceSpec;
}

/** EndpointsInput is everything one endpoints pass reads. */
export interface EndpointsInput {
  services: readonly ServiceObject[];
  tasks: Iterable<TaskSpec>;
  /** statuses by task id (the newest report) */
  statuses: ReadonlyMap<string, TaskStatus>;
  nodes: readonly NodeRecord[];
  /** allocations by `<namespace>/<name>` (allocateServiceAddresses) */
  addresses: ReadonlyMap<string, Allocation>;
  now: number;
  /** a node whose heartbeat is older is lost, and so are its endpoints */
  nodeGraceMs: number;
}

/**
 * computeServiceRecords decides, for every Service, the record the data plane and DNS follow: its
 * addresses and ports, and as endpoints only the tasks its selector matches (same namespace) that
 * are ready right now: running their own template, passing readiness, with an IP, on a node whose
 * heartbeat is live. A task being stopped has already left: its spec is gone from `tasks` (the
 * reconciler deletes it before its agent sends SIGTERM) or its agent reports it stopping. The
 * others are listed in `notReady` with the reason, and a Service without endpoints says why in
 * `message`. Pure; records carry `updatedAt: now` (compare them with sameServiceRecord).
 */
export function computeServiceRecords(input: EndpointsInput): ServiceRecord[] {
  const byNamespace = new Map<string, TaskSpec[]>();
  for (const t of input.tasks) {
    const list = byNamespace.get(t.namespace);
    if (list) list.push(t);
    else byNamespace.set(t.namespace, [t]);
  }
  const nodes = new Map(input.nodes.map((n) => [n.name, n]));
  const updatedAt = new Date(input.now).toISOString();
  return input.services.map((svc) => {
    const key = `${svc.namespace}/${svc.name}`;
    const alloc = input.addresses.get(key) ?? { nodePorts: {}, problems: [`no address allocated`] };
    const headless = svc.spec.clusterIP === HEADLESS_CLUSTER_IP;
    const ports: ServicePort[] = svc.spec.ports.map((p) => ({
      name: p.name,
      protocol: p.protocol ?? 'TCP',
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      ...(alloc.nodePorts[p.name] !== undefined ? { nodePort: alloc.nodePorts[p.name] } : {}),
    }));
    const matching = (byNamespace.get(svc.namespace) ?? []).filter((t) => selectorMatches(svc.spec.selector, t.template.labels));
    const endpoints: ServiceEndpoint[] = [];
    const notReady: ServiceRecord['notReady'] = [];
    for (const t of matching) {
      const status = input.statuses.get(t.id);
      const why = unreadyReason(t, status, nodes, input.now, input.nodeGraceMs);
      const targetPorts = resolveTargetPorts(ports, t);
      if (why === undefined && Object.keys(targetPorts).length === 0) {
        notReady.push({ taskId: t.id, node: status!.node, reason: `serves none of the ports (${ports.map((p) => String(p.targetPort)).join(', ')})` });
      } else if (why === undefined) {
        endpoints.push({ taskId: t.id, node: status!.node, ip: status!.ip!, ports: targetPorts });
      } else {
        notReady.push({ taskId: t.id, ...(status?.node ? { node: status.node } : {}), reason: why });
      }
    }
    endpoints.sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
    notReady.sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
    const problems = [...alloc.problems];
    if (matching.length === 0) problems.push(`selector ${formatSelector(svc.spec.selector)} matches no task in namespace ${svc.namespace}`);
    else if (endpoints.length === 0) problems.push(`none of the ${matching.length} task${matching.length === 1 ? '' : 's'} the selector matches is ready`);
    return {
      namespace: svc.namespace,
      name: svc.name,
      generation: svc.generation,
      type: svc.spec.type ?? 'ClusterIP',
      headless,
      ...(alloc.clusterIP !== undefined ? { clusterIP: alloc.clusterIP } : {}),
      selector: { ...svc.spec.selector },
      ports,
      endpoints,
      notReady,
      ...(problems.length > 0 ? { message: problems.join('; ') } : {}),
      updatedAt,
    };
  });
}

/** sameServiceRecord tells whether two records differ only in updatedAt (no write needed). */
export function sameServiceRecord(a: ServiceRecord, b: ServiceRecord): boolean {
  return JSON.stringify({ ...a, updatedAt: '' }) === JSON.stringify({ ...b, updatedAt: '' });
}

function unreadyReason(t: TaskSpec, s: TaskStatus | undefined, nodes: ReadonlyMap<string, NodeRecord>, now: number, graceMs: number): string | undefined {
  if (!s) return 'not started (no status reported)';
  if (s.state === 'stopping') return 'being stopped';
  if (s.state !== 'running') return `not running (state ${s.state})`;
  if (s.templateHash !== t.templateHash) return 'runs an older template';
  if (!s.ready) return 'readiness probe failing';
  if (!s.ip) return 'no IP reported';
  const node = nodes.get(s.node);
  if (!node) return `node ${s.node} is not registered`;
  if (!nodeIsLive(node, now, graceMs)) return `node ${s.node} lost (no heartbeat since ${node.heartbeatAt})`;
  // An agent reports its tasks' IPs: one outside its own subnet would steer a Service elsewhere.
  if (node.subnet === '') return `node ${s.node} has no task subnet allocated`;
  if (node.subnet && !inSubnet(s.ip, node.subnet)) return `IP ${s.ip} is outside node ${s.node}'s subnet ${node.subnet}`;
  return undefined;
}

function inSubnet(ip: string, cidr: string): boolean {
  try {
    return ipv4InSubnet(ip, cidr);
  } catch {
    return false; // a node record with an unreadable subnet vouches for no IP
  }
}

/** resolveTargetPorts maps each Service port name to the task's port: a number as is, a name through the template's ports. */
function resolveTargetPorts(ports: readonly ServicePort[], t: TaskSpec): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of ports) {
    if (typeof p.targetPort === 'number') out[p.name] = p.targetPort;
    else {
      const named = t.template.ports.find((tp) => tp.name === p.targetPort && tp.protocol === p.protocol);
      if (named) out[p.name] = named.containerPort;
    }
  }
  return out;
}
