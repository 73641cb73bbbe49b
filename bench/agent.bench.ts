// Agent benchmark: `gitcell agent` as its own process on a real nats-server, runc and CNI.
//   bind_to_running_50_s   time from writing 50 bindings to all 50 tasks reported running
//   agent_rss_mb_100_tasks the agent process's resident memory with 100 tasks running
//   node_overhead_kb_per_task  PSS of the processes each running task keeps on the node outside
//                          the agent and the container itself (the monitor: conmon, or before it the
//                          sh shim with runc and log writers), per task; node_processes_per_task counts them
//   agent_cpu_s_bind_50    CPU seconds (user + system) the agent process spent from the 50 bindings to
//                          all running: a figure the machine's load does not inflate as it does wall time
//   node_cpu_s_bind_50     CPU seconds of the whole node side over the same window: the agent and every
//                          process it starts (spawn helper, conmon, runc, CNI plugins; cpuacct cgroup of
//                          its own) plus its containers' cgroup parent (runc init works there); what the
//                          50 starts cost the 2 cores, and so what bounds bind_to_running_50_s
// Task specs and bindings are written straight to the store (standing in for reconciler and scheduler).
// Options: `--profile DIR` writes the agent's CPU profile (--cpu-prof) into DIR; `--only-start` stops
// after the 50 starts (for profiling the start path); `--node-flag F` (repeatable) adds a Node.js flag
// to the agent's (to measure one before it goes into AGENT_NODE_FLAGS). GITCELL_BENCH_MARKS=1 prints
// `mark start|end S` (CLOCK_MONOTONIC seconds) around the 50 starts, to cut a machine-wide
// `perf record -a -k CLOCK_MONOTONIC` to that window (`perf report --time START,END --sort comm`).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { mkdir, readdir, readFile, readlink, rm, rmdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { agentProcessFixture } from '../test/helpers/agent-process.ts';
import { buildBusyboxImage, makeTask, waitFor } from '../test/helpers/agent.ts';
import { DNS_RUN_DIR, removeCgroup, sweepStaleTables } from '../agent/index.ts';
import { silentLogger } from '../lib/index.ts';
import { AGENT_NODE_FLAGS } from '../lib/process.ts';
import type { TaskSpec } from '../api/index.ts';

const { suffix, node, prefix, dir, stateDir, imageRoot, subnet, bridge, server, nc, store, runtime, network } = await agentProcessFixture('bench');
let agent: ChildProcess | undefined;
let running: RunningWatch | undefined;
const { values: opts } = parseArgs({ options: { profile: { type: 'string' }, 'only-start': { type: 'boolean', default: false }, 'node-flag': { type: 'string', multiple: true, default: [] } } });
const CMD = ['sh', '-c', 'while true; do sleep 5; done'];
let cleaned: Promise<void> | undefined;
// Ctrl-C or a timeout still removes the agent, its containers, bridge and nats-server.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));

async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** TREE_CGROUP is the cpuacct cgroup the agent starts in (so its children are counted with it), removed by cleanup. */
const TREE_CGROUP = `/sys/fs/cgroup/cpuacct/gitcell-bench-tree-${suffix}`;

/** nodeCpuSeconds is the CPU the agent's tree and its containers' cgroup parent used so far (cpuacct, ns). */
async function nodeCpuSeconds(): Promise<number> {
  const read = async (dir: string): Promise<number> => Number((await readFile(join(dir, 'cpuacct.usage'), 'utf8').catch(() => '0')).trim()) / 1e9;
  return (await read(TREE_CGROUP)) + (await read(`/sys/fs/cgroup/cpuacct/gitcell/${node}`));
}

/** cpuSeconds is a process's user + system CPU time so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15) in clock ticks (USER_HZ 100)
}

/**
 * nodeOverhead sums the PSS of every process in the sessions of this agent's container monitors
 * (conmon, or the older sh shim: each starts its own session), leaving out the containers' own
 * processes (another pid namespace).
 */
async function nodeOverhead(): Promise<{ kbPerTask: number; processesPerTask: number; tasks: number }> {
  const ownNs = await readlink('/proc/self/ns/pid');
  const procs = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  const shims = new Set<string>(); // session ids: a shim and the subshells it forks share one
  const sessionOf = new Map<string, string>();
  for (const pid of procs) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const session = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]!; // field 6: session
      sessionOf.set(pid, session);
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if ((cmd.includes('gitcell-shim') || /(^|\/)conmon$/.test(cmd.split('\0')[0] ?? '')) && cmd.includes(stateDir) && session === pid) shims.add(session);
    } catch {
      // gone meanwhile
    }
  }
  let kb = 0;
  let n = 0;
  for (const [pid, session] of sessionOf) {
    if (!shims.has(session)) continue;
    try {
      if ((await readlink(`/proc/${pid}/ns/pid`)) !== ownNs) continue; // the container's own process
      const m = /^Pss:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
      n++;
    } catch {
      // gone meanwhile
    }
  }
  return { kbPerTask: shims.size ? kb / shims.size : NaN, processesPerTask: shims.size ? n / shims.size : NaN, tasks: shims.size };
}

async function bindAll(specs: TaskSpec[]): Promise<void> {
  await Promise.all(specs.map((s) => store.tasks.put(s.id, s)));
  await Promise.all(specs.map((s) => store.bindings.put(s.id, { taskId: s.id, node, boundAt: new Date().toISOString(), schedulerTerm: 1 })));
}

/**
 * RunningWatch counts this node's tasks reported running from one watch of its status keys. The
 * bench polled `store.status.list` every 50 ms instead: a consumer and a listing of every status per
 * poll, 0.95-1.18 CPU-s of the bench process and 0.72-0.84 of nats-server's during the 50 starts
 * (two runs, load 15-18), taken from the two cores the starts are measured on; with the watch
 * 0.12-0.19 and 0.09-0.13. A watch delivers each status change once.
 */
class RunningWatch {
  private readonly running = new Set<string>();
  private readonly watch = store.status.watch({ prefix: node });
  private wake: (() => void) | undefined;
  private failed: Error | undefined;
  private readonly done = (async () => {
    for await (const ev of this.watch) {
      if (ev.type === 'put' && ev.value.state === 'running') this.running.add(ev.key);
      else if (ev.type !== 'synced') this.running.delete(ev.key);
      this.wake?.();
    }
  })().catch((err: Error) => {
    this.failed = err;
    this.wake?.();
  });

  /** until resolves once at least `n` tasks are running; it rejects after `timeoutMs`. */
  async until(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size < n) {
      if (this.failed) throw this.failed;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} running (${this.running.size})`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 1000); // the deadline is checked at least once a second
      });
    }
  }

  async close(): Promise<void> {
    await this.watch.close();
    await this.done;
  }
}

/** steadyState binds 50 more tasks, measures the agent's RSS and the node overhead at 100, unbinds all and prints the JSON line. */
async function steadyState(pid: number, first: TaskSpec[], start: { bindToRunning50: number; cpuBind50: number; nodeCpuBind50: number }, running: RunningWatch): Promise<void> {
  const second = Array.from({ length: 50 }, (_, i) => makeTask(`b${suffix}-${50 + i}`, 'localhost/busybox:bench', CMD));
  await bindAll(second);
  await running.until(100, 600_000);
  // Let a few heartbeats, usage samples and probe ticks pass before measuring steady-state memory.
  await new Promise((r) => setTimeout(r, 15_000));
  const rss = await rssMb(pid);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): string => (Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024).toFixed(1);
  console.log(`agent RSS with 100 running tasks: ${rss.toFixed(1)} MB (target < 80 MB): ${kb('RssAnon')} MB anonymous, ${kb('RssFile')} MB of files (the node binary's pages)`);
  const overhead = await nodeOverhead();
  console.log(`node overhead outside the agent: ${overhead.kbPerTask.toFixed(0)} kB PSS and ${overhead.processesPerTask.toFixed(1)} processes per task (${overhead.tasks} monitors)`);
  const t1 = performance.now();
  await Promise.all([...first, ...second].map((s) => store.bindings.delete(s.id)));
  await waitFor('all removed', async () => (await store.status.keys(node)).length === 0, 600_000);
  const unbind100 = (performance.now() - t1) / 1000;
  console.log(`100 tasks unbound -> removed in ${unbind100.toFixed(2)} s`);
  console.log(JSON.stringify({
    bind_to_running_50_s: Number(start.bindToRunning50.toFixed(2)), agent_rss_mb_100_tasks: Number(rss.toFixed(1)), node_overhead_kb_per_task: Math.round(overhead.kbPerTask),
    node_processes_per_task: Number(overhead.processesPerTask.toFixed(1)), agent_cpu_s_bind_50: Number(start.cpuBind50.toFixed(2)),
    node_cpu_s_bind_50: Number(start.nodeCpuBind50.toFixed(2)), unbind_to_removed_100_s: Number(unbind100.toFixed(2)),
    load_average_1m: Number(loadavg()[0]!.toFixed(2)),
  }));
}

try {
  await buildBusyboxImage(imageRoot, 'localhost/busybox:bench');
  // Started as the systemd unit starts it (AGENT_NODE_FLAGS).
  const profile = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
  await mkdir(TREE_CGROUP);
  // The agent runs in TREE_CGROUP from its first instruction: sh moves itself there, then execs node.
  agent = spawn('/bin/sh', ['-c', `echo $$ > ${TREE_CGROUP}/cgroup.procs && exec "$0" "$@"`, process.execPath, ...AGENT_NODE_FLAGS, ...opts['node-flag'], ...profile, 'cli/bin.js', 'agent', '--node', node, '--nats', server.url, '--prefix', prefix, '--node-dir', stateDir,
    '--image-cache', imageRoot, '--subnet', subnet, '--bridge', bridge], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, GITCELL_LOG_LEVEL: 'warn' },
  });
  await waitFor('node registered', async () => (await store.nodes.get(node))?.value, 60_000);
  // The figure is bind -> running with the image already unpacked on the node.
  const img = await runtime.imageStore.resolve('localhost/busybox:bench');
  await runtime.manager.snapshots.prepare(runtime.imageStore.content, img.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: img.diffIds[i]! })));
  const first = Array.from({ length: 50 }, (_, i) => makeTask(`b${suffix}-${i}`, 'localhost/busybox:bench', CMD));
  running = new RunningWatch();
  const cpu0 = await cpuSeconds(agent.pid!);
  const nodeCpu0 = await nodeCpuSeconds();
  const t0 = performance.now();
  if (process.env.GITCELL_BENCH_MARKS) console.log(`mark start ${Number(process.hrtime.bigint()) / 1e9}`);
  await bindAll(first);
  await running.until(50, 600_000);
  const bindToRunning50 = (performance.now() - t0) / 1000;
  if (process.env.GITCELL_BENCH_MARKS) console.log(`mark end ${Number(process.hrtime.bigint()) / 1e9}`);
  const cpuBind50 = (await cpuSeconds(agent.pid!)) - cpu0;
  const nodeCpuBind50 = (await nodeCpuSeconds()) - nodeCpu0;
  console.log(`50 tasks bound -> running in ${bindToRunning50.toFixed(2)} s (agent CPU ${cpuBind50.toFixed(2)} s, node CPU ${nodeCpuBind50.toFixed(2)} s, load ${loadavg()[0]!.toFixed(2)})`);
  if (opts['only-start']) {
    console.log(JSON.stringify({ bind_to_running_50_s: Number(bindToRunning50.toFixed(2)), agent_cpu_s_bind_50: Number(cpuBind50.toFixed(2)), node_cpu_s_bind_50: Number(nodeCpuBind50.toFixed(2)), load_average_1m: Number(loadavg()[0]!.toFixed(2)) }));
  } else {
    await steadyState(agent.pid!, first, { bindToRunning50, cpuBind50, nodeCpuBind50 }, running);
  }
} finally {
  await cleanup();
}

/** cleanup stops the agent and removes its containers, network, cgroup, NATS and files: once, at the end or on a signal. */
function cleanup(): Promise<void> {
  return (cleaned ??= (async () => {
    if (opts.profile && agent && agent.exitCode === null) {
      // SIGTERM: the agent exits leaving its tasks (removed below), and Node writes the profile on exit.
      agent.kill('SIGTERM');
      await Promise.race([once(agent, 'exit'), new Promise((r) => setTimeout(r, 60_000))]);
    }
    agent?.kill('SIGKILL');
    await running?.close();
    runtime.close(); // closed: the last remove takes the runtime's tmpfs state directory with it
    for (const c of await runtime.list()) await runtime.remove(c.id).catch(() => {});
    await network.destroy().catch(() => {});
    await removeCgroup(`gitcell/${node}`).catch(() => {});
    await nc.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    // Empty once the agent and its children (spawn helper, conmons) are gone: a process still exiting holds it a moment.
    await waitFor('bench cgroup removed', async () => rmdir(TREE_CGROUP).then(() => true, (e: NodeJS.ErrnoException) => e.code === 'ENOENT'), 10_000).catch((e: Error) => console.error(`bench: ${e.message}`));
    // The agent keeps its nft table when it stops (a restarted agent keeps established connections);
    // with its state directory gone the table is stale, and the sweep every agent runs removes it.
    await sweepStaleTables({ own: '', dnsRunDir: DNS_RUN_DIR, log: silentLogger() });
  })());
}
