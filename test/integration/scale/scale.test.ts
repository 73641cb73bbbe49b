// run-tests: start-early (minutes of CPU on its own: started first, it ends before the suite's long tail)
//
// The scale scenario of `npm run bench -- scale --quick` as a correctness test, never a timing:
// 1,000 hollow nodes, 100 Jobs x 100 tasks + 2 DaemonSets + 2 CronJobs through the real reconciler,
// scheduler and nats-server, a 10% template change and kill -9 of 50 nodes (the scenario is the
// bench's own, test/helpers/scale-scenario.ts). After each phase: every task bound once and running
// where it is bound, no node overcommitted, every DaemonSet on every eligible live node, no Job with
// a lost or duplicate task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScaleCluster } from '../../helpers/scale.ts';
import { runScaleScenario } from '../../helpers/scale-scenario.ts';

// The bench's --quick size.
const NODES = 1000;
const VICTIMS = 50;
const w = { jobs: 100, tasksPerJob: 100 };
// Generous: a condition, not a timing (the machine is shared); the bench measures the times.
const WAIT_MS = 900_000;

test('scale scenario at the bench\'s --quick size: placement stays correct through a commit, a rollout and 50 nodes killed', { timeout: 1_700_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-scale-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = (l: string) => t.diagnostic(`[${new Date().toISOString().slice(11, 19)}] ${l}`);
  // The scheduler publishes a 5 s renewal period (1,000 nodes at 200 renewals/s) and so a 20 s grace,
  // four renewals at that floor (the defaults, 20 s and 50 s at this size, only lengthen the wait for the requeue;
  // under load a shorter grace would requeue live nodes). The hollow nodes follow the published period.
  const c = await startScaleCluster({ nodes: NODES, victims: VICTIMS, dir, startDelayMs: 100, liveness: { minHeartbeatMs: 5000, heartbeatsPerS: 200 }, log });
  t.after(() => c.stop());
  const r = await runScaleScenario(c, {
    workload: w, waitMs: WAIT_MS, settleMs: 120_000, log,
    onSettled: (phase, problems) => assert.deepEqual(problems, [], `after the ${phase}`),
  }).catch((err: Error) => assert.fail(`${err.message}\n${c.logTails()}`));
  assert.equal(r.killed, VICTIMS);
  assert.ok(r.moved > 0, 'the killed nodes held Job tasks');
  log(`${r.expected} tasks; bound ${r.boundS.toFixed(1)} s, running ${r.runningS.toFixed(1)} s, rollout ${r.rolloutS.toFixed(1)} s, requeue of ${r.moved} ${r.requeueS.toFixed(1)} s`);
});
