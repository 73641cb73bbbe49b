/**
 * The store reads behind a commit verdict (verdict.ts): the source's rollback events and the
 * workloads a commit changed, with their statuses. Shared by the notifier and `gitcell status`.
 */
import { DEFAULT_NAMESPACE, type ClusterEvent } from '../../api/index.ts';
import { eventTokens, type RoBucket } from '../../store/index.ts';
import { objectStatusKey, type ReconcilerStore, type SyncRecord } from '../apply/index.ts';
import type { WorkloadStatus } from '../controllers/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import { ROLLBACK_REASONS, type ChangedWorkload } from './verdict.ts';

/** FactsStore is what the reads need: read-only buckets and the events stream. */
export interface FactsStore {
  desired: RoBucket<DesiredRecord>;
  sync: RoBucket<SyncRecord>;
  events: Pick<ReconcilerStore['events'], 'recent'>;
}

/** rollbackEvents are the source's recent RolledBack, RevertConflict and RollbackDisabled events. */
export async function rollbackEvents(store: FactsStore, sourceName: string, limit = 50): Promise<ClusterEvent[]> {
  const recent = await store.events.recent({ limit, prefix: eventTokens({ object: { kind: 'Source', name: sourceName } }).join('.') });
  return recent.map((e) => e.value).filter((e) => (ROLLBACK_REASONS as readonly string[]).includes(e.reason));
}

/** changedWorkloadKeys lists the Jobs and DaemonSets from Git whose last change was `revision` (one listing per kind). */
export async function changedWorkloadKeys(store: Pick<FactsStore, 'desired'>, revision: string): Promise<ChangedWorkload[]> {
  const out: ChangedWorkload[] = [];
  for (const kind of ['Job', 'DaemonSet'] as const) {
    for (const rec of await store.desired.list(kind)) {
      // Git's objects only: a CronJob's run Jobs are the controller's, not the commit's.
      if (rec.value.revision !== revision || rec.value.origin.type !== 'git') continue;
      const meta = rec.value.object.metadata;
      const type = kind === 'DaemonSet' ? 'daemon' : ((rec.value.object.spec as { type?: 'service' | 'batch' }).type ?? 'service');
      out.push({ kind, namespace: meta.namespace ?? DEFAULT_NAMESPACE, name: meta.name, generation: rec.value.generation, type });
    }
  }
  return out;
}

/** withStatuses adds each workload's current controller status. */
export function withStatuses(store: Pick<FactsStore, 'sync'>, list: readonly ChangedWorkload[]): Promise<ChangedWorkload[]> {
  return Promise.all(list.map(async (w) => {
    const status = (await store.sync.get(objectStatusKey(w.kind, w.namespace, w.name)))?.value as WorkloadStatus | undefined;
    return { ...w, ...(status ? { status } : {}) };
  }));
}
