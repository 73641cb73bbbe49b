// reconciler/notify/: what gitcell did with each commit, told where people look (forge commit
// statuses, signed webhooks), from the store, while this replica leads. See README.md.
export { runNotifier, type Notifier, type NotifierOptions } from './notifier.ts';
export { judgeCommit, ROLLBACK_REASONS, type CommitFacts, type CommitState, type CommitStatusVerdict, type ChangedWorkload } from './verdict.ts';
export { buildRequest, signBody, SIGNATURE_HEADER, MAX_DESCRIPTION, type HttpRequest, type NotifyContext } from './requests.ts';
export { Delivery, DEFAULT_DELIVERY_BACKOFF, type DeliveryOptions, type DeliveryResult } from './delivery.ts';
export { rollbackEvents, changedWorkloadKeys, withStatuses, type FactsStore } from './facts.ts';
