// What the metrics see of a Job's tasks, from the store's records: the agents' cgroup samples
// (TaskStatus.usage) against each task's requests, Prometheus values by task id, and the tasks the
// scheduler has not placed. Pure.
import type { AutoscaleResource, Binding, TaskSpec, TaskStatus } from '../../api/index.ts';
import type { TaskSample } from './replicas.ts';

/** JobTask is one task of a Job: its spec, its trusted status, and whether it is bound. */
export interface JobTask {
  spec: TaskSpec;
  status?: TaskStatus;
  binding?: Binding;
}

/** ENDED are states whose task no longer counts (Kubernetes ignores deleted and failed pods). */
const ENDED = new Set<TaskStatus['state']>(['succeeded', 'failed', 'stopping', 'stopped']);

/** counted tells whether a task takes part in the metrics at all. */
export function counted(t: JobTask): boolean {
  return !t.status || !ENDED.has(t.status.state);
}

function base(t: JobTask): Pick<TaskSample, 'id' | 'running' | 'ready'> {
  return { id: t.spec.id, running: t.status?.state === 'running', ready: t.status?.ready === true };
}

/**
 * resourceSamples reads `resource` from each counted task's last cgroup sample (millicores of CPU,
 * bytes of memory working set) against its request; a task without a request is an error, as in
 * Kubernetes ("missing request for cpu").
 */
export function resourceSamples(tasks: readonly JobTask[], resource: AutoscaleResource): TaskSample[] {
  return tasks.filter(counted).map((t) => {
    const request = resource === 'cpu' ? t.spec.template.resources.requests.cpuMillis : t.spec.template.resources.requests.memoryBytes;
    if (!(request > 0)) throw new Error(`task ${t.spec.id} has no ${resource} request: utilization is usage over request`);
    const usage = t.status?.usage;
    const value = usage ? (resource === 'cpu' ? usage.cpuMillis : usage.memoryBytes) : undefined;
    return { ...base(t), request, ...(value !== undefined ? { value } : {}) };
  });
}

/** valueSamples gives each counted task its value from `byTask` (a Prometheus answer), when it has one. */
export function valueSamples(tasks: readonly JobTask[], byTask: ReadonlyMap<string, number>): TaskSample[] {
  return tasks.filter(counted).map((t) => {
    const value = byTask.get(t.spec.id);
    return { ...base(t), ...(value !== undefined ? { value } : {}) };
  });
}

/** unplacedTasks are the counted tasks with no binding created more than `graceMs` before `now`. */
export function unplacedTasks(tasks: readonly JobTask[], now: number, graceMs: number): JobTask[] {
  return tasks.filter((t) => counted(t) && !t.binding && !t.spec.nodeName && now - Date.parse(t.spec.createdAt) > graceMs);
}
