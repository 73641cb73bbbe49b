/**
 * `gitcell get services` and `describe service NAME`: a Service as written in Git joined with its
 * record in the `services` bucket (VIP, ports, ready endpoints, the tasks that are not, and why).
 * Reads the store only; the row and text builders are pure.
 */
import { DEFAULT_NAMESPACE, HEADLESS_CLUSTER_IP, type ServiceRecord, type ServiceSpec } from '../api/index.ts';
import { keyOf } from '../store/index.ts';
import type { DesiredRecord } from '../reconciler/index.ts';
import { age, table, type ClientStore } from './client.ts';
import type { Item } from './listings.ts';

/** serviceDns is the name tasks resolve a Service by (runtime/services serviceDnsName, without loading runtime/). */
const serviceDns = (ns: string, name: string) => `${name}.${ns}.svc.cluster.local`;

/** portsCell renders ports as kubectl does: `8080/TCP`, with the NodePort `8080:30080/TCP`. */
export function portsCell(rec: ServiceRecord | undefined, spec: ServiceSpec): string {
  const ports = rec?.ports ?? spec.ports.map((p) => ({ port: p.port, protocol: p.protocol ?? 'TCP', nodePort: p.nodePort }));
  return ports.map((p) => `${p.port}${p.nodePort !== undefined ? `:${p.nodePort}` : ''}/${p.protocol}`).join(',') || '-';
}

/** clusterIpCell is the VIP, `None` for headless, `<pending>` before the endpoints loop wrote a record. */
export function clusterIpCell(rec: ServiceRecord | undefined, spec: ServiceSpec): string {
  if (spec.clusterIP === HEADLESS_CLUSTER_IP) return 'None';
  return rec?.clusterIP ?? '<pending>';
}

/** serviceRow is one `get services` row, pure. */
export function serviceRow(d: DesiredRecord, rec: ServiceRecord | undefined, now: number): Item {
  const spec = d.object.spec as ServiceSpec;
  const name = d.object.metadata.name;
  const eps = rec?.endpoints ?? [];
  return {
    name: `service/${name}`,
    objectName: name,
    namespace: d.object.metadata.namespace ?? DEFAULT_NAMESPACE,
    labels: d.object.metadata.labels ?? {},
    cells: [name, spec.type ?? 'ClusterIP', clusterIpCell(rec, spec), portsCell(rec, spec), eps.length ? `${eps.length} ready` : '<none>', age(d.updatedAt, now)],
    wide: [Object.entries(spec.selector).map(([k, v]) => `${k}=${v}`).join(',') || '-', rec?.message ?? '-'],
    json: { object: d.object, generation: d.generation, revision: d.revision, ...(rec ? { record: rec } : {}) },
  };
}

/** serviceItems lists every Service with its record (`get services`). */
export async function serviceItems(store: ClientStore, now: number): Promise<{ head: string[]; wideHead: string[]; items: Item[] }> {
  const [objects, records] = await Promise.all([store.desired.list('Service'), store.services.list()]);
  const byKey = new Map(records.map((r) => [r.key, r.value]));
  const items = objects.map(({ value: d }) => serviceRow(d, byKey.get(keyOf(d.object.metadata.namespace ?? DEFAULT_NAMESPACE, d.object.metadata.name)), now));
  return { head: ['NAME', 'TYPE', 'CLUSTER-IP', 'PORT(S)', 'ENDPOINTS', 'AGE'], wideHead: ['SELECTOR', 'REASON'], items };
}

/** describeServiceText renders `describe service`: addresses, ports, endpoints with their tasks, and why not. Pure. */
export function describeServiceText(d: DesiredRecord, rec: ServiceRecord | undefined, fields: (pairs: [string, string | number | undefined][]) => string): string {
  const spec = d.object.spec as ServiceSpec;
  const ns = d.object.metadata.namespace ?? DEFAULT_NAMESPACE;
  const indent = (s: string) => s.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n');
  let out = fields([
    ['Name', d.object.metadata.name],
    ['Namespace', ns],
    ['Kind', 'Service'],
    ['Type', spec.type ?? 'ClusterIP'],
    ['IP', spec.clusterIP === HEADLESS_CLUSTER_IP ? 'None (headless: DNS answers with the ready task IPs)' : rec?.clusterIP ?? '<pending>'],
    ['DNS', serviceDns(ns, d.object.metadata.name)],
    ['Selector', Object.entries(spec.selector).map(([k, v]) => `${k}=${v}`).join(',')],
    ['Generation', d.generation],
    ['Revision', d.revision.slice(0, 12)],
  ]);
  const ports = rec?.ports ?? [];
  out += `Ports:\n${indent(table(['NAME', 'PORT', 'TARGET', 'NODEPORT'], (ports.length ? ports : spec.ports.map((p) => ({ ...p, protocol: p.protocol ?? 'TCP', targetPort: p.targetPort ?? p.port })))
    .map((p) => [p.name, `${p.port}/${p.protocol}`, String(p.targetPort), p.nodePort ?? '-'])))}`;
  if (!rec) return `${out}Endpoints: <not computed yet: the reconciler's endpoints loop has not written this Service>\n`;
  out += rec.endpoints.length
    ? `Endpoints (${rec.endpoints.length} ready):\n${indent(table(['TASK', 'NODE', 'IP', 'PORTS'], rec.endpoints.map((e) => [e.taskId, e.node, e.ip, Object.entries(e.ports).map(([k, v]) => `${k}=${v}`).join(',')])))}`
    : 'Endpoints: <none>\n';
  if (rec.notReady.length) out += `Not ready (${rec.notReady.length}):\n${indent(table(['TASK', 'NODE', 'REASON'], rec.notReady.map((n) => [n.taskId, n.node ?? '-', n.reason])))}`;
  if (rec.message) out += `Why: ${rec.message}\n`;
  return out;
}

/** describeService reads a Service and its record; undefined when Git has no such Service. */
export async function describeService(store: ClientStore, d: DesiredRecord, fields: (pairs: [string, string | number | undefined][]) => string): Promise<string> {
  const rec = await store.services.get(keyOf(d.object.metadata.namespace ?? DEFAULT_NAMESPACE, d.object.metadata.name));
  return describeServiceText(d, rec?.value, fields);
}
