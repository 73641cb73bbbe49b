/**
 * The reconciler's Prometheus metrics: reconciles by result and duration, the applied revision,
 * failed rollouts and rollbacks, notifications delivered, leadership. Fed from the service's
 * onReconciled/onRollback hooks; served by lib/metrics-http.ts with discovery (serve.ts).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReconcileOutcome } from '../apply/index.ts';
import type { RollbackOutcome } from '../service/rollback.ts';
import type { DeliveryResult } from '../notify/index.ts';

/** ReconcilerMetrics are the series one reconciler replica exports. */
export class ReconcilerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'gitcell_reconciler_reconciles_total', help: 'Reconciles by source and result (Applied, Unchanged, Stalled, Failed)', labelNames: ['source', 'result'], registers: [this.registry] });
  readonly duration = new Histogram({
    name: 'gitcell_reconciler_reconcile_duration_seconds', help: 'Duration of one reconcile, read to status', labelNames: ['source'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });
  readonly applied = new Gauge({ name: 'gitcell_reconciler_applied_revision_info', help: 'The revision applied per source (value 1)', labelNames: ['source', 'revision'], registers: [this.registry] });
  readonly failedRollouts = new Gauge({ name: 'gitcell_reconciler_failed_rollouts', help: 'Failed rollouts not yet superseded (reverted or fixed)', labelNames: ['source'], registers: [this.registry] });
  readonly rollbacks = new Counter({ name: 'gitcell_reconciler_rollbacks_total', help: 'Rollback decisions by outcome (reverted, conflict, disabled, already-reverted)', labelNames: ['source', 'outcome'], registers: [this.registry] });
  readonly notifications = new Counter({ name: 'gitcell_reconciler_notifications_total', help: 'Commit status notifications by receiver and outcome (delivered, refused, dropped)', labelNames: ['receiver', 'outcome'], registers: [this.registry] });
  readonly leader = new Gauge({ name: 'gitcell_reconciler_leader', help: '1 while this replica leads', registers: [this.registry] });
  private readonly appliedBySource = new Map<string, string>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gitcell_reconciler_' });
  }

  /** observeReconcile records one reconcile of `source`. */
  observeReconcile(source: string, outcome: ReconcileOutcome): void {
    this.reconciles.inc({ source, result: outcome.result });
    const s = outcome.status as ReconcileOutcome['status'] | undefined;
    if (!s) return;
    const last = s.history?.[0];
    if (last) this.duration.observe({ source }, last.durationMs / 1000);
    this.failedRollouts.set({ source }, s.failedRollouts?.length ?? 0);
    const rev = s.lastAppliedRevision;
    const prev = this.appliedBySource.get(source);
    if (rev && rev !== prev) {
      if (prev) this.applied.remove({ source, revision: prev });
      this.applied.set({ source, revision: rev }, 1);
      this.appliedBySource.set(source, rev);
    }
  }

  /** observeRollback records one rollback decision. */
  observeRollback(source: string, outcome: RollbackOutcome): void {
    this.rollbacks.inc({ source, outcome: outcome.outcome });
  }

  /** observeNotification records one notification's fate. */
  observeNotification(receiver: string, r: DeliveryResult): void {
    this.notifications.inc({ receiver, outcome: r.outcome });
  }
}
