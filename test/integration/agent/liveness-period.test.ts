// The lease renewal period the control plane publishes (store/liveness.ts), end to end on a real
// nats-server: the scheduler's leader sizes it to the registered nodes and publishes it; an agent
// with its own copy (a real node) and hollow nodes sharing one (a hollow process) take it up, and
// follow a change both ways (longer: they stop renewing at the old pace; shorter: they renew at once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/index.ts';
import { connect, LIVENESS_KEY, openClusterStore, readLiveness } from '../../../store/index.ts';
import { SchedulerService } from '../../../scheduler/index.ts';
import { HollowProcess, hollowNodeNames } from '../../../cli/commands/hollow-nodes.ts';
import { startMemoryNode, uid } from '../../helpers/memory-node.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

test('agents and hollow nodes renew at the period the scheduler publishes, and follow its changes', { timeout: 180_000 }, async (t) => {
  const server = await startNatsServer({ t });
  const prefix = `lp${uid()}_`;
  const nc = await connect({ servers: server.url });
  // Stopped in this order at the end (the hollow process and the scheduler use `nc`).
  const stops: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop();
    await nc.close();
  });
  const store = await openClusterStore(nc, { prefix, log: silentLogger() });
  // One real-style agent that follows the published period itself (heartbeatMs 0: none fixed)...
  const agent = await startMemoryNode(server, { prefix, heartbeatMs: 0 });
  stops.push(() => agent.close());
  // ...and two hollow nodes sharing their process's copy.
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-liveness-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  const hollow = new HollowProcess(nc, {
    nodes: 2, prefix: 'lp-', storePrefix: prefix, stateDir: join(dir, 'h'), startDelayMs: 20,
    capacity: { cpuMillis: 2000, memoryBytes: 2 ** 30 }, labels: {}, timings: { resyncMs: 300 },
  }, silentLogger());
  await hollow.start();
  stops.push(() => hollow.stop(true));
  const nodes = [agent.node, ...hollowNodeNames('lp-', 2)];
  const periods = () => [agent.agent.renewalPeriodMs(), ...hollow.agents.map((a) => a.renewalPeriodMs())];
  // Nothing published yet: the fallback 10 s.
  assert.deepEqual(periods(), [10_000, 10_000, 10_000]);
  await waitFor('3 node records', async () => ((await store.nodes.list()).length === 3) || undefined, 30_000);

  // The scheduler sizes the period to the 3 nodes: 3 / 1,000 per s is below the 300 ms floor.
  const scheduler = new SchedulerService(store, { leaderElection: false, tickMs: 100, liveness: { minPeriodMs: 300, renewalsPerS: 1000 }, log: silentLogger() });
  scheduler.start();
  stops.push(() => scheduler.stop());
  await waitFor('the published period', async () => (await store.cluster.get(LIVENESS_KEY))?.value.periodMs === 300 || undefined, 30_000);
  assert.deepEqual(await readLiveness(store.cluster), { periodMs: 300, graceMs: 1200 });
  await waitFor('every node on 300 ms', () => periods().every((p) => p === 300) || undefined, 30_000);
  const revisions = async () => new Map((await store.heartbeats.list()).map((r) => [r.key, r.revision]));
  // At 300 ms, five more renewals of every lease come within seconds (at 10 s they would take 50).
  const renewedFiveTimes = async (label: string) => {
    const seen = new Map<string, Set<number>>(nodes.map((n) => [n, new Set<number>()]));
    await waitFor(`${label}: every lease renewed five times`, async () => {
      for (const [k, rev] of await revisions()) seen.get(k)?.add(rev);
      return [...seen.values()].every((s) => s.size >= 6) || undefined;
    }, 30_000);
  };
  await renewedFiveTimes('published 300 ms');

  // A longer period (a scheduler of a bigger cluster wrote it): every node takes it up.
  await scheduler.stop();
  await store.cluster.put(LIVENESS_KEY, { periodMs: 3_600_000, graceMs: 4 * 3_600_000, nodes: 180_000, changedAt: Date.now() });
  await waitFor('every node on one hour', () => periods().every((p) => p === 3_600_000) || undefined, 30_000);
  // And back to a short one: renewals resume at once, not an hour later.
  await store.cluster.put(LIVENESS_KEY, { periodMs: 300, graceMs: 1200, nodes: 3, changedAt: Date.now() });
  await waitFor('every node back on 300 ms', () => periods().every((p) => p === 300) || undefined, 30_000);
  await renewedFiveTimes('back to 300 ms');
});
