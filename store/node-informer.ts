/**
 * NodeInformer: the nodes as liveness readers see them, one join of two informers: the `nodes`
 * bucket (each node's record, written by its agent only when something in it changes) and the
 * `heartbeats` bucket (each node's lease, renewed every heartbeat, its time the server's). A node's
 * `heartbeatAt` in this view is the newer of the record's own and its lease's renewal (api
 * withLease), so agents from before the leases, which beat in the record, still count as alive.
 *
 *   nodes ─────────── Informer ──┐
 *                                ├─► get / entry / entries / values: record withLease(renewal)
 *   heartbeats ─ Informer (times)┘    (one joined object per record and lease revision, cached)
 *
 *   onChange: the snapshot (once both are in), a record added, deleted or changed beyond its
 *   heartbeat time (or with its heartbeat moving back), a lease appearing or going. Never a renewal: 10,000 nodes renew 3,300 times a
 *   second, and readers notice a lapse on their own ticks, as they did with record heartbeats.
 *
 * Leases live in memory (`heartbeats` is a memory-stored bucket): a nats-server restart loses them
 * all and numbers the stream again from 1, so the lease copy re-snapshots on every watch restart
 * (Informer `resnapshot`) and a lease the copy lacks counts as renewed when that snapshot was taken
 * (this process's clock; Kubernetes' node-lifecycle controller starts every node's grace when it
 * first sees it the same way): after a restart a node is not ready only once a grace has passed
 * without its renewal. A lease deleted while watched (an agent stopping cleanly) counts as gone.
 *
 * Control-plane readers follow the leases in batches (`leaseBatchMs`, LEASE_BATCH_MS): a pull
 * consumer asked every second for every renewal since, which nats-server writes to the reader in one
 * go instead of one delivery per renewal, the larger part of what a renewal cost it (issue 17). A
 * second late is nothing against a grace of at least 40 s. Identities that may not pull (viewers:
 * the dashboard) follow them pushed, as before.
 *
 * Several loops of one process share one NodeInformer (each `listen`s): one watch of each bucket
 * instead of one per loop (the reconciler's controllers and endpoints loops).
 *
 * listNodesWithLeases is the one-shot form (CLI listings): both buckets listed, joined the same way.
 */
import { sameButHeartbeat, withLease, type NodeLease, type NodeRecord } from '../api/index.ts';
import type { BackoffOptions, Logger } from '../lib/index.ts';
import type { RoBucket, StoreRecord } from './bucket.ts';
import { ChangeListeners, Informer, type InformerChange, type InformerEntry, type InformerSource, type InformerView } from './informer.ts';

/**
 * LEASE_BATCH_MS is how often a control-plane NodeInformer collects the renewals since the last time
 * (`leaseBatchMs`): about 50 renewals a second arrive in one delivery instead of 50, and a second of
 * delay is nothing against the grace (at least 40 s).
 */
export const LEASE_BATCH_MS = 1_000;

/** NodeSources are the two buckets a NodeInformer joins (a ClusterStore has both). */
export interface NodeSources {
  nodes: InformerSource<NodeRecord>;
  heartbeats: InformerSource<NodeLease>;
}

/** NodeInformerOptions: until when to follow, whom to tell (see the file comment for when). */
export interface NodeInformerOptions {
  signal: AbortSignal;
  /** told of each change (see the file comment); more readers can `listen` */
  onChange?: (change: InformerChange<NodeRecord>) => void;
  log?: Logger;
  backoff?: BackoffOptions;
  /**
   * follow the leases in batches every this many ms (LEASE_BATCH_MS; Informer `batchMs`) instead of
   * each renewal as it comes; needs the right to pull from the `heartbeats` stream's consumers, which
   * control-plane identities have and viewers do not
   */
  leaseBatchMs?: number;
}

/** NodeInformer is the joined, read-only view of the nodes; see the file comment. */
export class NodeInformer implements InformerView<NodeRecord> {
  readonly name: string;
  readonly synced: Promise<void>;
  /** done resolves once both informers have stopped */
  readonly done: Promise<void>;
  /** the records, heartbeat times as their agents wrote them */
  readonly records: Informer<NodeRecord>;
  /** the leases, each entry's `created` its renewal */
  readonly leases: Informer<NodeLease>;
  readonly entries: ReadonlyMap<string, InformerEntry<NodeRecord>>;
  private readonly joined = new Map<string, { rec: InformerEntry<NodeRecord>; renewed: number | undefined; out: InformerEntry<NodeRecord> }>();
  /** leases deleted while watched (since the last snapshot): gone, not merely lost with a restart */
  private readonly deleted = new Set<string>();
  private told = false;
  private readonly listeners: ChangeListeners<NodeRecord>;

  constructor(src: NodeSources, private readonly opts: NodeInformerOptions) {
    this.listeners = new ChangeListeners(opts.onChange);
    const common = { signal: opts.signal, ...(opts.log ? { log: opts.log } : {}), ...(opts.backoff ? { backoff: opts.backoff } : {}) };
    this.records = new Informer<NodeRecord>(src.nodes, { ...common, onChange: (c) => this.onRecord(c) });
    this.leases = new Informer<NodeLease>(src.heartbeats, { ...common, times: true, resnapshot: true, ...(opts.leaseBatchMs !== undefined ? { batchMs: opts.leaseBatchMs } : {}), onChange: (c) => this.onLease(c) });
    this.name = this.records.name;
    this.synced = Promise.all([this.records.synced, this.leases.synced]).then(() => undefined);
    this.done = Promise.all([this.records.done, this.leases.done]).then(() => undefined);
    this.entries = new JoinedEntries(this.records.entries, (key) => this.entry(key));
  }

  get hasSynced(): boolean {
    return this.records.hasSynced && this.leases.hasSynced;
  }

  /** revision is the records' revision (lease renewals are not changes of the view) */
  get revision(): number {
    return this.hasSynced ? this.records.revision : 0;
  }

  get(key: string): NodeRecord | undefined {
    return this.entry(key)?.value;
  }

  entry(key: string): InformerEntry<NodeRecord> | undefined {
    const rec = this.records.entry(key);
    if (!rec) {
      this.joined.delete(key);
      return undefined;
    }
    const renewed = this.renewedAt(key);
    const cached = this.joined.get(key);
    if (cached && cached.rec === rec && cached.renewed === renewed) return cached.out;
    const value = withLease(rec.value, renewed);
    const out = value === rec.value ? rec : { value, revision: rec.revision };
    this.joined.set(key, { rec, renewed, out });
    return out;
  }

  /** renewedAt is a node's last renewal: its lease's time; without one, the lease copy's snapshot time unless it was deleted since (see the file comment). */
  private renewedAt(key: string): number | undefined {
    const lease = this.leases.entry(key);
    if (lease) return lease.created;
    return this.deleted.has(key) || this.leases.snapshotAt === 0 ? undefined : this.leases.snapshotAt;
  }

  values(): NodeRecord[] {
    return [...this.records.entries.keys()].map((key) => this.get(key)!);
  }

  caughtUp(revision: number, timeoutMs: number): Promise<boolean> {
    return this.records.caughtUp(revision, timeoutMs);
  }

  /**
   * listen adds a reader told of the changes onChange is told of (the snapshot only if it has not
   * come yet); returns the function that removes it.
   */
  listen(fn: (change: InformerChange<NodeRecord>) => void): () => void {
    return this.listeners.listen(fn);
  }

  private tell(change: InformerChange<NodeRecord>): void {
    this.listeners.tell(change);
  }

  private onRecord(c: InformerChange<NodeRecord>): void {
    if (!c) return this.syncedOnce();
    if (!this.told) return;
    if (!c.next) this.joined.delete(c.key);
    // A heartbeat alone is no change, unless it moves back: readers that keep liveness verdicts
    // between passes (the reconciler's EligibleNodeIndex) rely on heartbeats only moving forward.
    if (c.prev && c.next && sameButHeartbeat(c.prev, c.next) && !(Date.parse(c.next.heartbeatAt) < Date.parse(c.prev.heartbeatAt))) return;
    const renewed = this.renewedAt(c.key);
    this.tell({ key: c.key, prev: c.prev && withLease(c.prev, renewed), next: c.next && this.get(c.key) });
  }

  private onLease(c: InformerChange<NodeLease>): void {
    if (!c) {
      // The first snapshot, or one that replaced the copy after a restart: every lease may have changed.
      this.deleted.clear();
      return this.told ? this.tell(undefined) : this.syncedOnce();
    }
    if (c.next) this.deleted.delete(c.key);
    else this.deleted.add(c.key);
    // A renewal changes nothing to decide; a lease that appears or goes may change a node's liveness.
    if (!this.told || (c.prev && c.next)) return;
    const rec = this.records.get(c.key);
    if (rec) this.tell({ key: c.key, prev: rec, next: this.get(c.key) });
  }

  private syncedOnce(): void {
    if (this.told || !this.hasSynced) return;
    this.told = true;
    this.tell(undefined);
  }
}

/** JoinedEntries is a live map over the records' keys whose values are joined on access. */
class JoinedEntries implements ReadonlyMap<string, InformerEntry<NodeRecord>> {
  constructor(private readonly keysOf: ReadonlyMap<string, unknown>, private readonly join: (key: string) => InformerEntry<NodeRecord> | undefined) {}
  get size(): number {
    return this.keysOf.size;
  }
  get(key: string): InformerEntry<NodeRecord> | undefined {
    return this.join(key);
  }
  has(key: string): boolean {
    return this.keysOf.has(key);
  }
  forEach(fn: (value: InformerEntry<NodeRecord>, key: string, map: ReadonlyMap<string, InformerEntry<NodeRecord>>) => void): void {
    for (const [k, e] of this) fn(e, k, this);
  }
  *entries(): MapIterator<[string, InformerEntry<NodeRecord>]> {
    for (const k of this.keysOf.keys()) yield [k, this.join(k)!];
  }
  keys(): MapIterator<string> {
    return this.keysOf.keys();
  }
  *values(): MapIterator<InformerEntry<NodeRecord>> {
    for (const k of this.keysOf.keys()) yield this.join(k)!;
  }
  [Symbol.iterator](): MapIterator<[string, InformerEntry<NodeRecord>]> {
    return this.entries();
  }
}

/**
 * listNodesWithLeases lists the node records (below `prefix`) joined with their leases as NodeInformer joins
 * them: one-shot readers (CLI listings, dry runs) see the same liveness as the control plane.
 */
export async function listNodesWithLeases(store: { nodes: RoBucket<NodeRecord>; heartbeats: RoBucket<NodeLease> }, prefix = ''): Promise<StoreRecord<NodeRecord>[]> {
  const [records, leases] = await Promise.all([store.nodes.list(prefix), store.heartbeats.list(prefix)]);
  const renewed = new Map(leases.map((l) => [l.key, l.created?.getTime()]));
  return records.map((r) => ({ ...r, value: withLease(r.value, renewed.get(r.key)) }));
}
