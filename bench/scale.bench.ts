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
 * The commit's two times are taken as kubemark's density test takes pod startup latency, from the
 * records' own timestamps, with nothing observing the cluster in the window: the harness polls the
 * bindings' and status buckets' write counts (stream info, every 250 ms) until there were as many
 * writes as tasks, then reads every task, binding and status once (test/helpers/scale-view.ts),
 * verifies each task bound and running with its template where it is bound (waiting on, with the
 * view following, if not), and reports the newest binding's and running status's server time minus
 * the commit's (test/helpers/scale-scenario.ts). commit_cpu_s ends when the writes are in, before
 * that read. The rollout and requeue are still timed by the harness's view, which follows from then on.
 *
 * Heartbeats (test/helpers/scale-heartbeats.ts), before the commit: heartbeat_writes_per_s, the
 * lease and node-record writes/s of the idle cluster (the nodes and heartbeats buckets' stream
 * sequences); heartbeat_nats_us_per_write, nats-server's CPU-µs per renewal (the median of
 * `--heartbeat-pairs` (6) pairs of `--heartbeat-window-s` (8) windows with and without renewals the
 * harness adds, `--heartbeat-extra-per-s`, default three times the nodes' own rate; each pair's in
 * heartbeat_nats_us_per_write_pairs; heartbeat_nats_switches_per_write, nats-server's context
 * switches per renewal, a count the machine's load changes less), and heartbeat_nats_cpu_pct, the
 * nodes' own renewals at that price (100 = one core);
 * heartbeat_share_of_nats_cpu_pct: the run's own lease and node-record writes (commit..end) times
 * that cost, over nats-server's CPU-seconds in the run. RSS: peak (VmHWM); nats_cpu_pct:
 * nats-server CPU over commit..end. The renewal period is the one the scheduler publishes for the
 * cluster's size (`max(10 s, nodes / 50 per s)`, store/liveness.ts; `heartbeat_ms`, `grace_ms`):
 * `--heartbeats-per-s N` and `--min-heartbeat-ms MS` are the scheduler's flags, `--heartbeat-ms MS`
 * fixes the hollow nodes' period instead; `--idle` measures the heartbeats only and prints those keys (no workload). A phase past
 * `--deadline-s` still prints the JSON, with `incomplete` (why) and `writes` (the tasks', bindings' and status buckets' last sequences), and exits 1.
 * `--commit-only` stops after the first phase (profiling runs of task creation).
 * `--quick`: 1,000 nodes, 100 Jobs x 100 tasks, 50 killed. `--nats-cluster N`: N nats-servers in
 * one cluster, the clients spread over them (`--replicas R`, default 1, for the buckets): then the
 * nats_* keys are the servers' sums and `nats_servers` has each one's CPU, RSS, streams led,
 * consumers and connections; its R1 streams are spread over the servers by placement tags
 * (`--no-spread`: left where nats-server 2.9 puts them, all on one). nats_consumers / nats_subscriptions and the *_by_client maps come from
 * the servers' /jsz and /connz once every task runs (scale-nats.ts). Last line: one JSON object.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStats, startScaleCluster, type ScaleCluster } from '../test/helpers/scale.ts';
import { writeMarks } from '../test/helpers/scale-view.ts';
import { runScaleScenario } from '../test/helpers/scale-scenario.ts';
import { deliveriesBetween, sampleDeliveries, sampleNats, type NatsSample } from '../test/helpers/scale-nats.ts';
import type { ScaleWorkload } from '../test/helpers/scale-workload.ts';
import { heartbeatShare, livenessWrites, measureHeartbeatCost, type HeartbeatCost } from '../test/helpers/scale-heartbeats.ts';
import { sleep } from '../lib/index.ts';
import { LIVENESS_KEY, readLiveness } from '../store/index.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const nodes = Number(arg('--nodes') ?? (quick ? 1000 : 10_000));
const w: ScaleWorkload = { jobs: Number(arg('--jobs') ?? (quick ? 100 : 1000)), tasksPerJob: Number(arg('--tasks-per-job') ?? 100) };
const victims = Number(arg('--victims') ?? Math.round(nodes / 20));
const DEADLINE_MS = Number(arg('--deadline-s') ?? 900) * 1000;
const natsServers = Number(arg('--nats-cluster') ?? 1);
const replicas = Number(arg('--replicas') ?? 1);
const spreadStreams = !process.argv.includes('--no-spread');
const fixedHeartbeatMs = arg('--heartbeat-ms') ? Number(arg('--heartbeat-ms')) : undefined;
const liveness = { ...(arg('--heartbeats-per-s') ? { heartbeatsPerS: Number(arg('--heartbeats-per-s')) } : {}), ...(arg('--min-heartbeat-ms') ? { minHeartbeatMs: Number(arg('--min-heartbeat-ms')) } : {}) };
const idleOnly = process.argv.includes('--idle');
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line} (load ${loadavg()[0]!.toFixed(2)})`);

const dir = await mkdtemp(join(tmpdir(), 'gitcell-scale-bench-'));
let cluster: ScaleCluster | undefined;
let ticker: NodeJS.Timeout | undefined;
try {
  log(`scale bench: ${nodes} nodes, ${w.jobs} Jobs x ${w.tasksPerJob} tasks, ${victims} victims, ${natsServers} nats-server(s), R${replicas}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  cluster = await startScaleCluster({ nodes, victims, dir, startDelayMs: 100, ...(fixedHeartbeatMs ? { heartbeatMs: fixedHeartbeatMs } : {}), liveness, log, natsServers, replicas, spreadStreams });
  const c = cluster;
  // Where the time goes: the tasks', bindings' and status writes so far (their streams' last
  // sequences: nothing followed) every 10 s, and who used the CPU in those 10 s (machine_total: the
  // wall seconds of every core).
  let lastCpu = cpuSplit(c);
  ticker = setInterval(() => {
    const now = cpuSplit(c);
    const cpu = JSON.stringify(cpuSince(lastCpu, now));
    lastCpu = now;
    void writeMarks(c.store).then((m) => log(`progress writes ${JSON.stringify(m)} cpu ${cpu}`), () => undefined);
  }, 10_000);
  ticker.unref();
  // Heartbeats alone, before the commit: alternating windows with and without renewals added by the
  // harness, once the nodes follow the published period (each renews at a random point of a new
  // period: the rate is at once nodes / period; a fixed period: once every node is past its first one).
  const { heartbeatMs, graceMs } = await publishedLiveness(c);
  await sleep(fixedHeartbeatMs ? heartbeatMs * 1.1 : 5000);
  const hb = await measureHeartbeatCost({
    nc: c.store.nc, natsPids: c.natsPids, leases: c.store.heartbeats, nodes: c.groups.flat(), log,
    extraPerS: Number(arg('--heartbeat-extra-per-s') ?? Math.max(60, (3 * nodes * 1000) / heartbeatMs)), pairs: Number(arg('--heartbeat-pairs') ?? 6), windowMs: Number(arg('--heartbeat-window-s') ?? 8) * 1000,
  });
  const hbKeys = {
    heartbeat_ms: heartbeatMs, grace_ms: graceMs, heartbeat_writes_per_s: round(hb.writesPerS, 0), heartbeat_nats_cpu_pct: round(hb.costPct, 1),
    heartbeat_nats_us_per_write: round(hb.usPerWrite, 0), heartbeat_nats_us_per_write_pairs: hb.pairsUsPerWrite.map((p) => round(p, 0)), heartbeat_nats_switches_per_write: round(hb.switchesPerWrite, 1), nats_idle_cpu_pct: round(hb.withoutPct, 1),
  };
  if (idleOnly) {
    clearInterval(ticker);
    const nats = c.natsPids.map((pid) => procStats(pid));
    console.log(JSON.stringify({ nodes, ...hbKeys, nats_servers: natsServers, nats_rss_mb: round(nats.reduce((a, n) => a + n.peakRssMb, 0), 0), nats_cpu_s: nats.map((n) => n.cpuS) }));
  } else {
    const out = await runWorkload(c, hb, hbKeys);
    if (out.incomplete) process.exitCode = 1;
    // No progress line after the JSON: the bench's last line is its result.
    clearInterval(ticker);
    console.log(JSON.stringify(out));
  }
} catch (err) {
  console.error(`${(err as Error).message}\n${cluster?.logTails() ?? ''}`);
  process.exitCode = 1;
} finally {
  clearInterval(ticker);
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit();

/** runWorkload runs the scenario on the started cluster and returns the bench's JSON object. */
async function runWorkload(c: ScaleCluster, hb: HeartbeatCost, hbKeys: Record<string, unknown>): Promise<Record<string, unknown>> {
  const writesNow = livenessWrites(c.store.nc);
  const writes0 = await writesNow();
  const cpu0 = c.natsPids.map((pid) => procStats(pid).cpuS);
  const api0 = (await sampleNats(c.natsMonitors)).apiTotal;
  const deliveries0 = await sampleDeliveries(c.natsMonitors);
  let commitDeliveries: ReturnType<typeof deliveriesBetween> | undefined;
  const t0 = Date.now();
  const natsProfiles = profileNats(c.natsProfilers, Number(arg('--nats-profile-s') ?? 60));
  const cpuAtCommit = cpuSplit(c);
  const syscallsAtCommit = syscalls(c);
  let commitCpu: Record<string, number> | undefined;
  let commitSyscalls: Record<string, { reads: number; writes: number }> | undefined;
  let steady: NatsSample | undefined;
  let maxConsumers = 0;
  // A phase past its deadline still reports what was measured until then (with `incomplete`): at
  // 10,000 nodes the CPU and heartbeat figures of a run that did not finish are still worth having.
  let failure: string | undefined;
  const r = await runScaleScenario(c, {
    workload: w, waitMs: DEADLINE_MS, settleMs: 60_000, log, commitOnly: process.argv.includes('--commit-only'),
    onPhase: async (phase) => {
      const sample = await sampleNats(c.natsMonitors);
      maxConsumers = Math.max(maxConsumers, sample.consumers);
      if (phase === 'commit') {
        steady = sample;
        commitCpu = cpuSince(cpuAtCommit, cpuSplit(c));
        const now = syscalls(c);
        commitSyscalls = Object.fromEntries(Object.entries(now).map(([k, n]) => [k, { reads: n.reads - syscallsAtCommit[k]!.reads, writes: n.writes - syscallsAtCommit[k]!.writes }]));
        log(`commit phase CPU-seconds (machine_total: wall seconds x cores): ${JSON.stringify(commitCpu)}`);
        log(`consumers by client and stream: ${JSON.stringify(sample.consumersByClientStream)}`);
        commitDeliveries = deliveriesBetween(deliveries0, await sampleDeliveries(c.natsMonitors));
        log(`commit phase writes and deliveries per stream: ${JSON.stringify(commitDeliveries)}`);
      }
      log(`nats after ${phase}: ${sample.consumers} consumers, ${sample.connections} connections, ${sample.apiTotal - api0} JetStream API requests`);
    },
  }).catch((err: Error) => {
    failure = err.message;
    console.error(`${failure}\n${c.logTails()}`);
    return undefined;
  });
  const seconds = (Date.now() - t0) / 1000;
  await natsProfiles;
  const natsCpu = c.natsPids.map((pid, i) => procStats(pid).cpuS - cpu0[i]!);
  const runWrites = (await writesNow()) - writes0;
  const natsCpuPct = (natsCpu.reduce((a, b) => a + b, 0) / seconds) * 100;
  const problems = r ? Object.values(r.problems).flat() : [];
  const rec = procStats(c.pids.reconciler);
  const sched = procStats(c.pids.scheduler);
  const nats = c.natsPids.map((pid) => procStats(pid));
  log(`cpu seconds: reconciler ${rec.cpuS}, scheduler ${sched.cpuS}, nats ${nats.map((n) => n.cpuS).join(' ')}, hollow ${c.pids.hollow.map((p) => procStats(p).cpuS).join(' ')}`);
  const s = steady ?? (await sampleNats(c.natsMonitors));
  return {
    ...(failure ? { incomplete: failure, writes: await writeMarks(c.store).catch(() => undefined) } : {}),
    nodes, tasks: r?.tasks, commit_to_all_bound_s: r && round(r.boundS), commit_to_all_running_s: r && round(r.runningS), rollout_10pct_s: r && round(r.rolloutS),
    requeue_500_nodes_s: r && round(r.requeueS), reconciler_rss_mb: round(rec.peakRssMb, 0),
    scheduler_rss_mb: round(sched.peakRssMb, 0), nats_rss_mb: round(nats.reduce((a, n) => a + n.peakRssMb, 0), 0), nats_cpu_pct: round(natsCpuPct, 0),
    // The heartbeats' share of nats-server's CPU in the run: the run's liveness writes at their measured cost.
    ...hbKeys, heartbeat_share_of_nats_cpu_pct: round(heartbeatShare(hb, runWrites, natsCpu.reduce((a, b) => a + b, 0)), 1), run_liveness_writes: runWrites,
    commit_cpu_s: commitCpu, commit_deliveries: commitDeliveries, commit_syscalls: commitSyscalls, correctness_problems: problems.length, killed_nodes: r?.killed, requeued_tasks: r?.moved,
    nats_consumers: s.consumers, nats_consumers_max: maxConsumers, nats_subscriptions: Object.values(s.subsByClient).reduce((a, b) => a + b, 0),
    nats_api_requests: s.apiTotal - api0, nats_consumers_by_client: s.consumersByClient, nats_subscriptions_by_client: s.subsByClient,
    nats_servers: nats.map((n, i) => ({ cpu_pct: round((natsCpu[i]! / seconds) * 100, 0), rss_mb: round(n.peakRssMb, 0), ...s.servers[i]! })),
  };
}

/**
 * cpuSplit is the CPU-seconds used so far by each process of the run, by this harness (its own
 * informers follow every task), and by the whole machine (/proc/stat: busy, of which steal, and the wall-clock
 * seconds of every core), so a phase's split says whether the cores were saturated and by whom.
 */
function cpuSplit(c: ScaleCluster): Record<string, number> {
  const own = process.cpuUsage();
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0) / 100;
  const idle = (cpu[3]! + cpu[4]!) / 100;
  return {
    reconciler: procStats(c.pids.reconciler).cpuS, scheduler: procStats(c.pids.scheduler).cpuS,
    ...Object.fromEntries(c.pids.hollow.map((pid, i) => [`hollow_${i}`, procStats(pid).cpuS])),
    ...Object.fromEntries(c.natsPids.map((pid, i) => [`nats_${i}`, procStats(pid).cpuS])),
    harness: (own.user + own.system) / 1e6, machine_busy: total - idle, machine_total: total,
    // Steal: time the hypervisor ran someone else while this VM wanted a core (counted in busy).
    machine_steal: (cpu[7] ?? 0) / 100,
  };
}

/**
 * syscalls is each process's read and write system calls so far (/proc/PID/io syscr, syscw): a
 * client's writes are mostly its socket writes (nats.js' flushes), a nats-server's reads its socket reads.
 */
function syscalls(c: ScaleCluster): Record<string, { reads: number; writes: number }> {
  const io = (pid: number): { reads: number; writes: number } => {
    try {
      const text = readFileSync(`/proc/${pid}/io`, 'utf8');
      return { reads: Number(/syscr: (\d+)/.exec(text)?.[1]), writes: Number(/syscw: (\d+)/.exec(text)?.[1]) };
    } catch {
      return { reads: NaN, writes: NaN };
    }
  };
  return {
    reconciler: io(c.pids.reconciler), scheduler: io(c.pids.scheduler), harness: io(process.pid),
    ...Object.fromEntries(c.pids.hollow.map((pid, i) => [`hollow_${i}`, io(pid)])),
    ...Object.fromEntries(c.natsPids.map((pid, i) => [`nats_${i}`, io(pid)])),
  };
}

/** cpuSince is each figure of `now` minus `then`, rounded, with `other` (the machine's busy time no process of the run used). */
function cpuSince(then: Record<string, number>, now: Record<string, number>): Record<string, number> {
  const d = Object.fromEntries(Object.keys(now).map((k) => [k, round(now[k]! - (then[k] ?? 0))]));
  const ours = Object.entries(d).filter(([k]) => !k.startsWith('machine')).reduce((a, [, v]) => a + v, 0);
  return { ...d, other: round(d.machine_busy! - ours) };
}

/**
 * publishedLiveness is the renewal period the nodes follow and the grace: the fixed --heartbeat-ms, or
 * what the scheduler published (waited for: it publishes once its node copy is in).
 */
async function publishedLiveness(c: ScaleCluster): Promise<{ heartbeatMs: number; graceMs: number }> {
  const deadline = Date.now() + 120_000;
  while (!(await c.store.cluster.get(LIVENESS_KEY).catch(() => undefined)) && Date.now() < deadline) await sleep(500);
  const l = await readLiveness(c.store.cluster);
  log(`published liveness: renewal every ${l.periodMs / 1000} s, grace ${l.graceMs / 1000} s`);
  return { heartbeatMs: fixedHeartbeatMs ?? l.periodMs, graceMs: l.graceMs };
}

/**
 * profileNats takes each nats-server's Go CPU profile over the first `seconds` of the commit
 * (GITCELL_SCALE_PROFILE=DIR: `nats-<i>.pprof` there; read with `go tool pprof -top`). Best effort.
 */
async function profileNats(urls: string[], seconds: number): Promise<void> {
  const dir = process.env.GITCELL_SCALE_PROFILE;
  if (!dir) return;
  await Promise.all(urls.map(async (url, i) => {
    try {
      const res = await fetch(`${url}/debug/pprof/profile?seconds=${seconds}`, { signal: AbortSignal.timeout((seconds + 60) * 1000) });
      await writeFile(join(dir, `nats-${i}.pprof`), Buffer.from(await res.arrayBuffer()));
      log(`nats-server ${i}: ${seconds} s CPU profile in ${dir}/nats-${i}.pprof`);
    } catch (err) {
      log(`nats-server ${i}: no CPU profile (${(err as Error).message})`);
    }
  }));
}
