/**
 * The scheduler's leader sizes the cluster's lease renewal period and publishes it (as Nomad's
 * servers hand out heartbeat TTLs of `max(10 s, nodes / max_heartbeats_per_second)`), and judges
 * liveness by the grace it published, so agents, the reconciler, the dashboard and the CLI agree
 * with it on both (store/liveness.ts).
 *
 *   each loop turn ─► nextLiveness(published, records.size, now) ─ changed? ─► put cluster/liveness
 *                 └─► timings(): the published grace, unless flags fixed it (tests)
 */
import { nextLiveness, type LivenessPolicy, type LivenessRecord, type NodeLease } from '../../api/index.ts';
import { errorMessage, type Logger } from '../../lib/index.ts';
import { LIVENESS_KEY, LivenessInformer, type Bucket } from '../../store/index.ts';
import type { PassTimings } from './plan.ts';

/** LivenessPublisherOptions: until when, the sizing policy, the graces fixed by flags. */
export interface LivenessPublisherOptions {
  signal: AbortSignal;
  log: Logger;
  policy: LivenessPolicy;
  /** graces fixed by the operator (flags); unset ones follow the published grace */
  fixed: Partial<PassTimings>;
}

/** LivenessPublisher publishes and follows the liveness while this replica leads; see the file comment. */
export class LivenessPublisher {
  readonly informer: LivenessInformer;
  private failedAt = 0;

  constructor(private readonly bucket: Bucket<LivenessRecord>, private readonly o: LivenessPublisherOptions) {
    this.informer = new LivenessInformer(bucket, { signal: o.signal, log: o.log });
  }

  /** timings are the graces a pass judges liveness by now. */
  timings(): PassTimings {
    const grace = this.informer.current().graceMs;
    const heartbeatGraceMs = this.o.fixed.heartbeatGraceMs ?? grace;
    // A lapsed node's tasks move at once, as Nomad's: the requeue grace is the heartbeat grace.
    return { heartbeatGraceMs, requeueGraceMs: Math.max(heartbeatGraceMs, this.o.fixed.requeueGraceMs ?? grace) };
  }

  /**
   * publish writes the record nextLiveness asks for, if any, once the published one is known; a
   * failed write is logged (at most every 30 s) and made again on a later turn.
   */
  async publish(nodes: number, now: number): Promise<void> {
    if (!this.informer.informer.hasSynced) return;
    const next = nextLiveness(this.informer.record(), nodes, now, this.o.policy);
    if (!next) return;
    try {
      const revision = await this.bucket.put(LIVENESS_KEY, next);
      // Known at once: the next turn must not write it again before the watch brings it.
      this.informer.informer.apply(LIVENESS_KEY, next, revision);
      this.o.log.info({ periodMs: next.periodMs, graceMs: next.graceMs, nodes }, 'scheduler: published the lease renewal period');
    } catch (err) {
      if (now - this.failedAt > 30_000) this.o.log.warn({ err: errorMessage(err) }, 'scheduler: cannot publish the lease renewal period; will retry');
      this.failedAt = now;
    }
  }
}

/**
 * restoreLeaseBucket makes the lease bucket again after a pass failed on a missing stream: it is
 * kept in memory (store/cluster.ts), so a nats-server restart removes it while every other bucket
 * stays, and agents renew into nothing until an identity that may create streams makes it: the
 * scheduler's leader, which owns liveness. Readers count the lost leases from then (node-informer.ts).
 */
export async function restoreLeaseBucket(bucket: Pick<Bucket<NodeLease>, 'ensure' | 'name'>, err: unknown, log: Logger): Promise<void> {
  if (!/stream not found/i.test(errorMessage(err))) return;
  try {
    await bucket.ensure();
    log.info({ bucket: bucket.name }, 'scheduler: made the lease bucket again (kept in memory: lost with a nats-server restart)');
  } catch (e) {
    log.warn({ err: errorMessage(e) }, 'scheduler: cannot make the lease bucket again');
  }
}
