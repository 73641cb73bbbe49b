// reconciler/controllers: pure decision cores for Jobs, DaemonSets and CronJobs.
export type { Condition, RolloutPhase, RolloutState, BatchPhase, WorkloadStatus, ControllerEvent, ControllerResult, TaskView } from './types.ts';
export { isReady, isTerminal, lastError, shortHash, taskId, resolveIntOrPercent } from './tasks.ts';
export { workloadVerdict, type WorkloadVerdict } from './rollout-verdict.ts';
export { trackRollout, DEFAULT_PROGRESS_DEADLINE_SECONDS, DEFAULT_CRASH_LOOP_RESTARTS, type RolloutObservation, type RolloutDecision } from './rollout.ts';
export { makeTask, type WorkloadSpec, type ControllerOptions } from './workload.ts';
export { computeServiceJob, type ServiceJobInput } from './service.ts';
export { computeBatchJob, DEFAULT_BACKOFF_LIMIT, type BatchJobInput } from './batch.ts';
export { computeDaemonSet, type DaemonSetInput, type EligibleNodes } from './daemonset.ts';
export { eligibleNodeNames, nodeEligibility, placementMismatch, tolerates, type NodeEligibility, type PlacementRules } from './eligibility.ts';
export {
  computeCronJob,
  cronJobRunName,
  CREATED_BY_ANNOTATION,
  SCHEDULED_AT_ANNOTATION,
  type CronChild,
  type CronJobStatus,
  type CronJobInput,
  type CronJobResult,
} from './cronjob.ts';
export { DEFAULT_SERVICE_CIDR, DEFAULT_NODE_PORT_RANGE, allocateServiceAddresses, type AddressRequest, type Addresses, type Allocation, type AllocatorOptions } from './service-addresses.ts';
export { computeServiceRecords, sameServiceRecord, type ServiceObject, type EndpointsInput } from './endpoints.ts';
export { scaleDownOrder } from './scale-down.ts';
export { allocateNodeSubnets, DEFAULT_CLUSTER_CIDR, DEFAULT_NODE_SUBNET_PREFIX, type SubnetRequest, type SubnetAllocation, type SubnetAllocatorOptions } from './node-subnets.ts';
