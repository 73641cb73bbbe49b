/**
 * runEndpoints: the endpoints controller's edge. The single writer of the `services` bucket: for
 * every Service in `desired` it keeps one ServiceRecord (VIP, ports, ready endpoints, why not) that
 * every node's agent programs its nftables and DNS from.
 *
 *   desired (Service.*) ─┐
 *   tasks, status, nodes ─┼─► informers ─► pass: allocateServiceAddresses ► computeServiceRecords ─► CAS put / delete ─► services
 *   services (own)     ──┘                 (pure, reconciler/controllers)       only what changed
 *
 * A readiness change, a task stopping (its spec deleted or its agent reporting `stopping`) or a
 * node missing its heartbeat leaves the endpoints within one pass: passes run on every change
 * (debounced by a few ms) and every `tickMs` (node loss is a matter of time, not of a change).
 */
import { boundTaskStatus, DEFAULT_NAMESPACE, HEADLESS_CLUSTER_IP, NODE_GRACE_MS, selectorMatches, trustedNodeRecords, type AnyObject, type Binding, type NodeRecord, type NodeSubnetRecord, type ServiceRecord, type ServiceSpec, type TaskSpec, type TaskStatus } from '../../api/index.ts';
import { createLogger, errorMessage, PassRunner, type Logger, type LoopOptions, type RunningLoop } from '../../lib/index.ts';
import { Informer, NodeInformer, keyOf, type Bucket, type InformerView, type LivenessView } from '../../store/index.ts';
import { writeRecords } from './write-records.ts';
import { sharedOr, type TaskInformers } from './shared-informers.ts';
import {
  allocateServiceAddresses, computeServiceRecords, DEFAULT_SERVICE_CIDR, sameServiceRecord,
  type AddressRequest, type Addresses, type ServiceObject,
} from '../controllers/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import type { ReconcilerStore } from './store.ts';

/** EndpointsStore is what the endpoints loop reads and the bucket it alone writes. */
export type EndpointsStore = Pick<ReconcilerStore, 'desired' | 'tasks' | 'status' | 'nodes' | 'heartbeats'> & { bindings: Bucket<Binding>; services: Bucket<ServiceRecord>; subnets: Bucket<NodeSubnetRecord> };

/** RunEndpointsOptions configure runEndpoints. */
export interface RunEndpointsOptions extends LoopOptions<EndpointsStore> {
  /** virtual IPs come from here (default 10.96.0.0/12) */
  serviceCidr?: string;
  /** a node whose heartbeat is older is lost, and its endpoints with it (default: the published grace, `liveness`; NODE_GRACE_MS without it) */
  nodeGraceMs?: number;
  /** the published lease renewal period and grace (store/liveness.ts), shared with the process's other loops */
  liveness?: LivenessView;
  /** the nodes joined with their leases, shared with the process's other loops (default: its own, until `signal`) */
  nodes?: NodeInformer;
  /** the task buckets' informers, shared with the process's other loops (default: its own, until `signal`) */
  shared?: TaskInformers;
  /** a pass at least this often, for node loss (default 500 ms) */
  tickMs?: number;
  /** told after every pass with the records written and deleted (tests, metrics) */
  onPass?: (r: { written: string[]; deleted: string[] }) => void;
}

/** EndpointsLoop is a running endpoints loop (done: the signal aborted and the watches closed). */
export type EndpointsLoop = RunningLoop;

const SERVICE_PREFIX = 'Service';

/** runEndpoints starts the loop; see the file comment. Run it under leader election, next to runControllers. */
export function runEndpoints(opts: RunEndpointsOptions): EndpointsLoop {
  const log = opts.log ?? createLogger('endpoints');
  const now = opts.now ?? Date.now;
  const { store, signal } = opts;
  const runner: PassRunner = new PassRunner({
    signal,
    tickMs: opts.tickMs ?? 500,
    ready: () => informers.every((m) => m.hasSynced),
    onError: (err, failures) => log.warn({ err: errorMessage(err), failures }, 'endpoints: pass failed, retrying'),
    pass: async () => {
      const started = Date.now();
      const records = decide({ desired, tasks, statuses, bindings, nodes, services, subnets }, now(), opts);
      runner.holdFor(Date.now() - started); // paced, as the controllers are
      const may = () => !signal.aborted && (opts.valid?.() ?? true);
      // A lost race asks for another pass (after this one), deciding again from what the watches show.
      const want = new Map(records.map((rec) => [keyOf(rec.namespace, rec.name), rec]));
      const written = await writeRecords({ bucket: store.services, own: services, want, same: sameServiceRecord, may, raced: () => runner.request() }); // not inside `onPass?.(...)`: an absent onPass would skip the write
      opts.onPass?.(written);
    },
  });
  const onChange = () => runner.request();
  // Only its own watches end with the loop: shared ones outlive the term (awaiting them kept every
  // ended term's loop alive in their promises).
  const own: Promise<void>[] = [];
  const inform = <T>(bucket: Bucket<T>, prefix?: string): Informer<T> => {
    const i = new Informer<T>(bucket, { signal, onChange, log, ...(prefix ? { prefix } : {}) });
    own.push(i.done);
    return i;
  };
  const desired = inform(store.desired, SERVICE_PREFIX);
  const tasks = sharedOr(opts.shared?.tasks, () => inform(store.tasks), onChange, signal);
  const statuses = sharedOr(opts.shared?.statuses, () => inform(store.status), onChange, signal);
  // Records joined with their leases; a renewal alone starts no pass: the tick notices a node crossing its grace period.
  const nodes = opts.nodes ?? new NodeInformer(store, { signal, log });
  if (!opts.nodes) own.push(nodes.done);
  const unlisten = nodes.listen(onChange);
  signal.addEventListener('abort', unlisten, { once: true });
  const bindings = sharedOr(opts.shared?.bindings, () => inform(store.bindings), onChange, signal);
  const services = inform(store.services);
  const subnets = inform(store.subnets);
  const informers = [desired, tasks, statuses, bindings, nodes, services, subnets];
  const done = (async () => {
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    await runner.stop();
    await Promise.allSettled(own);
  })();
  return { done, passes: () => runner.passes };
}

/**
 * decide is one pass's pure part: the Services in `desired`, their addresses and their records. It
 * reads only what a Service can select: the tasks of its namespace its selector matches, the status
 * their bound node wrote (one lookup each) and those nodes' records; a cluster without Services
 * costs nothing (at 1,000 nodes and 11,000 tasks, scanning every status twice a second was 60% of
 * the reconciler's CPU).
 */
function decide(
  v: {
    desired: InformerView<DesiredRecord>; tasks: InformerView<TaskSpec>; statuses: InformerView<TaskStatus>; bindings: InformerView<Binding>;
    nodes: InformerView<NodeRecord>; services: InformerView<ServiceRecord>; subnets: InformerView<NodeSubnetRecord>;
  },
  now: number,
  opts: Pick<RunEndpointsOptions, 'serviceCidr' | 'nodeGraceMs' | 'liveness'>,
): ServiceRecord[] {
  const { desired, tasks, statuses, bindings, nodes, services } = v;
  const objects: ServiceObject[] = desired.values().filter((r) => r.object.kind === 'Service').map((r) => serviceObject(r.object, r.generation));
  if (objects.length === 0) return [];
  const requests: AddressRequest[] = objects.map((s) => ({
    key: `${s.namespace}/${s.name}`,
    headless: s.spec.clusterIP === HEADLESS_CLUSTER_IP,
    ...(s.spec.clusterIP && s.spec.clusterIP !== HEADLESS_CLUSTER_IP ? { clusterIP: s.spec.clusterIP } : {}),
    nodePorts: s.spec.type === 'NodePort' ? s.spec.ports.map((p) => ({ name: p.name, protocol: p.protocol ?? 'TCP', ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}) })) : [],
  }));
  const recorded = new Map<string, Addresses>();
  for (const r of services.values()) {
    const nodePorts: Record<string, number> = {};
    for (const p of r.ports ?? []) if (p.nodePort !== undefined) nodePorts[p.name] = p.nodePort;
    recorded.set(`${r.namespace}/${r.name}`, { ...(r.clusterIP ? { clusterIP: r.clusterIP } : {}), nodePorts });
  }
  const addresses = allocateServiceAddresses(requests, recorded, { serviceCidr: opts.serviceCidr ?? DEFAULT_SERVICE_CIDR });
  const selected = selectedTasks(objects, tasks.values());
  // A status counts only from the node its task is bound to: another node cannot make itself an endpoint.
  const byTask = new Map<string, TaskStatus>();
  for (const t of selected) {
    const s = boundTaskStatus(t.id, bindings.get(t.id)?.node ?? t.nodeName ?? t.runningOn ?? null, (key) => statuses.get(key));
    if (s) byTask.set(t.id, s);
  }
  // A node is its key (the only one its agent may write): a record naming another node is not one.
  const named = new Set([...byTask.values()].map((s) => s.node));
  const nodeEntries = [...named].flatMap((name) => {
    const n = nodes.get(name);
    return n ? [[name, { ...n, ...allocatedSubnet(name, v.subnets) }] as const] : [];
  });
  return computeServiceRecords({
    services: objects, tasks: selected, statuses: byTask, nodes: [...trustedNodeRecords(nodeEntries).nodes.values()],
    addresses, now, nodeGraceMs: opts.nodeGraceMs ?? opts.liveness?.current().graceMs ?? NODE_GRACE_MS,
  });
}

/**
 * allocatedSubnet is the subnet a node's task IPs must lie in: the control plane's allocation (the
 * `subnets` bucket), never what the node's own record claims, so a node cannot vouch for another's
 * addresses; an allocation without a subnet vouches for none (''). Only while no allocator has
 * written anything (a cluster without one) does the node's record stand.
 */
function allocatedSubnet(node: string, subnets: InformerView<NodeSubnetRecord>): { subnet?: string } {
  if (subnets.entries.size === 0) return {};
  return { subnet: subnets.get(node)?.subnet ?? '' };
}

/** selectedTasks are the tasks some Service selects (same namespace, selector matches their labels). */
function selectedTasks(objects: readonly ServiceObject[], all: readonly TaskSpec[]): TaskSpec[] {
  const byNamespace = new Map<string, ServiceObject[]>();
  for (const o of objects) byNamespace.set(o.namespace, [...(byNamespace.get(o.namespace) ?? []), o]);
  return all.filter((t) => byNamespace.get(t.namespace)?.some((o) => selectorMatches(o.spec.selector, t.template.labels)) ?? false);
}

function serviceObject(o: AnyObject, generation: number): ServiceObject {
  return { namespace: o.metadata.namespace ?? DEFAULT_NAMESPACE, name: o.metadata.name, generation, spec: o.spec as ServiceSpec };
}
