/**
 * The writer of one source's SyncStatus during one reconcile: progress conditions before each phase
 * (pipelined, in phase order, never blocking the phase) and the final status (after every progress
 * write, so a progress write never lands on top of it). Writes are compare-and-set against the record
 * this writer last wrote (one round trip); when someone else wrote in between it falls back to a
 * read-modify-write, so a concurrent writer is never overwritten.
 */
import { errorMessage, isGitcellError, type Logger } from '../../lib/index.ts';
import { StoreErrorCodes, type StoreRecord } from '../../store/index.ts';
import { sourceStatusKey } from './keys.ts';
import type { ReconcilerStore, SyncRecord } from './store.ts';
import { emptySyncStatus, setCondition, type Phase, type SyncStatus } from './sync.ts';

/** SyncStatusWriterOptions: whose status, stamped how. */
export interface SyncStatusWriterOptions {
  store: Pick<ReconcilerStore, 'sync'>;
  source: string;
  /** the leader term stamped on every write, if any */
  term?: number;
  /** iso is the clock the `updatedAt` stamps and condition times come from */
  iso: () => string;
  log: Logger;
}

/** SyncStatusWriter writes one source's SyncStatus during one reconcile: progress conditions in phase order, then the final status last. */
export class SyncStatusWriter {
  private readonly key: string;
  private last: StoreRecord<SyncRecord> | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly o: SyncStatusWriterOptions) {
    this.key = sourceStatusKey(o.source);
  }

  /**
   * progress queues a `Reconciling` condition for `phase` (and lastAttemptedRevision) behind the
   * writes before it; a failed progress write is logged, never raised: it only informs.
   */
  progress(phase: Phase, revision: string, message: string): void {
    this.chain = this.chain.then(async () => {
      try {
        await this.write((s) => ({
          ...s,
          phase,
          lastAttemptedRevision: revision,
          conditions: setCondition(s.conditions, { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `${phase}: ${message}` }, this.o.iso()),
        }));
      } catch (err) {
        this.o.log.warn({ err: errorMessage(err), phase }, 'reconciler: could not write progress');
      }
    });
  }

  /** final waits for the queued progress writes, then writes the status `fn` makes of the current one. */
  async final(fn: (s: SyncStatus) => SyncStatus): Promise<SyncStatus> {
    await this.chain;
    const rec = await this.write(fn);
    // Unreachable: `fn` always returns a status, so the key is never deleted.
    if (!rec) throw new Error(`reconciler: the status ${this.key} vanished while being written`);
    return rec.value as SyncStatus;
  }

  private stamp(cur: SyncRecord | undefined, fn: (s: SyncStatus) => SyncStatus): SyncStatus {
    const base = cur && (cur as SyncStatus).kind === 'SyncStatus' ? (cur as SyncStatus) : emptySyncStatus(this.o.source);
    return { ...fn(base), updatedAt: this.o.iso(), ...(this.o.term !== undefined ? { term: this.o.term } : {}) };
  }

  private async write(fn: (s: SyncStatus) => SyncStatus): Promise<StoreRecord<SyncRecord> | undefined> {
    const { sync } = this.o.store;
    if (this.last) {
      const next = this.stamp(this.last.value, fn);
      try {
        this.last = { key: this.key, value: next, revision: await sync.update(this.key, next, this.last.revision) };
        return this.last;
      } catch (err) {
        if (!isGitcellError(err, StoreErrorCodes.Conflict)) throw err;
      }
    }
    this.last = await sync.updateWithRetry(this.key, (cur) => this.stamp(cur, fn));
    return this.last;
  }
}
