/**
 * ReplicaViews: the copies of the nodes and task buckets that a reconciler replica's controllers and
 * endpoints loops read, made when the replica first leads and kept until it stops, across terms.
 *
 * Why kept: a term can end on a loaded machine without anything being wrong with this replica (a
 * lease renewal that timed out, a reconnect). With copies per term, every new term snapshotted
 * every task, status and binding again: at 30,000 tasks that was tens of consumers replaying the
 * streams while the server was already behind, which made the next renewal late too. A replica
 * that led once is the likeliest to lead again, so its copies stay warm; their watches resume
 * after what they hold. Correctness does not depend on their age: every write is a
 * compare-and-set on the revision read.
 */
import type { Logger } from '../../lib/index.ts';
import { LEASE_BATCH_MS, LivenessInformer, NodeInformer, type ClusterStore } from '../../store/index.ts';
import { openTaskInformers, type TaskInformers } from '../apply/index.ts';

/** Views are the replica's copies: nodes with their leases, the published liveness, the task buckets. */
export interface Views {
  nodes: NodeInformer;
  liveness: LivenessInformer;
  shared: TaskInformers;
}

/** ReplicaViews makes the views once (open) and stops them with the replica (stop). */
export class ReplicaViews {
  private readonly ac = new AbortController();
  private views: Views | undefined;

  constructor(
    private readonly store: ClusterStore<unknown, unknown>,
    private readonly log: Logger,
  ) {}

  /** open returns the views, starting them at the first call. */
  open(): Views {
    this.views ??= {
      nodes: new NodeInformer(this.store, { signal: this.ac.signal, log: this.log, leaseBatchMs: LEASE_BATCH_MS }),
      liveness: new LivenessInformer(this.store.cluster, { signal: this.ac.signal, log: this.log }),
      shared: openTaskInformers(this.store, this.ac.signal, this.log),
    };
    return this.views;
  }

  /** stop ends the views' watches and resolves once they have stopped. */
  async stop(): Promise<void> {
    this.ac.abort();
    const v = this.views;
    if (v) await Promise.all([v.nodes.done, v.liveness.done, v.shared.tasks.done, v.shared.statuses.done, v.shared.bindings.done]);
  }
}
