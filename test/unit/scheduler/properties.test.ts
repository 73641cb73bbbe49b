// Property tests over seeded random clusters: whatever the input, the core never overcommits a
// node, never lets a lower priority take room a higher one needed, preempts only strictly lower
// priorities (never production by production), and gives the same result for the same seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPreempt, createPrng, schedule, type Prng, type RunningTask, type SchedTask, type SchedulerOptions, type ScheduleResult, type SnapshotNode } from '../../../scheduler/index.ts';
import { untoleratedTaint } from '../../../scheduler/filters/taints.ts';
import { Gi, MakeNode, MakeTask } from './builders.ts';
import { maxTasks } from '../../../api/index.ts';

const ROUNDS = 120;
const pick = <T>(rand: Prng, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

function randomNodes(rand: Prng): SnapshotNode[] {
  const count = 1 + Math.floor(rand() * 25);
  return Array.from({ length: count }, (_, i) => {
    const b = MakeNode(`n${i}`).Cpu(pick(rand, [1000, 2000, 4000, 8000])).Mem(pick(rand, [2, 4, 8, 16]) * Gi).Tasks(pick(rand, [3, 10, 110]));
    b.Label('zone', pick(rand, ['a', 'b', 'c']));
    if (rand() < 0.3) b.Label('disk', 'ssd');
    if (rand() < 0.1) b.Taint('dedicated', 'infra');
    if (rand() < 0.1) b.NotReady();
    if (rand() < 0.05) b.Cordon();
    return b.Obj();
  });
}

function randomTasks(rand: Prng, nodes: SnapshotNode[], count: number, prefix: string): SchedTask[] {
  const tasks: SchedTask[] = [];
  let job = 0;
  while (tasks.length < count) {
    const size = 1 + Math.floor(rand() * 6);
    const priority = pick(rand, [10, 50, 120, 200, 299, 300, 450, 699, 750, 1000]);
    const cpu = pick(rand, [100, 250, 500, 1000, 2000, 3000]);
    const mem = pick(rand, [0.25, 0.5, 1, 2, 4]) * Gi;
    const sel = rand() < 0.15;
    const tol = rand() < 0.2;
    const port = rand() < 0.1 ? 8000 + Math.floor(rand() * 3) : 0;
    const perNode = rand() < 0.2 ? 1 + Math.floor(rand() * 2) : 0;
    const perZone = rand() < 0.1 ? 1 + Math.floor(rand() * 3) : 0;
    const pinned = rand() < 0.05 && nodes.length ? pick(rand, nodes).name : undefined;
    for (let i = 0; i < size && tasks.length < count; i++) {
      const b = MakeTask(`${prefix}${job}-${i}`).Priority(priority).Req(cpu, mem);
      if (sel) b.Selector('disk', 'ssd');
      if (tol) b.Tolerate({ key: 'dedicated', operator: 'Exists' });
      if (port) b.HostPort(port);
      if (perNode) b.MaxPerNode(perNode);
      if (perZone) b.MaxPerDomain('zone', perZone);
      if (pinned) b.OnNode(pinned);
      tasks.push(b.Obj());
    }
    job++;
  }
  return tasks;
}

/** Running tasks: a first scheduling pass on the empty cluster, so they respect every constraint. */
function randomRunning(rand: Prng, nodes: SnapshotNode[]): RunningTask[] {
  const tasks = randomTasks(rand, nodes, Math.floor(rand() * 40), 'r');
  const r = schedule({ nodes, running: [] }, tasks, { seed: 'setup' });
  const byId = new Map(tasks.map((t) => [t.id, t]));
  return r.placements.map((p) => ({ task: byId.get(p.taskId)!, node: p.node }));
}

interface Scenario {
  nodes: SnapshotNode[];
  running: RunningTask[];
  pending: SchedTask[];
}

function scenario(seed: number, withRunning: boolean): Scenario {
  const rand = createPrng(`scenario-${seed}`);
  const nodes = randomNodes(rand);
  const running = withRunning ? randomRunning(rand, nodes) : [];
  return { nodes, running, pending: randomTasks(rand, nodes, 1 + Math.floor(rand() * 60), 't') };
}

const OPTIONS: Partial<SchedulerOptions>[] = [{}, { packing: 0 }, { packing: 1, sampleSize: 2, scanBudget: 2 }, { sampleSize: 1, explore: 0 }];

/** finalTasks is what each node holds after the pass: running minus victims plus placements. */
function finalTasks(s: Scenario, r: ScheduleResult): Map<string, SchedTask[]> {
  const evicted = new Set(r.preemptions.map((p) => p.taskId));
  const byId = new Map(s.pending.map((t) => [t.id, t]));
  const out = new Map<string, SchedTask[]>(s.nodes.map((n) => [n.name, []]));
  for (const rt of s.running) if (!evicted.has(rt.task.id)) out.get(rt.node)!.push(rt.task);
  for (const p of r.placements) out.get(p.node)!.push(byId.get(p.taskId)!);
  return out;
}

function fits(task: SchedTask, node: SnapshotNode, held: SchedTask[]): boolean {
  let cpu = task.template.resources.requests.cpuMillis;
  let mem = task.template.resources.requests.memoryBytes;
  const ports = new Set<number>();
  let sameJob = 0;
  for (const t of held) {
    cpu += t.template.resources.requests.cpuMillis;
    mem += t.template.resources.requests.memoryBytes;
    for (const p of t.template.ports ?? []) if (p.hostPort) ports.add(p.hostPort);
    if (t.jobKey === task.jobKey) sameJob++;
  }
  if (cpu > node.allocatable.cpuMillis || mem > node.allocatable.memoryBytes) return false;
  if (held.length + 1 > (maxTasks(node.allocatable) ?? Infinity)) return false;
  if ((task.template.ports ?? []).some((p) => p.hostPort && ports.has(p.hostPort))) return false;
  if (task.spread?.maxPerNode !== undefined && sameJob + 1 > task.spread.maxPerNode) return false;
  return true;
}

function staticOk(task: SchedTask, node: SnapshotNode): boolean {
  if (task.nodeName !== undefined && task.nodeName !== node.name) return false;
  if (!node.ready || node.cordoned) return false;
  for (const [k, v] of Object.entries(task.template.nodeSelector)) if (node.labels[k] !== v) return false;
  return !untoleratedTaint(node.taints, task.template.tolerations);
}

test('property: never overcommits a node, and every placement passes every filter', () => {
  for (let seed = 0; seed < ROUNDS; seed++) {
    for (const options of OPTIONS) {
      const s = scenario(seed, seed % 2 === 0);
      const r = schedule({ nodes: s.nodes, running: s.running }, s.pending, { seed, ...options });
      const held = finalTasks(s, r);
      const byId = new Map(s.pending.map((t) => [t.id, t]));
      for (const node of s.nodes) {
        const tasks = held.get(node.name)!;
        const cpu = tasks.reduce((a, t) => a + t.template.resources.requests.cpuMillis, 0);
        const mem = tasks.reduce((a, t) => a + t.template.resources.requests.memoryBytes, 0);
        assert.ok(cpu <= node.allocatable.cpuMillis, `seed ${seed}: ${node.name} cpu ${cpu} > ${node.allocatable.cpuMillis}`);
        assert.ok(mem <= node.allocatable.memoryBytes, `seed ${seed}: ${node.name} memory overcommitted`);
        assert.ok(tasks.length <= (maxTasks(node.allocatable) ?? Infinity), `seed ${seed}: ${node.name} too many tasks`);
        const ports = tasks.flatMap((t) => (t.template.ports ?? []).map((p) => p.hostPort).filter(Boolean));
        assert.equal(new Set(ports).size, ports.length, `seed ${seed}: host port twice on ${node.name}`);
        const perJob = new Map<string, number>();
        for (const t of tasks) perJob.set(t.jobKey, (perJob.get(t.jobKey) ?? 0) + 1);
        for (const t of tasks) if (t.spread?.maxPerNode !== undefined && byId.has(t.id)) assert.ok(perJob.get(t.jobKey)! <= t.spread.maxPerNode, `seed ${seed}: spread`);
      }
      for (const p of r.placements) assert.ok(staticOk(byId.get(p.taskId)!, s.nodes.find((n) => n.name === p.node)!), `seed ${seed}: ${p.taskId} on ${p.node}`);
      assert.equal(r.placements.length + r.unplaced.length, s.pending.length);
    }
  }
});

test('property: a lower priority never takes room a higher priority needed', () => {
  for (let seed = 0; seed < ROUNDS; seed++) {
    for (const options of OPTIONS) {
      const s = scenario(seed, false);
      const r = schedule({ nodes: s.nodes, running: [] }, s.pending, { seed, ...options });
      const byId = new Map(s.pending.map((t) => [t.id, t]));
      for (const u of r.unplaced) {
        const t = byId.get(u.taskId)!;
        if (t.spread?.maxPerDomain) continue; // domain limits span nodes; checked by the filter tests
        // The room T saw: only tasks of its priority or higher (everything queued before it).
        const placedAbove = new Map<string, SchedTask[]>(s.nodes.map((n) => [n.name, []]));
        for (const p of r.placements) {
          const pt = byId.get(p.taskId)!;
          if (pt.priority >= t.priority) placedAbove.get(p.node)!.push(pt);
        }
        for (const node of s.nodes) {
          if (!staticOk(t, node)) continue;
          assert.ok(!fits(t, node, placedAbove.get(node.name)!), `seed ${seed}: ${t.id} (p${t.priority}) waits but fits ${node.name} without lower-priority placements`);
        }
      }
    }
  }
});

test('property: preemption evicts only strictly lower priorities, never production by production', () => {
  let preemptions = 0;
  for (let seed = 0; seed < ROUNDS * 2; seed++) {
    const s = scenario(seed, true);
    const r = schedule({ nodes: s.nodes, running: s.running }, s.pending, { seed });
    const running = new Map(s.running.map((rt) => [rt.task.id, rt]));
    for (const p of r.preemptions) {
      preemptions++;
      const victim = running.get(p.taskId);
      assert.ok(victim, `seed ${seed}: victim ${p.taskId} was not running`);
      assert.equal(victim.node, p.node);
      assert.ok(p.priority < p.preemptorPriority, `seed ${seed}: ${p.priority} !< ${p.preemptorPriority}`);
      assert.ok(!(p.priority >= 300 && p.preemptorPriority >= 300), `seed ${seed}: production preempted production`);
      assert.ok(canPreempt(p.preemptorPriority, p.priority));
      const placed = r.placements.find((x) => x.taskId === p.preemptor);
      assert.equal(placed?.node, p.node, 'the preemptor lands where it evicted');
    }
  }
  assert.ok(preemptions > 20, `the scenarios exercise preemption (${preemptions})`);
});

test('property: same seed, same result, whatever the input order', () => {
  for (let seed = 0; seed < ROUNDS / 2; seed++) {
    const s = scenario(seed, seed % 2 === 0);
    const a = schedule({ nodes: s.nodes, running: s.running }, s.pending, { seed });
    const rand = createPrng(`reorder-${seed}`);
    const shuffle = <T>(xs: T[]) => xs.map((x) => [rand(), x] as const).sort((p, q) => p[0] - q[0]).map((p) => p[1]);
    const b = schedule({ nodes: shuffle(s.nodes), running: shuffle(s.running) }, shuffle(s.pending), { seed });
    assert.deepEqual(b, a, `seed ${seed}`);
  }
});
