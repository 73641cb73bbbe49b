// ClusterCache (the scheduler service's state kept from the informers' changes) against planPass's
// full rebuild: random sequences of changes (tasks, bindings, nodes, specs, heartbeats; passes whose
// writes, preemptions included, are applied back), and after each pass the state, the unbindings,
// the pending tasks and the whole decision must equal the rebuild's. A change the cache is not told
// of must make the comparison fail (the last test), so a missed update cannot pass unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustedNodeRecords, type Binding, type NodeRecord, type NodeSpec, type TaskSpec } from '../../../api/index.ts';
import { buildSnapshot, createPrng, planPass, type PassInput, type PassPlan, type Prng } from '../../../scheduler/index.ts';
import { ClusterState } from '../../../scheduler/state.ts';
import { ClusterCache, type CacheSources } from '../../../scheduler/service/cluster-cache.ts';
import { Gi, MakeTask, nodeRecord, taskSpec } from './builders.ts';

const timings = { heartbeatGraceMs: 10_000, requeueGraceMs: 30_000 };
const pick = <T>(rand: Prng, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const NODE_NAMES = Array.from({ length: 12 }, (_, i) => `n${i}`);

/** World is the informers' maps, changed only through methods that tell the cache as the service's hooks do. */
class World {
  readonly tasks = new Map<string, TaskSpec>();
  readonly bindings = new Map<string, { value: Binding; revision: number }>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly nodeSpecs = new Map<string, NodeSpec>();
  readonly cache = new ClusterCache();
  now = Date.parse('2026-01-01T00:10:00Z');
  private revision = 0;
  private nextTask = 0;
  /** false: changes are made without telling the cache (the missed update the test must catch) */
  tell = true;
  lastSignature = '';

  constructor(readonly rand: Prng) {}

  get src(): CacheSources {
    return { tasks: this.tasks, bindings: this.bindings, nodes: this.nodes, nodeSpecs: this.nodeSpecs };
  }

  setTask(id: string, t: TaskSpec | undefined): void {
    if (t) this.tasks.set(id, t);
    else this.tasks.delete(id);
    if (this.tell) this.cache.keyChanged(id);
  }

  setBinding(id: string, node: string | undefined): void {
    if (node) this.bindings.set(id, { value: { taskId: id, node, boundAt: '', schedulerTerm: 1 }, revision: ++this.revision });
    else this.bindings.delete(id);
    if (this.tell) this.cache.keyChanged(id);
  }

  setNode(name: string, r: NodeRecord | undefined): void {
    if (r) this.nodes.set(name, r);
    else this.nodes.delete(name);
    if (this.tell) this.cache.nodeChanged(name);
    if (this.tell) this.cache.beatChanged(name);
  }

  setSpec(name: string, s: NodeSpec | undefined): void {
    if (s) this.nodeSpecs.set(name, s);
    else this.nodeSpecs.delete(name);
    if (this.tell) this.cache.nodeChanged(name);
  }

  /** beat sets a node's heartbeat `secondsAgo`: a renewal, no NodeInformer change, only the lease informer's (beatChanged). */
  beat(name: string, secondsAgo: number): void {
    const r = this.nodes.get(name);
    if (r) this.nodes.set(name, { ...r, heartbeatAt: new Date(this.now - secondsAgo * 1000).toISOString() });
    if (this.tell) this.cache.beatChanged(name);
  }

  randomTask(id = `j${Math.floor(this.rand() * 6)}-${this.nextTask++}`): TaskSpec {
    const r = this.rand;
    const b = MakeTask(id).Priority(pick(r, [10, 50, 150, 299, 300, 700])).Req(pick(r, [250, 500, 1000, 2000]), pick(r, [0.5, 1, 2, 4]) * Gi);
    if (r() < 0.15) b.HostPort(8000 + Math.floor(r() * 2));
    if (r() < 0.15) b.MaxPerDomain('zone', 1 + Math.floor(r() * 3));
    if (r() < 0.1) b.MaxPerNode(1);
    if (r() < 0.1) b.OnNode(pick(r, NODE_NAMES));
    if (r() < 0.1) b.Selector('disk', 'ssd');
    return taskSpec(b);
  }

  randomNode(name: string): NodeRecord {
    const r = this.rand;
    return nodeRecord(name, new Date(this.now - Math.floor(r() * 40) * 1000).toISOString(), {
      labels: { zone: pick(r, ['a', 'b', 'c']), ...(r() < 0.3 ? { disk: 'ssd' } : {}) },
      allocatable: { cpuMillis: pick(r, [2000, 4000, 8000]), memoryBytes: pick(r, [4, 8, 16]) * Gi, tasks: pick(r, [3, 10, 110]) },
      images: r() < 0.3 ? ['app:1'] : [],
    });
  }
}

/** change makes one random change of the kinds the scheduler sees. */
function change(w: World): void {
  const r = w.rand;
  const taskIds = [...w.tasks.keys()];
  const boundIds = [...w.bindings.keys()];
  const k = r();
  if (k < 0.2 || taskIds.length === 0) w.setTask(...withId(w.randomTask()));
  else if (k < 0.28) w.setTask(pick(r, taskIds), undefined); // deleted, bound or not
  else if (k < 0.34) {
    const id = pick(r, taskIds);
    w.setTask(id, { ...w.randomTask(id), priority: w.tasks.get(id)!.priority }); // updated in place
  } else if (k < 0.5) w.setBinding(pick(r, taskIds), pick(r, NODE_NAMES)); // bound, or rewritten to another node
  else if (k < 0.53) w.setBinding(`ghost-${Math.floor(r() * 5)}`, pick(r, NODE_NAMES)); // a binding without its task
  else if (k < 0.6 && boundIds.length) w.setBinding(pick(r, boundIds), undefined);
  else if (k < 0.68) w.setNode(pick(r, NODE_NAMES), w.randomNode(pick(r, NODE_NAMES))); // added or updated
  else if (k < 0.71) w.setNode(pick(r, NODE_NAMES), undefined);
  else if (k < 0.73) {
    const name = pick(r, NODE_NAMES);
    w.setNode(name, { ...w.randomNode(name), name: pick(r, NODE_NAMES) }); // maybe forged: names another node
  } else if (k < 0.82) w.setSpec(pick(r, NODE_NAMES), randomSpec(r));
  else if (k < 0.85) w.setSpec(pick(r, NODE_NAMES), undefined);
  else w.beat(pick(r, NODE_NAMES), Math.floor(r() * 45));
}

function withId(t: TaskSpec): [string, TaskSpec] {
  return [t.id, t];
}

function randomSpec(r: Prng): NodeSpec {
  return {
    ...(r() < 0.3 ? { cordoned: true } : {}),
    ...(r() < 0.3 ? { labels: { 'node.gitcell.io/pool': pick(r, ['x', 'y']), zone: pick(r, ['a', 'b']) } } : {}),
    ...(r() < 0.2 ? { taints: [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' as const }] } : {}),
    ...(r() < 0.2 ? { maxAllocatable: { cpuMillis: 1500, memoryBytes: 3 * Gi } } : {}),
  } as NodeSpec;
}

/** reference is planPass's full rebuild on the same maps, and the state it starts its decision from. */
function reference(w: World, claims: ReadonlyMap<string, string>, seed: string): { plan: PassPlan; state: ClusterState; pending: string[] } {
  const nodes = trustedNodeRecords(w.nodes).nodes;
  const input: PassInput = { tasks: w.tasks, bindings: w.bindings, nodes, nodeSpecs: w.nodeSpecs, claims };
  const plan = planPass(input, w.now, timings, { seed });
  const unbound = new Set(plan.unbind.map((u) => u.taskId));
  const kept = new Map<string, Binding>();
  for (const [id, e] of w.bindings) if (!unbound.has(id)) kept.set(id, e.value);
  const reclaimed = plan.result.placements.filter((p) => p.score === 100 && claims.get(p.taskId) === p.node && !kept.has(p.taskId) && !w.bindings.has(p.taskId));
  for (const p of reclaimed) kept.set(p.taskId, { taskId: p.taskId, node: p.node, boundAt: '', schedulerTerm: 0 });
  const { snapshot, pending } = buildSnapshot({ nodes: [...nodes.values()], nodeSpecs: w.nodeSpecs, tasks: [...w.tasks.values()], bindings: kept }, w.now, timings.heartbeatGraceMs);
  return { plan, state: ClusterState.fromSnapshot(snapshot), pending: pending.map((t) => t.id).sort() };
}

/** dump is a state in canonical form: what a decision may read, independent of insertion order. */
function dump(s: ClusterState): unknown {
  const nodes = s.nodes.map((node, i) => ({
    node: { ...node, images: [...(node.images ?? [])] },
    alloc: [s.allocCpu[i], s.allocMem[i], s.allocTasks[i]],
    used: [s.usedCpu[i], s.usedMem[i], s.usedTasks[i]],
    schedulable: s.schedulable[i],
    images: [...(s.images[i] ?? [])].sort(),
    ports: [...(s.ports[i] ?? [])].sort(),
    tasks: s.tasksOn[i]!.map((t) => JSON.stringify(t)).sort(),
  }));
  const jobs: Record<string, unknown> = {};
  for (const [key, job] of [...s.jobs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (job.perNode.size === 0) continue;
    const zones = [...s.domainCounts(key, 'zone')].filter(([, c]) => c !== 0).sort();
    jobs[key] = { perNode: [...job.perNode].sort((a, b) => a[0] - b[0]), zones };
  }
  return { n: s.n, index: [...s.index].sort(), nodes, jobs, byPriority: [...s.countByPriority], byTaskId: [...s.byTaskId.keys()].sort() };
}

/** canonical sorts a plan's lists (their order follows map iteration; the decision does not). */
function canonical(p: PassPlan): unknown {
  const byId = <T extends { taskId: string }>(a: T, b: T): number => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);
  return {
    unbind: [...p.unbind].sort(byId),
    placements: p.result.placements.map((x) => ({ ...x, ...(x.victims ? { victims: [...x.victims].sort() } : {}) })).sort(byId),
    preemptions: [...p.result.preemptions].sort(byId),
    unplaced: [...p.result.unplaced].sort(byId),
  };
}

/** pass compares the cache with the rebuild, before and after a decision, then writes the decision back (some writes lost). */
function pass(w: World, seed: string): void {
  const claims = new Map<string, string>();
  for (const id of [...w.tasks.keys()].slice(0, 3)) if (w.rand() < 0.3) claims.set(id, pick(w.rand, NODE_NAMES));
  const ref = reference(w, claims, seed);
  w.cache.sync(w.src);
  // Time alone can change a pass: a node crossing a liveness threshold must be noticed.
  const sig = signature(w);
  const crossed = w.cache.livenessCrossed(w.src, w.now, timings);
  assert.ok(crossed || sig === w.lastSignature, `a node crossed a liveness threshold unnoticed: ${w.lastSignature} -> ${sig}`);
  w.lastSignature = sig;
  const prepared = w.cache.prepare(w.src, w.now, timings, claims);
  assert.deepEqual(dump(w.cache.working), dump(ref.state), 'the state a pass starts from');
  assert.deepEqual(prepared.pending.map((t) => t.id).sort(), ref.pending, 'the pending tasks');
  w.cache.close();
  w.cache.sync(w.src);
  const plan = w.cache.startPass(w.src, w.now, timings, { seed }, claims);
  plan.scheduling.step(Infinity);
  const mine = plan.plan();
  assert.deepEqual(canonical(mine), canonical(ref.plan), 'the decision');
  // The decision rolled back: the next pass starts from the bound tasks again.
  w.cache.prepare(w.src, w.now, timings, claims);
  assert.deepEqual(dump(w.cache.working), dump(ref.state), 'the state after the rollback');
  w.cache.close();
  writeBack(w, mine);
}

/** signature is each trusted node's liveness class, in name order (what livenessCrossed must notice changing). */
function signature(w: World): string {
  const nodes = [...trustedNodeRecords(w.nodes).nodes.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return nodes
    .map((n) => {
      const age = w.now - Date.parse(n.heartbeatAt);
      return `${n.name}:${!Number.isFinite(age) ? 'x' : age <= timings.heartbeatGraceMs ? 'r' : age <= timings.requeueGraceMs ? 'n' : 'l'}`;
    })
    .join(',');
}

/** writeBack applies a plan as writePass would, each write lost with some chance (a race). */
function writeBack(w: World, plan: PassPlan): void {
  const lost = (): boolean => w.rand() < 0.1;
  for (const u of plan.unbind) if (!lost()) w.setBinding(u.taskId, undefined);
  for (const p of plan.result.preemptions) if (!lost()) w.setBinding(p.taskId, undefined);
  for (const p of plan.result.placements) if (!w.bindings.has(p.taskId) && !lost()) w.setBinding(p.taskId, p.node);
}

function world(seed: number): World {
  const w = new World(createPrng(`cache/${seed}`));
  for (const name of NODE_NAMES.slice(0, 8)) w.setNode(name, w.randomNode(name));
  for (let i = 0; i < 30; i++) w.setTask(...withId(w.randomTask()));
  return w;
}

test('ClusterCache: after random changes, every pass equals planPass on a full rebuild (state, unbindings, pending, decision)', () => {
  for (let seed = 0; seed < 40; seed++) {
    const w = world(seed);
    for (let round = 0; round < 25; round++) {
      const changes = Math.floor(w.rand() * 12);
      for (let c = 0; c < changes; c++) change(w);
      w.now += Math.floor(w.rand() * 8000);
      // Most nodes renew (no reader is told); some fall silent past the readiness or re-queue grace.
      for (const name of w.nodes.keys()) if (w.rand() < 0.8) w.beat(name, Math.floor(w.rand() * 12));
      if (w.rand() < 0.05) w.cache.reset(); // the recovery path: a resnapshot
      try {
        pass(w, `s${seed}/${round}`);
      } catch (err) {
        (err as Error).message = `seed ${seed} round ${round}: ${(err as Error).message}`;
        throw err;
      }
    }
  }
});

test('ClusterCache: a pass never planned is rolled back by the next sync', () => {
  const w = world(1);
  pass(w, 'a');
  w.cache.sync(w.src);
  const d = w.cache.startPass(w.src, w.now, timings, { seed: 'x' });
  d.scheduling.step(Infinity); // placed into the state, never planned (a pass that failed)
  pass(w, 'b');
});

test('ClusterCache: the comparison fails when the cache is not told of a change (a missed update)', () => {
  const missed: [string, (w: World) => void][] = [
    ['a bound task deleted', (w) => w.setTask([...w.bindings.keys()].find((id) => w.tasks.has(id))!, undefined)],
    ['a binding rewritten to another node', (w) => {
      const [id, e] = [...w.bindings].find(([k, v]) => w.tasks.has(k) && !w.tasks.get(k)!.nodeName && w.nodes.has(v.value.node))!;
      w.setBinding(id, NODE_NAMES.find((n) => n !== e.value.node && w.nodes.has(n))!);
    }],
    ['a binding deleted', (w) => w.setBinding([...w.bindings.keys()].find((id) => w.tasks.has(id))!, undefined)],
    ['a node relabelled', (w) => {
      const name = [...w.nodes.keys()][0]!;
      w.setNode(name, { ...w.nodes.get(name)!, labels: { zone: 'z' }, allocatable: { cpuMillis: 1, memoryBytes: 1, tasks: 1 } });
    }],
    ['a node cordoned', (w) => w.setSpec([...w.nodes.keys()][0]!, { cordoned: true } as NodeSpec)],
    ['a node deleted', (w) => w.setNode([...w.nodes.keys()][0]!, undefined)],
    ['a pending task added', (w) => w.setTask(...withId(w.randomTask()))],
    ['a heartbeat lapsed past the re-queue grace', (w) => w.beat([...w.bindings.values()].find((b) => w.nodes.has(b.value.node))!.value.node, 60)],
  ];
  for (const [what, make] of missed) {
    const w = world(7);
    for (let round = 0; round < 3; round++) pass(w, `m${round}`);
    for (const name of w.nodes.keys()) w.beat(name, 0);
    pass(w, 'live');
    w.tell = false;
    make(w);
    assert.throws(() => pass(w, 'missed'), assert.AssertionError, what);
  }
});
