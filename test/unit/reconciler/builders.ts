// Fluent builders for controller tests (kube-scheduler's MakePod() style).
import type { NodeRecord, TaskSpec, TaskState, TaskStatus } from '../../../api/index.ts';
import type { TaskView, WorkloadSpec } from '../../../reconciler/controllers/index.ts';
import { resolveTemplate } from '../../../reconciler/template/index.ts';

export const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** workload builds a WorkloadSpec with image `img`. */
export function workload(image: string, over: Partial<WorkloadSpec> = {}): WorkloadSpec {
  const type = over.type ?? 'service';
  const { template, templateHash } = resolveTemplate({ image }, { type });
  return { kind: 'Job', namespace: 'default', name: 'web', generation: 1, revision: 'c1', type, priority: 300, template, templateHash, ...over };
}

/** status builds a TaskStatus for a task. */
export function status(spec: TaskSpec, state: TaskState, ready: boolean, over: Partial<TaskStatus> = {}): TaskStatus {
  return { taskId: spec.id, node: spec.nodeName ?? 'n1', templateHash: spec.templateHash, state, ready, restarts: 0, updatedAt: new Date(T0).toISOString(), ...over };
}

/** view pairs a spec with an optional status. */
export function view(spec: TaskSpec, st?: TaskStatus): TaskView {
  return st ? { spec, status: st } : { spec };
}

/** node builds a live NodeRecord. */
export function node(name: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name,
    labels: {},
    taints: [],
    capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, tasks: 110 },
    allocatable: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, tasks: 110 },
    addresses: ['127.0.0.1'],
    runtime: { runc: '1.1.5', kernel: '6.1', agentVersion: '0.1.0' },
    images: [],
    startedAt: new Date(T0 - 60_000).toISOString(),
    heartbeatAt: new Date(T0).toISOString(),
    ...over,
  };
}

/** Cluster is a tiny simulated cluster: task specs plus statuses an "agent" sets. */
export class Cluster {
  readonly tasks = new Map<string, TaskView>();
  apply(create: TaskSpec[], del: string[]): void {
    for (const id of del) this.tasks.delete(id);
    for (const spec of create) {
      if (this.tasks.has(spec.id)) throw new Error(`task ${spec.id} created twice`);
      this.tasks.set(spec.id, { spec });
    }
  }
  views(): TaskView[] {
    return [...this.tasks.values()];
  }
  set(id: string, state: TaskState, ready: boolean, over: Partial<TaskStatus> = {}): void {
    const t = this.tasks.get(id)!;
    this.tasks.set(id, { spec: t.spec, status: status(t.spec, state, ready, over) });
  }
  readyCount(): number {
    return this.views().filter((t) => t.status?.state === 'running' && t.status.ready && t.status.templateHash === t.spec.templateHash).length;
  }
}
