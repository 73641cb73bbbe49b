import type { NatsConnection } from '@nats-io/transport-node';
import type { AutoscaleRecord } from '../api/autoscale.ts';
import type { Binding, ClusterEvent, TaskSpec, TaskStatus } from '../api/cluster.ts';
import { Bucket, type BucketOptions } from './bucket.ts';
import { bucketConfig, DEFAULT_PREFIX, eventsSubjectRoot, objectCodec, roleCodec, verifyClusterEvent, type BucketRole } from './cluster.ts';
import { EventStream } from './events.ts';
import { AUTOSCALER_WRITER } from './permissions.ts';

/** AutoscalerStoreHandles is the part of the store the autoscaler identity may touch; Desired is the reconciler's record type. */
export interface AutoscalerStoreHandles<Desired = unknown> {
  nc: NatsConnection;
  prefix: string;
  /** read only under its permissions (the handles are typed as buckets for the informers) */
  desired: Bucket<Desired>;
  tasks: Bucket<TaskSpec>;
  status: Bucket<TaskStatus>;
  bindings: Bucket<Binding>;
  /** the one bucket it writes */
  autoscale: Bucket<AutoscaleRecord>;
  /** events under the autoscaler's writer token */
  events: EventStream<ClusterEvent>;
}

/** AutoscalerStoreOptions configure openAutoscalerStore. */
export interface AutoscalerStoreOptions extends BucketOptions {
  prefix?: string;
  /** replicas of the autoscale bucket (as every component's: see suggestReplicas); omitted: create with 1, never rescale */
  replicas?: number;
  timeoutMs?: number;
}

/**
 * openAutoscalerStore creates and configures the autoscale bucket (the autoscaler identity owns that
 * stream's configuration: the control plane may not reconfigure it) and binds, never creates, what
 * it reads. Open it before the control plane's openClusterStore, which then finds the bucket made.
 */
export async function openAutoscalerStore<Desired = unknown>(nc: NatsConnection, opts: AutoscalerStoreOptions = {}): Promise<AutoscalerStoreHandles<Desired>> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const bopts: BucketOptions = { ...(opts.log ? { log: opts.log } : {}), ...(opts.onInvalid ? { onInvalid: opts.onInvalid } : {}) };
  const cfg = (role: BucketRole) => bucketConfig(role, prefix, opts);
  const bind = <T>(role: BucketRole) => Bucket.bind<T>(nc, cfg(role), roleCodec<T>(role), bopts);
  const [autoscale, desired, tasks, status, bindings, events] = await Promise.all([
    Bucket.open<AutoscaleRecord>(nc, cfg('autoscale'), objectCodec<AutoscaleRecord>(), bopts),
    bind<Desired>('desired'),
    bind<TaskSpec>('tasks'),
    bind<TaskStatus>('status'),
    bind<Binding>('bindings'),
    EventStream.bind<ClusterEvent>(
      nc,
      { name: `${prefix}events`, subjectRoot: eventsSubjectRoot(prefix), writer: AUTOSCALER_WRITER, verify: verifyClusterEvent, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) },
      objectCodec<ClusterEvent>(),
      bopts,
    ),
  ]);
  return { nc, prefix, desired, tasks, status, bindings, autoscale, events };
}
