/**
 * Scale benchmark (issue 17): `npm run bench -- scale [--quick] [--nodes N --jobs J --tasks-per-job T]`.
 * Embedded nats-server, the real reconciler and scheduler, 10,000 hollow nodes (the real agent over
 * the in-memory runtime) in two processes plus a third of 500 that gets SIGKILL (test/helpers/scale.ts):
 *
 *   commit of 1,000 Jobs x 100 tasks (+ 2 DaemonSets, 2 CronJobs) ─► every task bound ... commit_to_all_bound_s
 *                                                                 ─► every task running . commit_to_all_running_s
 *   commit changing 10% of the Job templates ─► their tasks all new and running ......... rollout_10pct_s
 *   kill -9 of 500 hollow nodes ─► their tasks bound elsewhere and running ............. requeue_500_nodes_s
 *
 * heartbeat_writes_per_s: node-record and lease writes/s in a quiet window (the nodes and heartbeats
 * buckets' stream sequences), heartbeat_nats_cpu_pct: nats-server's CPU in that window, when heartbeats are the only
 * writes, and heartbeat_share_of_nats_cpu_pct: that over nats_cpu_pct; RSS: peak (VmHWM);
 * nats_cpu_pct: nats-server CPU over commit..end (100 = one core).
 * `--quick`: 1,000 nodes, 100 Jobs x 100 tasks, 50 killed. Last line: one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { procStats, startScaleCluster, type ScaleCluster } from '../test/helpers/scale.ts';
import { ScaleView, placementProblems } from '../test/helpers/scale-view.ts';
import { changeTemplates, changedJobs, jobName, workloadFiles, type ScaleWorkload } from '../test/helpers/scale-workload.ts';
import { bucketName } from '../store/index.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const nodes = Number(arg('--nodes') ?? (quick ? 1000 : 10_000));
const w: ScaleWorkload = { jobs: Number(arg('--jobs') ?? (quick ? 100 : 1000)), tasksPerJob: Number(arg('--tasks-per-job') ?? 100) };
const victims = Number(arg('--victims') ?? Math.round(nodes / 20));
const requeueGraceMs = Number(arg('--requeue-grace-ms') ?? 40_000);
const DEADLINE_MS = Number(arg('--deadline-s') ?? 900) * 1000;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line} (load ${loadavg()[0]!.toFixed(2)})`);

const dir = await mkdtemp(join(tmpdir(), 'gitcell-scale-bench-'));
let cluster: ScaleCluster | undefined;
let view: ScaleView | undefined;
try {
  log(`scale bench: ${nodes} nodes, ${w.jobs} Jobs x ${w.tasksPerJob} tasks, ${victims} victims; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  cluster = await startScaleCluster({ nodes, victims, dir, startDelayMs: 100, heartbeatMs: 3000, requeueGraceMs, log });
  const c = cluster;
  const v = (view = new ScaleView(c.store));
  await v.synced();
  const progress = () => JSON.stringify(v.counts());
  // Where the time goes: created / bound / running every 10 s.
  const ticker = setInterval(() => log(`progress ${progress()}`), 10_000);
  ticker.unref();

  // 1. The workload commit.
  const jm = await jetstreamManager(c.store.nc);
  // Liveness writes: node records (every beat before the leases, on change since) and leases.
  const livenessStreams = [`KV_${bucketName('nodes')}`, `KV_${bucketName('heartbeats')}`];
  const seqAt = async () => (await Promise.all(livenessStreams.map((s) => jm.streams.info(s)))).reduce((n, i) => n + i.state.last_seq, 0);
  const hb0 = { seq: await seqAt(), t: Date.now(), cpuS: procStats(c.natsPid).cpuS };
  await new Promise((r) => setTimeout(r, 10_000));
  const hbSeconds = (Date.now() - hb0.t) / 1000;
  const heartbeatWritesPerS = (await seqAt() - hb0.seq) / hbSeconds;
  // Before the commit the nodes' heartbeats are the only writes: nats-server's CPU then is their cost.
  const heartbeatNatsCpuPct = ((procStats(c.natsPid).cpuS - hb0.cpuS) / hbSeconds) * 100;
  log(`heartbeats: ${heartbeatWritesPerS.toFixed(0)} node-record and lease writes/s, nats-server ${heartbeatNatsCpuPct.toFixed(1)}% of a core`);
  const nats0 = procStats(c.natsPid).cpuS;
  const t0 = Date.now();
  await c.commit(workloadFiles(w), 'workload');
  const large = c.groups.flat().filter((n) => Number(n.slice(-5)) % 4 === 0).length;
  const expected = w.jobs * w.tasksPerJob + nodes + large;
  await v.until('every task bound', DEADLINE_MS, () => {
    const n = v.counts();
    return n.tasks >= expected && n.bound === n.tasks ? n : undefined;
  }, progress);
  const boundS = (Date.now() - t0) / 1000;
  log(`all ${expected} tasks bound after ${boundS.toFixed(1)} s`);
  await v.until('every task running', DEADLINE_MS, () => {
    const n = v.counts();
    return n.tasks >= expected && n.running === n.tasks ? n : undefined;
  }, progress);
  const runningS = (Date.now() - t0) / 1000;
  log(`all tasks running after ${runningS.toFixed(1)} s`);

  // 2. 10% of the templates change.
  const changed = changedJobs(w).map((i) => `Job/default/${jobName(i)}`);
  const before = new Map(changed.map((k) => [k, new Set(v.tasks.values().filter((t) => t.jobKey === k).map((t) => t.templateHash))]));
  const t1 = Date.now();
  await c.commit(changeTemplates(w), 'change 10% of the templates');
  const rolled = () => {
    const byJob = new Map<string, number>();
    for (const t of v.tasks.values()) {
      const old = before.get(t.jobKey);
      if (!old) continue;
      if (old.has(t.templateHash) || !v.runningOn(t)) return undefined;
      byJob.set(t.jobKey, (byJob.get(t.jobKey) ?? 0) + 1);
    }
    return changed.every((k) => byJob.get(k) === w.tasksPerJob) ? true : undefined;
  };
  await v.until('rollout of 10% of the templates', DEADLINE_MS, rolled, progress);
  const rolloutS = (Date.now() - t1) / 1000;
  log(`rollout of ${changed.length} Jobs complete after ${rolloutS.toFixed(1)} s`);

  // 3. kill -9 of the victims' process.
  const t2 = Date.now();
  const dead = new Set(await c.kill());
  const moved = v.tasks.values().filter((t) => !t.nodeName && dead.has(v.bindings.get(t.id)?.node ?? '')).map((t) => t.id);
  log(`killed ${dead.size} nodes holding ${moved.length} tasks`);
  await v.until('requeue of the dead nodes\' tasks', DEADLINE_MS, () => {
    for (const id of moved) {
      const t = v.tasks.get(id);
      const b = v.bindings.get(id);
      if (!t || !b || dead.has(b.node) || !v.runningOn(t)) return undefined;
    }
    return true;
  }, progress);
  const requeueS = (Date.now() - t2) / 1000;
  log(`requeue complete after ${requeueS.toFixed(1)} s (grace ${requeueGraceMs / 1000} s)`);
  const natsCpuPct = ((procStats(c.natsPid).cpuS - nats0) / ((Date.now() - t0) / 1000)) * 100;
  const problems = placementProblems(v, { dead, tasksPerJob: w.tasksPerJob, jobs: w.jobs });
  if (problems.length) log(`correctness: ${problems.length} problems, e.g. ${problems.slice(0, 5).join('; ')}`);
  const rec = procStats(c.pids.reconciler);
  const sched = procStats(c.pids.scheduler);
  const nats = procStats(c.natsPid);
  log(`cpu seconds: reconciler ${rec.cpuS}, scheduler ${sched.cpuS}, nats ${nats.cpuS}, hollow ${c.pids.hollow.map((p) => procStats(p).cpuS).join(' ')}`);
  console.log(JSON.stringify({
    nodes, tasks: v.tasks.entries.size, commit_to_all_bound_s: round(boundS), commit_to_all_running_s: round(runningS), rollout_10pct_s: round(rolloutS),
    requeue_500_nodes_s: round(requeueS), heartbeat_writes_per_s: round(heartbeatWritesPerS, 0), reconciler_rss_mb: round(rec.peakRssMb, 0),
    scheduler_rss_mb: round(sched.peakRssMb, 0), nats_rss_mb: round(nats.peakRssMb, 0), nats_cpu_pct: round(natsCpuPct, 0),
    // The heartbeats' share of nats-server's CPU: its rate while only heartbeats ran, over its rate during the run.
    heartbeat_nats_cpu_pct: round(heartbeatNatsCpuPct, 1), heartbeat_share_of_nats_cpu_pct: round((heartbeatNatsCpuPct / natsCpuPct) * 100, 0),
  }));
} catch (err) {
  console.error(`${(err as Error).message}\n${cluster?.logTails() ?? ''}`);
  process.exitCode = 1;
} finally {
  await view?.close();
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit();
