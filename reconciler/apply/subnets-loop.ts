/**
 * runSubnets: the subnet allocator's edge. The single writer of the `subnets` bucket: every node in
 * `nodes` gets one NodeSubnetRecord (its task subnet, or why it has none), which its own agent waits
 * for before attaching tasks, every other agent routes to, and the endpoints loop trusts task IPs by.
 *
 *   nodes (key + requested subnet) ─┐
 *   subnets (own)                 ──┴─► informers ─► pass: allocateNodeSubnets ─► CAS put / delete ─► subnets
 *                                                    (pure, reconciler/controllers)  only what changed
 *
 * A node whose record is deleted loses its subnet record, and every agent its route. Heartbeats
 * start no pass: only a node coming, going or asking for another subnet does.
 */
import { trustedNodeRecords, type NodeRecord, type NodeSubnetRecord } from '../../api/index.ts';
import { createLogger, errorMessage, PassRunner, type LoopOptions, type RunningLoop } from '../../lib/index.ts';
import { Informer, type Bucket, type InformerChange } from '../../store/index.ts';
import { allocateNodeSubnets, DEFAULT_CLUSTER_CIDR, type SubnetRequest } from '../controllers/index.ts';
import { writeRecords } from './write-records.ts';

/** SubnetsStore is what the allocator reads and the bucket it alone writes. */
export interface SubnetsStore {
  nodes: Bucket<NodeRecord>;
  subnets: Bucket<NodeSubnetRecord>;
}

/** RunSubnetsOptions configure runSubnets. */
export interface RunSubnetsOptions extends LoopOptions<SubnetsStore> {
  /** node subnets are derived from here (default 10.128.0.0/9) */
  clusterCidr?: string;
  /** prefix length of each node's subnet (default 24) */
  nodePrefix?: number;
  /** told after every pass with the records written and deleted (tests, metrics) */
  onPass?: (r: { written: string[]; deleted: string[] }) => void;
}

/** runSubnets starts the loop; see the file comment. Run it under leader election. */
export function runSubnets(opts: RunSubnetsOptions): RunningLoop {
  const log = opts.log ?? createLogger('subnets');
  const now = opts.now ?? Date.now;
  const { store, signal } = opts;
  const runner: PassRunner = new PassRunner({
    signal,
    ready: () => nodes.hasSynced && subnets.hasSynced,
    onError: (err, failures) => log.warn({ err: errorMessage(err), failures }, 'subnets: pass failed, retrying'),
    pass: async () => {
      const want = decide([...nodes.entries].map(([k, e]) => [k, e.value] as const), subnets.values(), opts, now());
      const may = () => !signal.aborted && (opts.valid?.() ?? true);
      const written = await writeRecords({ bucket: store.subnets, own: subnets, want, same: sameSubnetRecord, may, raced: () => runner.request() });
      for (const key of written.written) {
        const r = want.get(key)!;
        if (r.problem) log.warn({ node: key, problem: r.problem }, 'subnets: node has no task subnet');
      }
      opts.onPass?.(written);
    },
  });
  // A pass only when a node comes, goes or asks for another subnet: never for a heartbeat.
  const onNodeChange = (c: InformerChange<NodeRecord>) => (!c || !c.prev || !c.next || c.prev.subnet !== c.next.subnet ? runner.request() : undefined);
  const nodes = new Informer<NodeRecord>(store.nodes, { signal, log, onChange: onNodeChange });
  const subnets = new Informer<NodeSubnetRecord>(store.subnets, { signal, log, onChange: () => runner.request() });
  const done = (async () => {
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    await runner.stop();
    await Promise.allSettled([nodes.done, subnets.done]);
  })();
  return { done, passes: () => runner.passes };
}

/** decide is one pass's pure part: every trusted node's record in the `subnets` bucket. */
function decide(
  nodeEntries: readonly (readonly [string, NodeRecord])[], stored: readonly NodeSubnetRecord[], opts: Pick<RunSubnetsOptions, 'clusterCidr' | 'nodePrefix'>, at: number,
): Map<string, NodeSubnetRecord> {
  // A node is its key (the only one its agent may write): a record naming another node asks nothing.
  const trusted = trustedNodeRecords(nodeEntries).nodes;
  const requests: SubnetRequest[] = [...trusted.values()].map((n) => ({ node: n.name, ...(n.subnet ? { requested: n.subnet } : {}) }));
  const recorded = new Map(stored.flatMap((r) => (r.subnet ? [[r.node, r.subnet] as const] : [])));
  const clusterCidr = opts.clusterCidr ?? DEFAULT_CLUSTER_CIDR;
  const out = allocateNodeSubnets(requests, recorded, { clusterCidr, ...(opts.nodePrefix ? { nodePrefix: opts.nodePrefix } : {}) });
  const updatedAt = new Date(at).toISOString();
  return new Map([...out].map(([node, a]) => [node, { node, ...a, clusterCidr, updatedAt }]));
}

/** sameSubnetRecord: the same node, subnet and problem (the time of writing aside). */
export function sameSubnetRecord(a: NodeSubnetRecord, b: NodeSubnetRecord): boolean {
  return a.node === b.node && a.subnet === b.subnet && a.problem === b.problem && a.clusterCidr === b.clusterCidr;
}
