import type { AutoscaleRecord, Binding, ClusterEvent, NodeLease, NodeRecord, NodeSpec, TaskSpec, TaskStatus } from '../../api/index.ts';
import type { Bucket, EventStream } from '../../store/index.ts';
import { recordEvent } from '../../store/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { CronJobStatus, WorkloadStatus } from '../controllers/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import type { Inventory, SyncStatus } from './sync.ts';
import type { SourceControl } from '../service/control.ts';
import type { ControllersSettled } from '../service/settle.ts';

/** SyncRecord is any value of the `sync` bucket: a source's status, inventory and control, a controller's object status, or the controllers' settle mark. */
export type SyncRecord = SyncStatus | Inventory | SourceControl | WorkloadStatus | (CronJobStatus & { kind: 'CronJob' }) | ControllersSettled;

/**
 * ReconcilerStore is the part of the cluster store the reconciler uses (a ClusterStore from
 * store/openClusterStore<DesiredRecord, SyncRecord> fits). It writes desired, tasks, sync and
 * events, and only reads status and nodes.
 */
export interface ReconcilerStore {
  desired: Bucket<DesiredRecord>;
  tasks: Bucket<TaskSpec>;
  sync: Bucket<SyncRecord>;
  status: Bucket<TaskStatus>;
  /** the scheduler's bindings: a task status counts only when written by the node its task is bound to */
  bindings: Bucket<Binding>;
  nodes: Bucket<NodeRecord>;
  /** the nodes' leases (liveness: store/node-informer.ts joins them with the records) */
  heartbeats: Bucket<NodeLease>;
  /** the operator's node specs: reserved labels and taints the DaemonSet controller judges nodes by */
  nodespec: Bucket<NodeSpec>;
  /** the autoscaler's live replica counts (read only here: the autoscaler is their one writer) */
  autoscale?: Bucket<AutoscaleRecord>;
  events: EventStream<ClusterEvent>;
}

/** emit records a reconciler event, best effort (store recordEvent): it never fails the caller. */
export async function emit(store: Pick<ReconcilerStore, 'events'>, ev: Omit<ClusterEvent, 'time' | 'source'> & { time?: string }, log?: Pick<Logger, 'warn'>): Promise<void> {
  await recordEvent(store.events, { time: ev.time ?? new Date().toISOString(), source: 'reconciler', ...ev }, log ? { log } : {});
}

