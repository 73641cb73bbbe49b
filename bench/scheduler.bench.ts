/**
 * Scheduler benchmark (issue 5): generated clusters of identical nodes with jobs of mixed sizes,
 * shapes and priorities. For each size it measures, in the default (hybrid) mode, placements per
 * second over the whole pass (queue ordering included) and the p99 time to place one task; then
 * packing quality in pack mode (nodes used / lower bound max over resources of
 * ceil(sum of requests / node capacity)) on the same tasks without placement constraints (the
 * bound knows no constraints; the constrained ratio is reported too); the stranded fraction of the
 * hybrid pass; and a naive baseline (every feasible node scored for every task) against the core
 * on the same prefix of the queue, in the same process. Then a wave of production tasks arrives in
 * the full cell and preempts: its rate and p99 are reported too.
 *
 *   npm run bench -- scheduler            5,000 nodes / 50,000 tasks and 10,000 / 100,000
 *   npm run bench -- scheduler --quick    1,000 nodes / 10,000 tasks
 * Last line: one JSON object.
 */
import { loadavg } from 'node:os';
import { generateWorkload, NODE_CPU, NODE_MEM } from './scheduler-workload.ts';
import { modeOptions, naiveSchedule, orderQueue, PlacementRun, type SchedTask } from '../scheduler/index.ts';

const quick = process.argv.includes('--quick');
const SEED = 'bench-5';
const sizes: [number, number][] = quick ? [[1000, 10_000]] : [[5000, 50_000], [10_000, 100_000]];
const NAIVE_PREFIX = quick ? 500 : 1000;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function p99(samples: Float64Array): number {
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

function lowerBound(tasks: SchedTask[]): number {
  let cpu = 0;
  let mem = 0;
  for (const t of tasks) {
    cpu += t.template.resources.requests.cpuMillis;
    mem += t.template.resources.requests.memoryBytes;
  }
  return Math.max(Math.ceil(cpu / NODE_CPU), Math.ceil(mem / NODE_MEM));
}

/**
 * strandedFraction of a finished run: on each used node, a resource is stranded when another one
 * has less free than the smallest request of the workload (no task could use it). Returned as the
 * stranded share of the used nodes' capacity, averaged over CPU and memory.
 */
function strandedFraction(run: PlacementRun, tasks: SchedTask[]): number {
  const s = run.state;
  let minCpu = Infinity;
  let minMem = Infinity;
  for (const t of tasks) {
    minCpu = Math.min(minCpu, t.template.resources.requests.cpuMillis);
    minMem = Math.min(minMem, t.template.resources.requests.memoryBytes);
  }
  let strandedCpu = 0;
  let strandedMem = 0;
  let capCpu = 0;
  let capMem = 0;
  for (let i = 0; i < s.n; i++) {
    if (s.usedTasks[i]! === 0) continue;
    const freeCpu = s.allocCpu[i]! - s.usedCpu[i]!;
    const freeMem = s.allocMem[i]! - s.usedMem[i]!;
    capCpu += s.allocCpu[i]!;
    capMem += s.allocMem[i]!;
    const noRoom = s.usedTasks[i]! >= s.allocTasks[i]!;
    if (freeMem < minMem || noRoom) strandedCpu += freeCpu;
    if (freeCpu < minCpu || noRoom) strandedMem += freeMem;
  }
  return capCpu === 0 ? 0 : (strandedCpu / capCpu + strandedMem / capMem) / 2;
}

function unconstrained(tasks: SchedTask[]): SchedTask[] {
  return tasks.map((t) => {
    const { spread: _spread, ...rest } = t;
    return { ...rest, template: { ...t.template, nodeSelector: {}, tolerations: [{ operator: 'Exists' as const }], ports: [] } };
  });
}

function nodesUsed(run: PlacementRun): number {
  let used = 0;
  for (let i = 0; i < run.state.n; i++) if (run.state.usedTasks[i]! > 0) used++;
  return used;
}

/**
 * timedPass places every task in queue order, timing each placement and the whole pass (setup
 * included). CPU time as well as wall time: on a shared machine the wall clock also counts time
 * the process waited for a core.
 */
function timedPass(snapshot: ConstructorParameters<typeof PlacementRun>[0], tasks: SchedTask[]): { run: PlacementRun; latency: Float64Array; seconds: number; cpuSeconds: number } {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const run = new PlacementRun(snapshot, { seed: SEED }, tasks);
  const queue = orderQueue(tasks, SEED);
  const latency = new Float64Array(queue.length);
  for (let i = 0; i < queue.length; i++) {
    const a = performance.now();
    run.place(queue[i]!);
    latency[i] = performance.now() - a;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { run, latency, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

const out: Record<string, number | boolean | string> = {};
for (const [nodes, count] of sizes) {
  const tag = quick ? 'quick' : nodes >= 10_000 ? '10k_nodes' : '5k_nodes';
  const { snapshot, tasks } = generateWorkload(nodes, count, SEED);
  gc();

  // Throughput and latency: the default mode, the whole pass.
  const { run, latency, seconds, cpuSeconds } = timedPass(snapshot, tasks);
  const rate = run.placements.length / seconds;
  const stranded = strandedFraction(run, tasks);
  console.log(
    `${nodes} nodes / ${count} tasks, hybrid: ${run.placements.length} placed, ${run.unplaced.length} unplaced in ${seconds.toFixed(2)} s` +
      ` = ${Math.round(rate)} placements/s (${Math.round(run.placements.length / cpuSeconds)} per CPU-second), p99 ${p99(latency).toFixed(3)} ms/task, stranded ${(stranded * 100).toFixed(2)}%, ${nodesUsed(run)} nodes used`,
  );
  console.log(`  stats ${JSON.stringify(run.stats)}`);
  gc();

  // Preemption: the placed tasks now run; a wave of production tasks a quarter of a node each
  // (15% of the task count, more than the free room) arrives in the nearly full cell and must evict lower priorities.
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const running = run.placements.map((p) => ({ task: byId.get(p.taskId)!, node: p.node }));
  const wave: SchedTask[] = Array.from({ length: Math.round(count * 0.15) }, (_, i) => ({
    id: `wave-${i}`,
    jobKey: `Job/bench/wave-${i % 50}`,
    index: i,
    priority: 500,
    templateHash: 'w',
    template: { image: 'w', nodeSelector: {}, tolerations: [], resources: { requests: { cpuMillis: NODE_CPU / 4, memoryBytes: NODE_MEM / 4 } }, ports: [] },
  }));
  const { run: prun, latency: plat, seconds: pSeconds, cpuSeconds: pCpuSeconds } = timedPass({ nodes: snapshot.nodes, running }, wave);
  const preempting = prun.placements.filter((p) => p.victims?.length).length;
  console.log(
    `  preemption wave: ${wave.length} tasks in ${pSeconds.toFixed(2)} s (${Math.round(wave.length / pSeconds)}/s incl. setup, ${Math.round(wave.length / pCpuSeconds)} per CPU-second), ${prun.placements.length} placed,` +
      ` ${preempting} by preemption evicting ${prun.preemptions.length}, ${prun.unplaced.length} unplaced, p99 ${p99(plat).toFixed(3)} ms/task, ${prun.stats.preemptionSearches} searches`,
  );
  out[`preemption_wave_tasks_per_s_${tag}`] = Math.round(wave.length / pSeconds);
  out[`preemption_wave_tasks_per_cpu_s_${tag}`] = Math.round(wave.length / pCpuSeconds);
  out[`preemption_wave_p99_ms_${tag}`] = Number(p99(plat).toFixed(4));
  out[`preemptions_${tag}`] = prun.preemptions.length;
  gc();

  // Packing quality: pack mode, constraints removed (the lower bound ignores them), then with them.
  const free = unconstrained(tasks);
  const lb = lowerBound(free);
  const pack = new PlacementRun(snapshot, modeOptions('pack', { seed: SEED }), free);
  for (const t of orderQueue(free, SEED)) pack.place(t);
  const packRatio = nodesUsed(pack) / lb;
  const packC = new PlacementRun(snapshot, modeOptions('pack', { seed: SEED }), tasks);
  for (const t of orderQueue(tasks, SEED)) packC.place(t);
  const packRatioConstrained = nodesUsed(packC) / lb;
  console.log(
    `  pack: ${nodesUsed(pack)} nodes used, lower bound ${lb}, ratio ${packRatio.toFixed(3)} (${pack.unplaced.length} unplaced);` +
      ` with constraints ${nodesUsed(packC)} nodes, ratio ${packRatioConstrained.toFixed(3)} (${packC.unplaced.length} unplaced)`,
  );
  gc();

  // Naive baseline against the core on the same prefix of the queue.
  const prefix = orderQueue(tasks, SEED).slice(0, NAIVE_PREFIX);
  const n0 = performance.now();
  naiveSchedule(snapshot, prefix, { seed: SEED });
  const naiveRate = prefix.length / ((performance.now() - n0) / 1000);
  const c0 = performance.now();
  const core = new PlacementRun(snapshot, { seed: SEED }, prefix);
  for (const t of orderQueue(prefix, SEED)) core.place(t);
  const coreRate = prefix.length / ((performance.now() - c0) / 1000);
  const speedup = coreRate / naiveRate;
  console.log(`  naive on the first ${prefix.length} tasks: ${Math.round(naiveRate)} tasks/s, core on the same: ${Math.round(coreRate)} tasks/s, speedup ${speedup.toFixed(1)}x`);

  out[`placements_per_s_${tag}`] = Math.round(rate);
  out[`placements_per_cpu_s_${tag}`] = Math.round(run.placements.length / cpuSeconds);
  out[`p99_task_ms_${tag}`] = Number(p99(latency).toFixed(4));
  out[`speedup_vs_naive_${tag}`] = Number(speedup.toFixed(2));
  out[`naive_tasks_per_s_${tag}`] = Math.round(naiveRate);
  out[`pack_nodes_ratio_${tag}`] = Number(packRatio.toFixed(4));
  out[`pack_nodes_ratio_constrained_${tag}`] = Number(packRatioConstrained.toFixed(4));
  out[`stranded_fraction_${tag}`] = Number(stranded.toFixed(4));
  out[`unplaced_${tag}`] = run.unplaced.length;
  gc();
}
const main = quick ? 'quick' : '10k_nodes';
out.quick = quick;
out.placements_per_s_10k_nodes = out[`placements_per_s_${main}`]!;
out.p99_task_ms_10k_nodes = out[`p99_task_ms_${main}`]!;
out.speedup_vs_naive = out[`speedup_vs_naive_${main}`]!;
out.pack_nodes_ratio_to_lower_bound = out[`pack_nodes_ratio_${main}`]!;
out.stranded_fraction = out[`stranded_fraction_${main}`]!;
out.peak_rss_mb = Math.round(peakRssMb());
out.load_average_1m = Number(loadavg()[0]!.toFixed(1));
console.log(JSON.stringify(out));
