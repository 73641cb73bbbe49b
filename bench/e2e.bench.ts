/**
 * End-to-end benchmark: `npm run bench -- e2e [--commits N]`. The real `gitcell up` (3 nodes, the
 * sample image imported by up) on sample-repo, then N commits (default 20; 0: up only) each changing
 * one env value of the 3-task service `web`, one after another once the previous rollout completed:
 *
 *   spawn up ─► every task running (batch tasks done) ............................ up_to_all_running_s
 *     (with the CPU-seconds of up's process tree by then, and a timeline of its steps) up_cpu_s_to_all_running
 *   git commit ─► the first web task of the new template reports running ....... commit_to_first_running
 *   git commit ─► 3/3 web tasks of the new template running and ready, no old ... commit_to_rollout_complete
 *   then `gitcell get tasks` and `gitcell --help` against it (median of 5) ........ get_tasks_s, help_s
 *   after the last rollout, 30 s idle ─► RSS summed over up's Node.js processes .. idle_up_rss_mb
 *
 * Times come from watches on the store's tasks and status buckets (no polling). Every wait has a
 * deadline; `up` is stopped with SIGINT (SIGKILL after 3 minutes) and its state dir removed.
 * For a finer timeline: GITCELL_E2E_TRACE=1 prints every task's creation, binding and status change
 * (ms after up's spawn, which is printed as a time of day), GITCELL_E2E_KEEP_LOGS=DIR keeps the
 * components' logs (JSON lines with their times) before the state dir goes.
 * Last line: one JSON object.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../lib/index.ts';
import { connectFromOptions, openClusterStore, type Watch } from '../store/index.ts';
import type { TaskSpec, TaskStatus } from '../api/index.ts';
import type { DesiredRecord, SyncRecord } from '../reconciler/index.ts';
import { BIN, git, interruptUp, leftovers, logTails, unmountBelow } from '../test/helpers/up.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const COMMITS = Number(arg('--commits') ?? 20);
const UP_DEADLINE_MS = 300_000;
const ROLLOUT_DEADLINE_MS = 180_000;
const WEB = 'Job/default/web';

const IDLE_MS = 30_000;

/**
 * nodeProcesses lists the Node.js processes of the cluster: `up` itself and every process whose
 * command line names its state dir (the components), with their resident memory in MB.
 */
function nodeProcesses(upPid: number, stateDir: string): Array<{ pid: number; rssMb: number; what: string }> {
  const out: Array<{ pid: number; rssMb: number; what: string }> = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readlinkSync(`/proc/${p}/exe`) !== process.execPath) continue;
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (Number(p) !== upPid && !cmd.some((a) => a.includes(stateDir))) continue;
      const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
      const sub = cmd.findIndex((a) => a.endsWith('entry.js') || a.endsWith('bin.js'));
      out.push({ pid: Number(p), rssMb: rssKb / 1024, what: cmd.slice(sub + 1, sub + 3).join(' ') });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/**
 * treeCpu is the CPU time (user + system) of `pid` and every live descendant, each with what its
 * exited children used (cutime, cstime): gitcell up's cost so far, NATS, Prometheus, CNI and runc
 * create included; not the containers and their conmon (re-parented to init). `by` splits it by
 * process (Node.js processes by their gitcell command), most first.
 */
function treeCpu(pid: number): { total: number; by: string } {
  const parent = new Map<number, number>();
  const cpu = new Map<number, { s: number; what: string }>();
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(p), Number(f[1])); // field 4: ppid
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const sub = cmd.findIndex((x) => x.endsWith('entry.js') || x.endsWith('bin.js'));
      const what = sub >= 0 ? `node ${cmd.slice(sub + 1, sub + 3).join(' ')}` : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      cpu.set(Number(p), { s: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100, what }); // utime stime cutime cstime (USER_HZ 100)
    } catch {
      // gone meanwhile
    }
  }
  const by = new Map<string, number>();
  let total = 0;
  for (const [p, c] of cpu) {
    for (let q: number | undefined = p; q !== undefined && q > 1; q = parent.get(q)) {
      if (q !== pid) continue;
      total += c.s;
      by.set(c.what, (by.get(c.what) ?? 0) + c.s);
      break;
    }
  }
  return { total, by: [...by].filter(([, t]) => t >= 0.05).sort((x, y) => y[1] - x[1]).map(([w, t]) => `${w} ${t.toFixed(2)}`).join(', ') };
}

/** CLIENT_RUNS: each client command is timed this many times (median). */
const CLIENT_RUNS = 5;

/**
 * clientCommands times `gitcell get tasks` and `gitcell --help` as a user runs them (a fresh node
 * process each, the compiled build), against the running cluster: wall seconds, median of CLIENT_RUNS.
 */
function clientCommands(dir: string): { getTasksS: number; helpS: number } {
  const time = (args: string[]): number => {
    const runs: number[] = [];
    for (let i = 0; i < CLIENT_RUNS; i++) {
      const t = performance.now();
      execFileSync(process.execPath, [BIN, ...args], { stdio: 'ignore', timeout: 60_000 });
      runs.push((performance.now() - t) / 1000);
    }
    return pct(runs, 50);
  };
  return { getTasksS: time(['get', 'tasks', '--cluster-dir', dir]), helpS: time(['--help']) };
}

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** ClusterView holds the tasks and their statuses as the watches deliver them, and wakes waiters on every change. */
class ClusterView {
  readonly tasks = new Map<string, TaskSpec>();
  readonly status = new Map<string, TaskStatus>(); // by task id
  /** when each task was first seen created, bound and running (for the phases of commit → first running) */
  readonly seen = { created: new Map<string, number>(), bound: new Map<string, number>(), running: new Map<string, number>(), node: new Map<string, number>() };
  /** when each task was first seen ready (the web tasks' readiness gates up → all running) */
  readonly ready = new Map<string, number>();
  private waiters: Array<() => void> = [];

  follow<T>(w: Watch<T>, apply: (ev: { type: 'put'; key: string; value: T } | { type: 'delete'; key: string }) => void): void {
    void (async () => {
      for await (const ev of w) {
        if (ev.type === 'synced') continue;
        apply(ev);
        const ws = this.waiters;
        this.waiters = [];
        for (const wake of ws) wake();
      }
    })();
  }

  /** until resolves with the first truthy value of `check`, re-checked on every change; rejects after `ms`. */
  async until<T>(what: string, ms: number, check: () => T | undefined): Promise<T> {
    const deadline = performance.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`e2e bench: ${what}: not within ${ms / 1000} s`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000)); // re-check now and then anyway
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  web(): Array<{ spec: TaskSpec; status?: TaskStatus }> {
    return [...this.tasks.values()].filter((t) => t.jobKey === WEB).map((spec) => ({ spec, ...(this.status.has(spec.id) ? { status: this.status.get(spec.id)! } : {}) }));
  }
}

/** UpOnly ends a `--commits 0` run after up → all running (no commits, no idle measure). */
class UpOnly extends Error {}

/**
 * upTimeline says where up → all running went: up's summary printed, the nodes registered, the
 * tasks created, bound, running and (web) ready, as seconds after up was spawned (first–last of each).
 */
function upTimeline(view: ClusterView, t0: number, summaryAt: number): string {
  const s = (t: number) => ((t - t0) / 1000).toFixed(2);
  const span = (m: Map<string, number>) => (m.size ? `${s(Math.min(...m.values()))}–${s(Math.max(...m.values()))} (${m.size})` : 'none');
  const webIds = new Set(view.web().map((t) => t.spec.id));
  const webReady = new Map([...view.ready].filter(([id]) => webIds.has(id)));
  return `summary ${s(summaryAt)}, nodes ${span(view.seen.node)}, created ${span(view.seen.created)}, bound ${span(view.seen.bound)}, running ${span(view.seen.running)}, web ready ${span(webReady)}`;
}

const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-bench-'));
let up: ChildProcess | undefined;
let output = '';
let closeStore: (() => Promise<void>) | undefined;
try {
  const t0 = performance.now();
  console.log(`gitcell up: spawned at ${new Date().toISOString()}`);
  up = spawn(process.execPath, [BIN, 'up', '--cluster-dir', stateDir, '--nodes', '3', '--no-view', '--subnet-base', `10.${100 + randomInt(50)}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const started = performance.now();
  while (!output.includes('npx gitcell get tasks --cluster-dir')) {
    if (up.exitCode !== null) throw new Error(`e2e bench: gitcell up exited (${up.exitCode})`);
    if (performance.now() - started > UP_DEADLINE_MS) throw new Error('e2e bench: gitcell up did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const summaryAt = performance.now();
  const nc = await connectFromOptions({ stateDir, name: 'e2e-bench' });
  closeStore = () => nc.close();
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
  const view = new ClusterView();
  const first = (m: Map<string, number>, id: string) => m.has(id) || m.set(id, performance.now());
  view.follow(store.tasks.watch(), (ev) => {
    if (ev.type === 'put') first(view.seen.created, ev.key);
    return ev.type === 'put' ? view.tasks.set(ev.key, ev.value) : view.tasks.delete(ev.key);
  });
  view.follow(store.bindings.watch(), (ev) => ev.type === 'put' && first(view.seen.bound, ev.key));
  view.follow(store.nodes.watch(), (ev) => ev.type === 'put' && first(view.seen.node, ev.key));
  // GITCELL_E2E_TRACE=1: every task's creation, binding and status change, in ms after up's spawn (a timeline per task).
  const trace = process.env.GITCELL_E2E_TRACE === '1' ? (what: string) => console.log(`trace ${(performance.now() - t0).toFixed(0).padStart(6)} ms ${what}`) : undefined;
  if (trace) {
    const lastState = new Map<string, string>();
    view.follow(store.tasks.watch(), (ev) => trace(`task ${ev.type} ${ev.key}`));
    view.follow(store.bindings.watch(), (ev) => trace(`binding ${ev.type} ${ev.key}${ev.type === 'put' ? ` -> ${ev.value.node}` : ''}`));
    view.follow(store.status.watch(), (ev) => {
      const state = ev.type === 'put' ? `${ev.value.state}${ev.value.ready ? ' ready' : ''}` : 'deleted';
      if (lastState.get(ev.key) !== state) trace(`status ${ev.key} ${state}`);
      lastState.set(ev.key, state);
    });
  }
  view.follow(store.status.watch(), (ev) => {
    const id = ev.key.slice(ev.key.indexOf('.') + 1); // <node>.<task id>
    if (ev.type === 'put') view.status.set(id, ev.value);
    else view.status.delete(id);
    if (ev.type === 'put' && ev.value.state === 'running') first(view.seen.running, id);
    if (ev.type === 'put' && ev.value.ready && !view.ready.has(id)) view.ready.set(id, performance.now());
  });

  // Every task runs (web 3/3 ready, a node-logger per node) and batch tasks finished.
  await view.until('every task of sample-repo running', UP_DEADLINE_MS, () => {
    const all = [...view.tasks.values()];
    const web = view.web();
    const ok = all.length > 0 && web.length === 3 && web.every((t) => t.status?.ready)
      && all.filter((t) => t.jobKey.startsWith('DaemonSet/')).length === 3
      && all.every((t) => ['running', 'succeeded'].includes(view.status.get(t.id)?.state ?? ''));
    return ok || undefined;
  });
  const upToAllRunningS = (performance.now() - t0) / 1000;
  const upCpu = treeCpu(up.pid!);
  const upCpuS = upCpu.total;
  console.log(`gitcell up: every task running after ${upToAllRunningS.toFixed(1)} s, ${upCpuS.toFixed(1)} CPU-s in up's process tree (load ${loadavg()[0]!.toFixed(2)}): ${upCpu.by}`);
  console.log(`gitcell up: timeline (s after spawn): ${upTimeline(view, t0, summaryAt)}`);
  const client = clientCommands(stateDir);
  console.log(`client commands against the running cluster (median of ${CLIENT_RUNS}): gitcell get tasks ${client.getTasksS.toFixed(2)} s, gitcell --help ${client.helpS.toFixed(2)} s`);
  const upPhases = /"phasesMs":(\{[^}]*\})/.exec(output)?.[1];
  if (upPhases) console.log(`gitcell up: its own steps ended at (ms after its start): ${upPhases}`);
  if (COMMITS === 0) {
    console.log(JSON.stringify({ up_to_all_running_s: round(upToAllRunningS, 2), up_cpu_s_to_all_running: round(upCpuS, 1), get_tasks_s: round(client.getTasksS, 2), help_s: round(client.helpS, 2), load_average_1m: round(loadavg()[0]!, 2), targets: { up_to_all_running_s: '< 5', get_tasks_s: '< 0.6', help_s: '< 0.3' } }));
    throw new UpOnly();
  }

  const repo = join(stateDir, 'repo');
  const file = join(repo, 'jobs', 'web.yaml');
  const original = await readFile(file, 'utf8');
  const firstRunning: number[] = [];
  const phases: Array<{ created: number; bound: number; running: number }> = [];
  const complete: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const before = new Set(view.web().map((t) => t.spec.templateHash));
    await writeFile(file, original.replace('value: production', `value: bench-${i}`));
    const c0 = performance.now();
    git(repo, 'commit', '-qam', `web: MODE=bench-${i}`);
    const isNew = (t: { spec: TaskSpec }): boolean => !before.has(t.spec.templateHash);
    const runner = await view.until(`commit ${i}: a web task of the new template running`, ROLLOUT_DEADLINE_MS, () =>
      view.web().find((t) => isNew(t) && t.status?.state === 'running' && t.status.templateHash === t.spec.templateHash));
    firstRunning.push(performance.now() - c0);
    // Where the time went: the first new task's creation (reconciler), binding (scheduler), running (agent).
    const id = runner.spec.id;
    const created = view.seen.created.get(id) ?? NaN;
    const bound = view.seen.bound.get(id) ?? NaN;
    phases.push({ created: created - c0, bound: bound - created, running: (view.seen.running.get(id) ?? performance.now()) - bound });
    await view.until(`commit ${i}: rollout complete`, ROLLOUT_DEADLINE_MS, () => {
      const web = view.web();
      return (web.length === 3 && web.every((t) => isNew(t) && t.status?.state === 'running' && t.status.ready)) || undefined;
    });
    complete.push(performance.now() - c0);
    const ph = phases.at(-1)!;
    console.log(`commit ${i + 1}/${COMMITS}: first new task running ${Math.round(firstRunning.at(-1)!)} ms (created ${Math.round(ph.created)}, bound +${Math.round(ph.bound)}, running +${Math.round(ph.running)}), rollout complete ${Math.round(complete.at(-1)!)} ms (load ${loadavg()[0]!.toFixed(2)})`);
  }
  // Idle: every task running, the last rollout done, nothing to do for IDLE_MS.
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const procs = nodeProcesses(up.pid!, stateDir);
  const idleRssMb = procs.reduce((n, p) => n + p.rssMb, 0);
  console.log(`idle ${IDLE_MS / 1000} s after the last rollout: ${procs.length} Node.js processes, RSS ${idleRssMb.toFixed(0)} MB: ${procs.map((p) => `${p.what} ${p.rssMb.toFixed(0)}`).join(', ')}`);
  const summary = {
    commit_to_first_running_p50_ms: round(pct(firstRunning, 50)),
    commit_to_first_running_p99_ms: round(pct(firstRunning, 99)),
    commit_to_rollout_complete_p50_ms: round(pct(complete, 50)),
    commit_to_rollout_complete_p99_ms: round(pct(complete, 99)),
    // p50 of each phase of commit → first new task running: the reconciler creates it, the scheduler binds it, its agent runs it
    commit_to_created_p50_ms: round(pct(phases.map((p) => p.created), 50)),
    created_to_bound_p50_ms: round(pct(phases.map((p) => p.bound), 50)),
    bound_to_running_p50_ms: round(pct(phases.map((p) => p.running), 50)),
    up_to_all_running_s: round(upToAllRunningS, 2),
    up_cpu_s_to_all_running: round(upCpuS, 1),
    get_tasks_s: round(client.getTasksS, 2),
    help_s: round(client.helpS, 2),
    idle_up_rss_mb: round(idleRssMb),
    idle_up_node_processes: procs.length,
    commits: COMMITS,
    load_average_1m: round(loadavg()[0]!, 2),
    targets: { commit_to_first_running_p50_ms: '< 1000', up_to_all_running_s: '< 5', idle_up_rss_mb: '< 300', get_tasks_s: '< 0.6', help_s: '< 0.3' },
  };
  await closeStore();
  closeStore = undefined;
  const code = await interruptUp(up);
  const left = leftovers(stateDir);
  if (code !== 0 || left.length) console.error(`e2e bench: gitcell up exited ${code}; left behind: ${left.join('; ') || 'nothing'}`);
  console.log(JSON.stringify(summary));
} catch (err) {
  if (err instanceof UpOnly) {
    await closeStore?.();
    closeStore = undefined;
    const code = await interruptUp(up!);
    const left = leftovers(stateDir);
    if (code !== 0 || left.length) console.error(`e2e bench: gitcell up exited ${code}; left behind: ${left.join('; ') || 'nothing'}`);
  } else {
    console.error(`${(err as Error).message}\n${logTails(stateDir, output)}`);
    process.exitCode = 1;
  }
} finally {
  await closeStore?.().catch(() => undefined);
  if (up && up.exitCode === null && up.signalCode === null) await interruptUp(up);
  // GITCELL_E2E_KEEP_LOGS=DIR keeps the components' logs (timestamped) for a finer timeline.
  if (process.env.GITCELL_E2E_KEEP_LOGS) await cp(join(stateDir, 'logs'), process.env.GITCELL_E2E_KEEP_LOGS, { recursive: true }).catch(() => undefined);
  unmountBelow(stateDir);
  await rm(stateDir, { recursive: true, force: true });
}
process.exit();
