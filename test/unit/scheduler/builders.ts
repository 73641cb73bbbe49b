/**
 * Fluent builders for scheduler tests, after kube-scheduler's `MakePod().Req(...).Obj()`:
 * every field has a sensible default so a case states only what it is about.
 */
import type { NodeRecord, TaskSpec, Taint, Toleration } from '../../../api/index.ts';
import type { ClusterSnapshot, RunningTask, SchedTask, SnapshotNode } from '../../../scheduler/index.ts';

export const Mi = 1024 ** 2;
export const Gi = 1024 ** 3;

/** MakeNode starts a ready, uncordoned 4-core / 16 GiB / 110-task node. */
export function MakeNode(name: string) {
  const node: SnapshotNode = {
    name,
    allocatable: { cpuMillis: 4000, memoryBytes: 16 * Gi, tasks: 110 },
    labels: {},
    taints: [],
    ready: true,
    cordoned: false,
    images: [],
  };
  const b = {
    Cpu(m: number) { node.allocatable.cpuMillis = m; return b; },
    Mem(bytes: number) { node.allocatable.memoryBytes = bytes; return b; },
    Tasks(n: number) { node.allocatable.tasks = n; return b; },
    Label(k: string, v: string) { node.labels[k] = v; return b; },
    Taint(key: string, value: string | undefined, effect: Taint['effect'] = 'NoSchedule') {
      node.taints.push(value === undefined ? { key, effect } : { key, value, effect });
      return b;
    },
    NotReady() { node.ready = false; return b; },
    Cordon() { node.cordoned = true; return b; },
    Image(ref: string) { node.images!.push(ref); return b; },
    Obj(): SnapshotNode { return structuredClone(node); },
  };
  return b;
}

/** nodeRecord is a 4-core / 16 GiB node's registration as its agent writes it, heartbeating at `beat`. */
export function nodeRecord(name: string, beat: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name,
    labels: {},
    taints: [],
    capacity: { cpuMillis: 4000, memoryBytes: 16 * Gi, tasks: 110 },
    allocatable: { cpuMillis: 4000, memoryBytes: 16 * Gi, tasks: 110 },
    addresses: [],
    runtime: { runc: '', kernel: '', agentVersion: '' },
    images: [],
    startedAt: beat,
    heartbeatAt: beat,
    ...over,
  };
}

/** taskSpec completes a MakeTask into the store's TaskSpec (a batch task of Job default/x). */
export function taskSpec(b: ReturnType<typeof MakeTask>): TaskSpec {
  return { ...b.Obj(), namespace: 'default', owner: { kind: 'Job', name: 'x' }, type: 'batch', generation: 1, createdAt: '' } as unknown as TaskSpec;
}

/** MakeTask starts a 100m / 128 MiB batch-band task of job `Job/default/<id's prefix>`. */
export function MakeTask(id: string) {
  const task: SchedTask = {
    id,
    jobKey: `Job/default/${id.replace(/-\d+$/, '')}`,
    index: Number(/-(\d+)$/.exec(id)?.[1] ?? 0),
    priority: 100,
    templateHash: 'h1',
    template: { image: 'app:1', nodeSelector: {}, tolerations: [], resources: { requests: { cpuMillis: 100, memoryBytes: 128 * Mi } }, ports: [] },
  };
  const b = {
    Job(key: string) { task.jobKey = key; return b; },
    Index(i: number) { task.index = i; return b; },
    Priority(p: number) { task.priority = p; return b; },
    Req(cpuMillis: number, memoryBytes: number) { task.template.resources.requests = { cpuMillis, memoryBytes }; return b; },
    Selector(k: string, v: string) { task.template.nodeSelector[k] = v; return b; },
    Tolerate(t: Toleration) { task.template.tolerations.push(t); return b; },
    HostPort(port: number) { task.template.ports!.push({ containerPort: port, hostPort: port, protocol: 'TCP' }); return b; },
    MaxPerNode(n: number) { task.spread = { ...task.spread, maxPerNode: n }; return b; },
    MaxPerDomain(label: string, max: number) { task.spread = { ...task.spread, maxPerDomain: { label, max } }; return b; },
    OnNode(name: string) { task.nodeName = name; return b; },
    Image(ref: string) { task.template.image = ref; return b; },
    Template(hash: string) { task.templateHash = hash; return b; },
    Obj(): SchedTask { return structuredClone(task); },
    /** Running returns the task as bound to `node`. */
    Running(node: string): RunningTask { return { task: structuredClone(task), node }; },
  };
  return b;
}

/** Cluster wraps nodes and running tasks into a snapshot. */
export function Cluster(nodes: SnapshotNode[], running: RunningTask[] = []): ClusterSnapshot {
  return { nodes, running };
}

/** tasksOf makes `count` identical tasks `<job>-0..count-1` from one builder setup. */
export function tasksOf(job: string, count: number, setup: (b: ReturnType<typeof MakeTask>) => unknown = () => {}): SchedTask[] {
  const out: SchedTask[] = [];
  for (let i = 0; i < count; i++) {
    const b = MakeTask(`${job}-${i}`);
    setup(b);
    out.push(b.Obj());
  }
  return out;
}
