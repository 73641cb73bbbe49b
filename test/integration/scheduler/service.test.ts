// The scheduler service against a real nats-server: binding with compare-and-set under a race,
// leader failover, heartbeat lapse re-queueing, preemption and FailedScheduling events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { connect, openClusterStore, type ClusterStore } from '../../../store/index.ts';
import { SchedulerService, type PassPlan, type SchedulerServiceOptions } from '../../../scheduler/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { Gi, Heartbeats, nodeRecord, taskSpec, waitFor } from './fixtures.ts';
import { FilterInsufficientMemory } from '../../../scheduler/index.ts';

async function setup(t: import('node:test').TestContext): Promise<{ store: ClusterStore; beats: Heartbeats; services: SchedulerService[]; start: (o?: Partial<SchedulerServiceOptions>) => SchedulerService; passed: () => void }> {
  // The services log into memory; a failing test prints the last lines (why did it wait?).
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line.trim()) });
  let ok = false;
  t.after(() => {
    if (!ok) process.stderr.write(`scheduler log (last 40 lines):\n${lines.slice(-40).join('\n')}\n`);
  });
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  const store = await openClusterStore(nc, { prefix: `s${randomBytes(3).toString('hex')}_`, log });
  const beats = new Heartbeats(store);
  const services: SchedulerService[] = [];
  t.after(async () => {
    beats.stopAll();
    await Promise.all(services.map((s) => s.stop()));
    await nc.close();
  });
  const start = (o: Partial<SchedulerServiceOptions> = {}): SchedulerService => {
    // A 5 s lease: shorter ones flap on a machine this loaded (renewals run late), and stop() hands
    // the lease over at once anyway.
    const s = new SchedulerService(store, { log: log.child({ identity: o.identity }), leaseMs: 5000, tickMs: 100, ...o });
    services.push(s);
    s.start();
    return s;
  };
  return { store, beats, services, start, passed: () => void (ok = true) };
}

/** bindingHistory counts, per task, how many bindings were ever written (puts, not deletes). */
async function bindingHistory(store: ClusterStore): Promise<Map<string, number>> {
  const jsm = await jetstreamManager(store.nc);
  const stream = `KV_${store.prefix}bindings`;
  const info = await jsm.streams.info(stream);
  const puts = new Map<string, number>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || m.header?.get('KV-Operation')) continue;
    const key = m.subject.split('.').pop()!;
    puts.set(key, (puts.get(key) ?? 0) + 1);
  }
  return puts;
}

async function allBound(store: ClusterStore, ids: string[]): Promise<Map<string, string> | undefined> {
  const bindings = await store.bindings.list();
  const byTask = new Map(bindings.map((b) => [b.key, b.value.node]));
  return ids.every((id) => byTask.has(id)) ? byTask : undefined;
}

test('two schedulers racing without election never double-book a task', async (t) => {
  const { store, beats, services, start, passed } = await setup(t);
  for (let i = 0; i < 10; i++) await beats.start(nodeRecord(`n${i}`, 64_000, 256 * Gi));
  const tasks = Array.from({ length: 150 }, (_, i) => taskSpec('race', i));
  await Promise.all(tasks.map((task) => store.tasks.put(task.id, task)));
  // Both schedulers decide on the same 150 pending tasks, then write at once: a real race on every task.
  let arrived = 0;
  let release!: () => void;
  const barrier = new Promise<void>((r) => (release = r));
  const beforeWrite = async (plan: PassPlan): Promise<void> => {
    if (plan.result.placements.length !== 150) return;
    if (++arrived === 2) release();
    await barrier;
  };
  start({ leaderElection: false, identity: 'a', beforeWrite });
  start({ leaderElection: false, identity: 'b', beforeWrite });
  const bound = await waitFor('every task bound', () => allBound(store, tasks.map((x) => x.id)));
  assert.equal(bound.size, 150);
  const history = await bindingHistory(store);
  for (const task of tasks) assert.equal(history.get(task.id), 1, `${task.id} was bound ${history.get(task.id)} times`);
  // The passes report after their last write: wait for both reports to account for every binding.
  const won = () => services.map((s) => s.totals.bound);
  await waitFor('the passes to report', () => (won()[0]! + won()[1]! === 150 ? true : undefined));
  const lost = services.reduce((sum, s) => sum + s.totals.lostRaces, 0);
  // Every task was in both plans: each was won once and lost once.
  assert.equal(lost, 150, `lost races: ${lost}, bound: ${won()}`);
  passed();
});

test('with leader election one scheduler binds; after failover the next term carries on, no double booking, no overcommit', async (t) => {
  const { store, beats, start, passed } = await setup(t);
  for (let i = 0; i < 4; i++) await beats.start(nodeRecord(`n${i}`, 4000, 16 * Gi));
  const a = start({ identity: 'a' });
  const b = start({ identity: 'b' });
  const first = await waitFor('a leader', () => (a.leaderTerm() !== undefined ? a : b.leaderTerm() !== undefined ? b : undefined));
  const second = first === a ? b : a;
  const wave1 = Array.from({ length: 20 }, (_, i) => taskSpec('w1', i, 300, 1 * Gi));
  await Promise.all(wave1.map((task) => store.tasks.put(task.id, task)));
  await waitFor('wave 1 bound', () => allBound(store, wave1.map((x) => x.id)));
  const term1 = first.leaderTerm()!;
  await first.stop();
  const term2 = await waitFor('the standby leads', () => second.leaderTerm());
  assert.ok(term2 > term1, `term ${term2} > ${term1}`);
  const wave2 = Array.from({ length: 20 }, (_, i) => taskSpec('w2', i, 300, 1 * Gi));
  await Promise.all(wave2.map((task) => store.tasks.put(task.id, task)));
  const all = [...wave1, ...wave2];
  await waitFor('wave 2 bound', () => allBound(store, all.map((x) => x.id)));
  const bindings = await store.bindings.list();
  for (const r of bindings) assert.equal(r.value.schedulerTerm, r.key.startsWith('w1') ? term1 : term2, `${r.key} carries its leader's term`);
  const history = await bindingHistory(store);
  for (const task of all) assert.equal(history.get(task.id), 1);
  // 40 tasks x 300m on 4 x 4000m nodes: no node may hold more than 13 (3900m).
  const perNode = new Map<string, number>();
  for (const r of bindings) perNode.set(r.value.node, (perNode.get(r.value.node) ?? 0) + 300);
  for (const [node, cpu] of perNode) assert.ok(cpu <= 4000, `${node} holds ${cpu}m`);
  passed();
});

test("a node whose heartbeat lapses past the grace period loses its tasks, which go back to pending and are placed again", async (t) => {
  const { store, beats, start, passed } = await setup(t);
  await beats.start(nodeRecord('dying'));
  const tasks = Array.from({ length: 3 }, (_, i) => taskSpec('web', i));
  // Generous graces: on a loaded machine a live heartbeat timer can run late by a second or more.
  const timings = { heartbeatGraceMs: 3000, requeueGraceMs: 5000 };
  start({ identity: 'solo', timings });
  await Promise.all(tasks.map((task) => store.tasks.put(task.id, task)));
  const bound = await waitFor('bound to the only node', () => allBound(store, tasks.map((x) => x.id)));
  assert.deepEqual([...new Set(bound.values())], ['dying']);
  beats.stop('dying');
  const lastBeat = beats.last.get('dying')!;
  await beats.start(nodeRecord('healthy'));
  const moved = await waitFor('tasks re-placed on the healthy node', async () => {
    const b = await allBound(store, tasks.map((x) => x.id));
    return b && [...b.values()].every((n) => n === 'healthy') ? b : undefined;
  });
  assert.equal(moved.size, 3);
  const events = (await store.events.recent({ limit: 100 })).map((e) => e.value);
  const lost = events.filter((e) => e.reason === 'NodeLost');
  assert.deepEqual(lost.map((e) => e.object.name).sort(), tasks.map((x) => x.id).sort());
  for (const e of lost) {
    assert.match(e.message, /node dying missed heartbeats for \d+s \(grace 5s\); task web-\d goes back to pending/);
    assert.ok(Date.parse(e.time) - lastBeat >= timings.requeueGraceMs, 'not re-queued before the grace period');
  }
  const history = await bindingHistory(store);
  for (const task of tasks) assert.equal(history.get(task.id), 2, 'bound, unbound, bound again');
  passed();
});

test('a node alive by its lease renewals alone (batched, as agents renew) keeps its tasks across several graces, and loses them once the renewals stop', async (t) => {
  const { store, start, passed } = await setup(t);
  // The record's own heartbeat is an hour old: only the lease keeps the node alive. The scheduler reads
  // a heartbeat time again only when told of a renewal (ClusterCache.beatChanged): one missed
  // renewal after another would lapse the node within a grace.
  await store.nodes.put('leased', nodeRecord('leased', 4000, 16 * Gi, new Date(Date.now() - 3_600_000)));
  let renewals = 0;
  const renew = async (): Promise<void> => void (await store.heartbeats.put('leased', {}), renewals++);
  await renew();
  const timer = setInterval(() => void renew().catch(() => undefined), 200);
  t.after(() => clearInterval(timer));
  const timings = { heartbeatGraceMs: 2500, requeueGraceMs: 3000 };
  start({ identity: 'solo', timings });
  const tasks = Array.from({ length: 3 }, (_, i) => taskSpec('leased', i));
  await Promise.all(tasks.map((task) => store.tasks.put(task.id, task)));
  await waitFor('bound to the leased node', () => allBound(store, tasks.map((x) => x.id)));
  // Four re-queue graces of renewals (~60 at 200 ms each) without a lapse.
  const from = renewals;
  await waitFor('60 more renewals', () => renewals - from >= 60 || undefined);
  const early = (await store.events.recent({ limit: 100 })).map((e) => e.value).filter((e) => e.reason === 'NodeLost');
  assert.deepEqual(early, [], 'no lapse while the lease is renewed');
  for (const task of tasks) assert.equal((await store.bindings.get(task.id))?.value.node, 'leased');
  clearInterval(timer);
  const stoppedAt = Date.now();
  const lost = await waitFor('NodeLost for the three tasks', async () => {
    const ev = (await store.events.recent({ limit: 100 })).map((e) => e.value).filter((e) => e.reason === 'NodeLost');
    return ev.length >= 3 ? ev : undefined;
  });
  for (const e of lost) assert.ok(Date.parse(e.time) >= stoppedAt, 'lost only once the renewals stopped');
  passed();
});

test('preemption through the store, and a rate-limited FailedScheduling event with the reasons', async (t) => {
  const { store, beats, start, passed } = await setup(t);
  await beats.start(nodeRecord('only', 4000, 16 * Gi));
  start({ identity: 'solo', events: { intervalMs: 60_000, minMs: 60_000, perPass: 100 } });
  const low = taskSpec('low', 0, 3000, 1 * Gi, 50);
  await store.tasks.put(low.id, low);
  await waitFor('low bound', () => allBound(store, [low.id]));
  const high = taskSpec('high', 0, 3000, 1 * Gi, 250);
  const huge = taskSpec('huge', 0, 100, 64 * Gi, 900);
  await store.tasks.put(high.id, high);
  await store.tasks.put(huge.id, huge);
  await waitFor('high bound in place of low', async () => {
    const b = await store.bindings.get(high.id);
    return b && !(await store.bindings.get(low.id)) ? b : undefined;
  });
  const events = await waitFor('events', async () => {
    const ev = (await store.events.recent({ limit: 100 })).map((e) => e.value);
    return ev.some((e) => e.reason === 'Preempted') && ev.some((e) => e.object.name === 'low-0' && e.reason === 'FailedScheduling') ? ev : undefined;
  });
  const preempted = events.find((e) => e.reason === 'Preempted')!;
  assert.equal(preempted.object.name, 'low-0');
  assert.match(preempted.message, /preempted on only by high-0 \(priority 250 > 50\)/);
  const failed = events.filter((e) => e.reason === 'FailedScheduling' && e.object.name === 'huge-0');
  assert.equal(failed.length, 1, 'one event per task per interval, however many passes');
  assert.equal(failed[0]!.message, `0/1 nodes fit: 1 ${FilterInsufficientMemory}; preemption: no node where evicting lower-priority tasks makes room`);
  passed();
});
