/**
 * The published liveness (api LivenessRecord: lease renewal period and grace), as its readers follow
 * it: the scheduler's leader writes it in the `cluster` bucket (key `liveness`) sized to the node
 * count; agents renew at its period, and the scheduler, the reconciler, the dashboard and the CLI
 * judge a node not ready past its grace. Nothing published (a new cluster, an old control plane):
 * FALLBACK_LIVENESS, the fixed 10 s / 40 s of before.
 *
 *   scheduler leader ─ nextLiveness(nodes) ─► put cluster/liveness
 *                                               │ one key, written a few times in a cluster's life
 *   LivenessInformer (one watch per process) ◄──┘ current() / listen(fn)
 */
import { FALLBACK_LIVENESS, livenessOf, type Liveness, type LivenessRecord } from '../api/index.ts';
import type { BackoffOptions, Logger } from '../lib/index.ts';
import type { RoBucket } from './bucket.ts';
import { Informer, type InformerSource } from './informer.ts';

/** LIVENESS_KEY is the key of the published liveness in the `cluster` bucket. */
export const LIVENESS_KEY = 'liveness';

/** LivenessView is what readers of the published liveness need: the current value and its changes. */
export interface LivenessView {
  /** the published liveness, or FALLBACK_LIVENESS while none is (or the copy has not synced) */
  current(): Liveness;
  /** fn is told each time the published record changes; returns the function that stops telling */
  listen(fn: (l: Liveness) => void): () => void;
}

/** LivenessInformer follows the published liveness (one watch of one key); see the file comment. */
export class LivenessInformer implements LivenessView {
  readonly informer: Informer<LivenessRecord>;
  readonly synced: Promise<void>;
  readonly done: Promise<void>;
  private readonly fns = new Set<(l: Liveness) => void>();

  constructor(src: InformerSource<LivenessRecord>, opts: { signal: AbortSignal; log?: Logger; backoff?: BackoffOptions }) {
    this.informer = new Informer<LivenessRecord>(src, {
      signal: opts.signal,
      key: LIVENESS_KEY,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      onChange: () => this.tell(),
    });
    this.synced = this.informer.synced;
    this.done = this.informer.done;
  }

  /** record is the published record itself (undefined while none is) */
  record(): LivenessRecord | undefined {
    return this.informer.get(LIVENESS_KEY);
  }

  current(): Liveness {
    return livenessOf(this.record());
  }

  listen(fn: (l: Liveness) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  private tell(): void {
    const l = this.current();
    for (const fn of this.fns) fn(l);
  }
}

/** fixedLiveness is a LivenessView that never changes: for components given their timings by flags (tests). */
export function fixedLiveness(l: Liveness = FALLBACK_LIVENESS): LivenessView {
  return { current: () => l, listen: () => () => undefined };
}

/**
 * readLiveness is the one-shot read of the published liveness (CLI listings): FALLBACK_LIVENESS when
 * nothing is published or the bucket cannot be read (a cluster from before the bucket).
 */
export async function readLiveness(bucket: Pick<RoBucket<LivenessRecord>, 'get'>): Promise<Liveness> {
  const rec = await bucket.get(LIVENESS_KEY).catch(() => undefined);
  return livenessOf(rec?.value);
}
