import type { RolloutResult, TaskSpec, TaskStatus } from '../../api/index.ts';

/** Condition is a Kubernetes-style condition: a type, a status and why. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** RolloutPhase is where a rollout of one template stands. */
export type RolloutPhase = 'Progressing' | 'Complete' | 'Failed';

/**
 * RolloutState is the persisted memory of one rollout (kept in the workload's status between
 * controller runs): which template, since when, and the best progress seen, so "no progress for
 * progressDeadlineSeconds" can be judged after a controller restart or a leader change.
 */
export interface RolloutState {
  templateHash: string;
  revision: string;
  generation: number;
  phase: RolloutPhase;
  startedAt: string;
  lastProgressAt: string;
  /** Most new-template tasks ever ready in this rollout. */
  bestNewReady: number;
  /** Fewest old-template tasks ever left in this rollout. */
  fewestOld: number;
  completedAt?: string;
  failed?: RolloutResult;
}

/** BatchPhase is where a batch Job stands; Complete and Failed are final. */
export type BatchPhase = 'Running' | 'Complete' | 'Failed';

/**
 * WorkloadStatus is the controller-owned status of one Job or DaemonSet, stored in the `sync`
 * bucket. Controllers read their previous status back as input: it carries rollout and batch memory.
 */
export interface WorkloadStatus {
  kind: 'Job' | 'DaemonSet';
  namespace: string;
  name: string;
  observedGeneration: number;
  templateHash: string;
  /** Tasks wanted: replicas, completions or eligible nodes. */
  desired: number;
  current: number;
  ready: number;
  updated: number;
  rollout?: RolloutState;
  batch?: { phase: BatchPhase; succeeded: number; failed: number; active: number; startedAt: string; finishedAt?: string; reason?: string };
  conditions: Condition[];
  updatedAt: string;
}

/** ControllerEvent is something worth an entry in the events stream. */
export interface ControllerEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/**
 * ControllerResult is what a controller's compute() decides, Nomad-style: tasks to create and
 * delete, the status to write, events, and a failed rollout to report. The apply edge writes the
 * status first, then deletes, then creates, so a crash in between never forgets a finished state.
 */
export interface ControllerResult {
  create: TaskSpec[];
  delete: string[];
  status: WorkloadStatus;
  events: ControllerEvent[];
  /** Set only on the run where the rollout turned Failed, so it is reported once. */
  failedRollout?: RolloutResult;
}

/** TaskView is a task with what its agent last reported (absent while unbound or not started). */
export interface TaskView {
  spec: TaskSpec;
  status?: TaskStatus;
}
