/**
 * Generated clusters and workloads for the scheduler benchmark: identical nodes (so the packing
 * lower bound is exact), zones, a few tainted nodes; jobs of mixed sizes, shapes and priorities,
 * some with node selectors, spread limits, tolerations and host ports.
 */
import { createPrng, type ClusterSnapshot, type SchedTask, type SnapshotNode } from '../scheduler/index.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** NODE_CPU / NODE_MEM are the allocatable of every generated node. */
export const NODE_CPU = 16_000;
export const NODE_MEM = 64 * GiB;
export const NODE_TASKS = 110;

/** generateNodes makes `n` identical nodes in 10 zones; 3% carry a `dedicated=infra` taint. */
export function generateNodes(n: number, seed: string): SnapshotNode[] {
  const rand = createPrng(`${seed}/nodes`);
  const nodes: SnapshotNode[] = [];
  for (let i = 0; i < n; i++) {
    const tainted = rand() < 0.03;
    nodes.push({
      name: `node-${String(i).padStart(5, '0')}`,
      allocatable: { cpuMillis: NODE_CPU, memoryBytes: NODE_MEM, tasks: NODE_TASKS },
      labels: { zone: `zone-${i % 10}`, disk: rand() < 0.5 ? 'ssd' : 'hdd' },
      taints: tainted ? [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] : [],
      ready: true,
      cordoned: false,
      images: rand() < 0.3 ? ['registry.local/app:1'] : [],
    });
  }
  return nodes;
}

/** Task shapes: [cpu millis, memory bytes]; balanced, CPU-heavy and memory-heavy, small to large. */
const SHAPES: [number, number][] = [
  [100, 256 * MiB], [250, 512 * MiB], [500, 1 * GiB], [500, 2 * GiB], [1000, 2 * GiB], [1000, 4 * GiB],
  [2000, 4 * GiB], [2000, 8 * GiB], [4000, 8 * GiB], [4000, 16 * GiB], [1000, 8 * GiB], [2000, 2 * GiB],
];

/** Priorities by band: best-effort, batch, production, monitoring. */
function pickPriority(r: number): number {
  if (r < 0.3) return 50;
  if (r < 0.75) return 100 + Math.floor(r * 100);
  if (r < 0.97) return 300 + Math.floor(r * 200);
  return 800;
}

/** generateTasks makes about `count` pending tasks in jobs of 1..500 tasks. */
export function generateTasks(count: number, seed: string): SchedTask[] {
  const rand = createPrng(`${seed}/tasks`);
  const tasks: SchedTask[] = [];
  let job = 0;
  while (tasks.length < count) {
    let size = Math.min(count - tasks.length, 1 + Math.floor(rand() ** 3 * 500));
    const shape = SHAPES[Math.floor(rand() * SHAPES.length)]!;
    const priority = pickPriority(rand());
    const jobKey = `Job/bench/job-${job}`;
    const selector: Record<string, string> = rand() < 0.1 ? { zone: `zone-${Math.floor(rand() * 10)}` } : rand() < 0.1 ? { disk: 'ssd' } : {};
    const tolerations = rand() < 0.05 ? [{ key: 'dedicated', operator: 'Exists' as const }] : [];
    const spread = rand() < 0.2 ? { maxPerNode: 1 + Math.floor(rand() * 3) } : undefined;
    const hostPort = rand() < 0.01 ? 8000 + Math.floor(rand() * 100) : undefined;
    // Constrained jobs stay small, as in real cells: a zone-pinned or host-port job of 500 tasks
    // would not fit its zone or would need 500 distinct nodes.
    if (Object.keys(selector).length || hostPort) size = Math.min(size, 20);
    const image = rand() < 0.3 ? 'registry.local/app:1' : `registry.local/job-${job}:1`;
    for (let i = 0; i < size; i++) {
      tasks.push({
        id: `job-${job}-${i}`,
        jobKey,
        index: i,
        priority,
        templateHash: 'h1',
        spread: hostPort ? { maxPerNode: 1 } : spread,
        template: {
          image,
          nodeSelector: selector,
          tolerations,
          resources: { requests: { cpuMillis: shape[0], memoryBytes: shape[1] } },
          ports: hostPort ? [{ containerPort: 80, hostPort, protocol: 'TCP' }] : [],
        },
      });
    }
    job++;
  }
  return tasks;
}

/**
 * generateWorkload sizes the tasks to fill about `fill` of the cluster on its scarcer resource,
 * so everything fits and packing quality can be judged. Returns the snapshot and the tasks.
 */
export function generateWorkload(nodes: number, tasks: number, seed: string, fill = 0.8): { snapshot: ClusterSnapshot; tasks: SchedTask[] } {
  const all = generateTasks(tasks, seed);
  const cpu = all.reduce((s, t) => s + t.template.resources.requests.cpuMillis, 0);
  const mem = all.reduce((s, t) => s + t.template.resources.requests.memoryBytes, 0);
  const need = Math.max(cpu / NODE_CPU, mem / NODE_MEM);
  const nodeCount = Math.max(nodes, Math.ceil(need / fill));
  // Keep the requested node count: scale task sizes instead, so the cluster size is what was asked.
  const scale = (nodes * fill) / need;
  if (nodeCount !== nodes || scale < 1) {
    for (const t of all) {
      const r = t.template.resources.requests;
      r.cpuMillis = Math.max(10, Math.round(r.cpuMillis * scale));
      r.memoryBytes = Math.max(16 * MiB, Math.round(r.memoryBytes * scale));
    }
  }
  return { snapshot: { nodes: generateNodes(nodes, seed), running: [] }, tasks: all };
}
