// scheduler/: the pure placement core (snapshot + pending tasks -> placements, preemptions, reasons)
// and, on top of it, the scheduler service that reads and writes the store.
export type {
  ClusterSnapshot,
  FilterReason,
  FilterStatus,
  Placement,
  Preemption,
  RunningTask,
  RunStats,
  SchedTask,
  ScheduleResult,
  SchedulerOptions,
  ScorerWeights,
  SnapshotNode,
  Unplaced,
} from './types.ts';
export { schedule, previewPlacement, Scheduling } from './schedule.ts';
export { PlacementRun, type TaskOutcome } from './run.ts';
export { naiveSchedule, NaiveRun } from './naive.ts';
export { orderQueue } from './queue.ts';
export { defaultSchedulerOptions, modeOptions, SCHEDULING_MODES, type SchedulingMode } from './options.ts';
export { canPreempt, PROTECTED_BAND_MIN } from './bands.ts';
export { buildSnapshot, snapshotNode, type StoreView } from './snapshot.ts';
export { formatReasons } from './explain.ts';
export { createPrng, type Prng } from './prng.ts';
export { SchedulerService, defaultServiceOptions, type SchedulerServiceOptions, type PassReport } from './service/service.ts';
export { SchedulerMetrics } from './service/metrics.ts';
export { planPass, startPass, type PassPlan, type PassDecision, type PassInput, type PassTimings, type Unbind } from './service/plan.ts';
export { EventLimiter, type EventLimiterOptions } from './service/event-limiter.ts';
export { parseDocument, parseSnapshot, parseTasks, E_SCHEDULE_INPUT } from './input.ts';
export {
  FilterNodeNotReady,
  FilterNodeCordoned,
  FilterNotDaemonSetNode,
  FilterNodeSelectorMismatch,
  FilterUntoleratedTaint,
  FilterInsufficientCpu,
  FilterInsufficientMemory,
  FilterInsufficientCpuAndMemory,
  FilterTooManyTasks,
  FilterHostPortInUse,
  FilterSpreadPerNode,
  filterSpreadPerDomain,
  filterMissingDomainLabel,
} from './reasons.ts';
