// reconciler/service: one reconciler replica: source -> (leader only) reconcile per revision, controllers, rollback by revert.
export { startReconcilerService, sourceNameOf, RECONCILER_LEASE, type ReconcilerService, type ReconcilerServiceOptions } from './service.ts';
export type { Views } from './views.ts';
export { RevisionQueue } from './queue.ts';
export { rollBack, findRevertOf, groupByRevision, rolloutId, type RollbackContext, type RollbackOutcome } from './rollback.ts';
export { waitForNodesToSettle, settleDecision, DEFAULT_SETTLE, SETTLED_KEY, type SettleOptions, type ControllersSettled } from './settle.ts';
export { verifySourceRevision, type TrustOptions } from './trust.ts';
