import type { ClusterEvent, NodeRecord, TaskSpec, TaskStatus } from '../../api/index.ts';
import type { Bucket, EventStream } from '../../store/index.ts';
import { appendEvent } from '../../store/index.ts';
import type { CronJobStatus, WorkloadStatus } from '../controllers/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import type { Inventory, SyncStatus } from './sync.ts';

/** SyncRecord is any value of the `sync` bucket: a source's status and inventory, or a controller's object status. */
export type SyncRecord = SyncStatus | Inventory | WorkloadStatus | (CronJobStatus & { kind: 'CronJob' });

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
  nodes: Bucket<NodeRecord>;
  events: EventStream<ClusterEvent>;
}

/** emit appends an event, never failing the caller: events are best effort. */
export async function emit(store: Pick<ReconcilerStore, 'events'>, ev: Omit<ClusterEvent, 'time' | 'source'> & { time?: string }, log?: { warn: (o: object, m: string) => void }): Promise<void> {
  try {
    await appendEvent(store.events, { time: ev.time ?? new Date().toISOString(), source: 'reconciler', ...ev });
  } catch (err) {
    log?.warn({ err: String(err) }, `reconciler: could not record event ${ev.reason}`);
  }
}

/** mapLimit runs `fn` over items with at most `limit` in flight, in order of start; rejects on the first error. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
