// reconciler/apply: the I/O edge. reconcileRevision writes a revision's desired objects; the
// controller loop turns them into tasks and statuses.
export { reconcileRevision, type ReconcileRevisionOptions, type ReconcileOutcome, type ValidatedRevision } from './reconcile.ts';
export { runControllers, type RunControllersOptions, type ControllerLoop } from './controllers-loop.ts';
export { runEndpoints, type RunEndpointsOptions, type EndpointsLoop, type EndpointsStore } from './endpoints-loop.ts';
export { runSubnets, sameSubnetRecord, type RunSubnetsOptions, type SubnetsStore } from './subnets-loop.ts';
export { openTaskInformers, type TaskInformers } from './shared-informers.ts';
export { controllerPass, type ClusterView, type PassOptions, type PassResult, type PassEvent } from './controllers-pass.ts';
export { withRepoDefaults } from './defaults.ts';
export { buildDesired, toValidatedRevision, validateLoad, type BuildResult, type Located, type ValidatorOutput } from './build.ts';
export { secretVersionsOf, secretVersionOf, workloadSpecOf, type SecretVersions } from './workloads.ts';
export { emit, type ReconcilerStore, type SyncRecord } from './store.ts';
export {
  desiredStoreKey,
  objectKeyOfStoreKey,
  sourceStatusKey,
  objectStatusKey,
  inventoryKey,
  SOURCE_PREFIX,
  OBJECT_PREFIX,
  INVENTORY_PREFIX,
} from './keys.ts';
export {
  PHASES,
  HISTORY_LIMIT,
  emptySyncStatus,
  setCondition,
  pushHistory,
  addFailedRollout,
  resolveFailedRollouts,
  parseInventoryEntry,
  type Phase,
  type SyncStatus,
  type Inventory,
  type InventoryEntry,
  type HistoryEntry,
  type ValidationMessage,
} from './sync.ts';
export { adoptReported } from './adopt.ts';
