// reconciler/autoscale/: horizontal autoscaling of service Jobs (see README.md).
export { groupTasks, proposeReplicas, ratioOf, type MetricTarget, type Proposal, type TaskGroups, type TaskSample } from './replicas.ts';
export { limitRate, normalize, pruneMemory, scaleDownLimit, scaleUpLimit, stabilize, type Limited, type Normalization } from './behavior.ts';
export { decideAutoscale, metricName, readMetric, type AutoscaleInput, type AutoscaleOutcome, type MetricInput } from './decide.ts';
export { counted, resourceSamples, unplacedTasks, valueSamples, type JobTask } from './samples.ts';
export { queryPerTask, DEFAULT_TASK_LABEL } from './prometheus.ts';
export { runAutoscaler, isAutoscaled, DEFAULT_AUTOSCALE_SYNC_MS, type AutoscalerLoop, type AutoscalerStore, type RunAutoscalerOptions } from './loop.ts';
