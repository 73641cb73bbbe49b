/**
 * obtainSubnet: the node's task subnet from the control plane (bucket `subnets`, written by the
 * reconciler's subnet allocator), before the agent attaches any task. The node registers first (the
 * allocator gives subnets to the nodes in `nodes`), asking for the subnet it was given before, kept
 * in its state dir: after a restart, or a store rebuild that lost every allocation, it gets the same
 * one back while no other node holds it, so its running tasks keep their addresses.
 *
 *   put nodes/<node> (subnet: the one kept, if any) ─► watch subnets/<node> ─► subnet ─► keep it in <stateDir>
 *        └── lease renewed every heartbeat while waiting                          └─► problem: fail, naming it
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NODE_LEASE_RENEW_MS, type NodeLease, type NodeRecord, type NodeSubnetRecord } from '../api/index.ts';
import { ErrorCodes, NetworkError, errorMessage, writeFileAtomic, type Logger } from '../lib/index.ts';
import { Informer, type RoBucket } from '../store/index.ts';
import { resolveAgentOptions, type AgentOptions } from './context.ts';
import { nodeRecord } from './heartbeat.ts';

/**
 * registrationRecord is the node record an agent registers with before it has a subnet (no images,
 * no key yet). Without the store incarnation: that one says the node has re-reported its tasks
 * after a store rebuild (the reconciler waits for it before creating tasks), which it has not yet.
 */
export function registrationRecord(options: AgentOptions, requested: string | undefined, now = Date.now()): NodeRecord {
  const { subnet: _ignored, storeIncarnation: _notYet, ...rest } = options;
  const at = new Date(now).toISOString();
  return nodeRecord(resolveAgentOptions({ ...rest, ...(requested ? { subnet: requested } : {}) }), { images: [], startedAt: at, now });
}

/** ObtainSubnetOptions: the node, where it keeps its subnet, how it registers and how long to wait. */
export interface ObtainSubnetOptions {
  node: string;
  stateDir: string;
  store: { nodes: { put(key: string, value: NodeRecord): Promise<unknown> }; heartbeats: { put(key: string, value: NodeLease): Promise<unknown> }; subnets: RoBucket<NodeSubnetRecord> };
  /** the node's registration record asking for `requested` (undefined: any) */
  record: (requested: string | undefined) => NodeRecord;
  signal: AbortSignal;
  log: Logger;
  /** give up after this long without an allocation (default 5 min) */
  timeoutMs?: number;
  /** renew the node's lease this often while waiting, so the node looks alive (default NODE_LEASE_RENEW_MS) */
  heartbeatMs?: number;
}

/** subnetFile is where a node keeps the subnet the control plane gave it. */
export function subnetFile(stateDir: string): string {
  return join(stateDir, 'network', 'subnet');
}

/** obtainSubnet registers the node, waits for its allocation and returns it (subnet, cluster CIDR); see the file comment. */
export async function obtainSubnet(o: ObtainSubnetOptions): Promise<{ subnet: string; clusterCidr?: string }> {
  const kept = (await readFile(subnetFile(o.stateDir), 'utf8').catch(() => '')).trim() || undefined;
  const ac = new AbortController();
  const stop = () => ac.abort();
  o.signal.addEventListener('abort', stop, { once: true });
  // The record once (again each beat until it is in), the lease every beat.
  let registered = false;
  const register = async (): Promise<void> => {
    try {
      if (!registered) await o.store.nodes.put(o.node, o.record(kept));
      registered = true;
      await o.store.heartbeats.put(o.node, {});
    } catch (err) {
      o.log.warn({ err: errorMessage(err) }, 'agent: registration failed; retrying');
    }
  };
  const beat = setInterval(() => void register(), o.heartbeatMs ?? NODE_LEASE_RENEW_MS);
  try {
    await register();
    const got = await new Promise<NodeSubnetRecord>((resolve, reject) => {
      const timeoutMs = o.timeoutMs ?? 300_000;
      const timer = setTimeout(() => reject(new NetworkError(ErrorCodes.NetworkConfig, `node ${o.node}: no task subnet allocated after ${timeoutMs / 1000} s; is a reconciler (the subnet allocator) running? (or give --subnet)`, { node: o.node })), timeoutMs);
      ac.signal.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('stopped while waiting for a task subnet')); }, { once: true });
      const check = () => {
        const r = informer.get(o.node);
        // A record the allocator has not yet revised for our request is not our answer.
        if (r && (r.problem || (r.subnet && (kept === undefined || r.subnet === kept)))) {
          clearTimeout(timer);
          resolve(r);
        }
      };
      const informer = new Informer<NodeSubnetRecord>(o.store.subnets, { signal: ac.signal, key: o.node, log: o.log, onChange: check });
    });
    if (!got.subnet) throw new NetworkError(ErrorCodes.NetworkConfig, `node ${o.node} has no task subnet: ${got.problem}`, { node: o.node });
    if (got.subnet !== kept) {
      await mkdir(dirname(subnetFile(o.stateDir)), { recursive: true });
      await writeFileAtomic(subnetFile(o.stateDir), `${got.subnet}\n`);
    }
    o.log.info({ subnet: got.subnet }, 'agent: task subnet allocated');
    return { subnet: got.subnet, ...(got.clusterCidr ? { clusterCidr: got.clusterCidr } : {}) };
  } finally {
    clearInterval(beat);
    ac.abort();
    o.signal.removeEventListener('abort', stop);
  }
}
