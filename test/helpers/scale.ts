/**
 * The scale harness (issue 17), shared by `npm run bench -- scale` and the quick scale test: the
 * embedded nats-server with authorization (or a cluster of N servers, scale-nats.ts, the clients
 * spread over them), the real reconciler and scheduler as `gitcell` processes, and hollow nodes
 * (`gitcell hollow`) in two processes plus a third holding the nodes the scenario kills with
 * SIGKILL. The live nodes are split in two although each process follows the whole store
 * (agent/shared-feed.ts: one more copy of every task spec and binding delivered and decoded): at
 * 10,000 nodes one process of all 9,500 live nodes was the commit's bottleneck (one core; all
 * running 93.7 s against 75.3 s with two halves). Identities: the control plane's, and one per
 * hollow process allowed exactly its own nodes' keys (store/permissions.ts hollowPermissions).
 *
 *   startScaleCluster ─► nats (auth) ─► buckets ─► repo (empty commit) ─► hollow ×3 ─► scheduler
 *     ─► reconciler (applies the empty commit) ─► commit(files) ... kill(victims) ─► stop
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { silentLogger } from '../../lib/index.ts';
import { processAlive } from '../../lib/process.ts';
import {
  authorizationConfig, autoscalerPermissions, connect, controlPermissions, hollowPermissions, openClusterStore, type ClusterStore, type NatsUser,
} from '../../store/index.ts';
import { startScaleNats, type ScaleNats } from './scale-nats.ts';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import { hollowNodeNames } from '../../cli/commands/hollow-nodes.ts';
import { BIN, git } from './up.ts';

/** ScaleClusterOptions size the cluster. */
export interface ScaleClusterOptions {
  /** every node, victims included */
  nodes: number;
  /** nodes of the second process, the ones `kill` ends */
  victims: number;
  dir: string;
  startDelayMs: number;
  /** how the scheduler sizes the renewal period it publishes (its --min-heartbeat-ms, --heartbeats-per-s; default its own) */
  liveness?: { minHeartbeatMs?: number; heartbeatsPerS?: number };
  /** a fixed renewal period for the hollow nodes instead of the published one */
  heartbeatMs?: number;
  log: (line: string) => void;
  /** nats-servers: 1 (default) the embedded one, 3 a cluster; process k connects to server k mod N */
  natsServers?: number;
  /** replicas of the buckets and streams (default 1, also on a cluster) */
  replicas?: number;
  /** on a cluster, spread the R1 streams over the servers by placement tags (default true; false: where nats-server puts them) */
  spreadStreams?: boolean;
}

/** ScaleCluster is a running cluster of the harness. */
export interface ScaleCluster {
  store: ClusterStore<DesiredRecord, SyncRecord>;
  /** each nats-server's pid and monitoring URL (scale-nats.ts sampleNats) */
  natsPids: number[];
  natsMonitors: string[];
  /** each nats-server's Go pprof base URL, with GITCELL_SCALE_PROFILE only (scale-nats.ts) */
  natsProfilers: string[];
  pids: { reconciler: number; scheduler: number; hollow: number[] };
  /** the nodes of each hollow process, the victims' last */
  groups: string[][];
  /** commit writes the files into the repository and commits them; resolves with the commit */
  commit(files: Map<string, string>, message: string): Promise<string>;
  /** kill ends the victims' process with SIGKILL; resolves with their names */
  kill(): Promise<string[]>;
  stop(): Promise<void>;
  /** logTails are the last lines each process wrote (for failures) */
  logTails(): string;
}

interface Proc {
  name: string;
  child: ChildProcess;
  out: string;
}

async function seed(file: string): Promise<string> {
  const kp = createUser();
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
  return kp.getPublicKey();
}

/**
 * start runs `gitcell ARGS`; with GITCELL_SCALE_PROFILE=DIR (absolute) every process writes a CPU
 * profile there when it stops (node --cpu-prof), for the bench's profiling runs.
 */
function start(name: string, args: string[], dir: string): Proc {
  const prof = process.env.GITCELL_SCALE_PROFILE;
  const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name.replace(/\W+/g, '-')}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...flags, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const p: Proc = { name, child, out: '' };
  // The whole output in <dir>/logs/<name>.log (kept while the run's dir is), the tail in memory.
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const file = createWriteStream(join(dir, 'logs', `${name.replace(/\W+/g, '-')}.log`));
  child.once('exit', () => file.end());
  const keep = (d: Buffer) => {
    file.write(d);
    p.out += d.toString();
    if (p.out.length > 200_000) p.out = p.out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return p;
}

async function waitOutput(p: Proc, text: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!p.out.includes(text)) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`scale: ${p.name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.out.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`scale: ${p.name} did not print "${text}" within ${ms / 1000} s:\n${p.out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
  await gone;
  clearTimeout(t);
}

/** splitNodes divides `nodes` over two processes of live nodes and the victims' one. Pure. */
export function splitNodes(nodes: number, victims: number): number[] {
  const rest = nodes - victims;
  return [Math.ceil(rest / 2), Math.floor(rest / 2), victims];
}

/** hollowSeed makes one hollow process's seed file, adds its user (allowed exactly `names`), and returns the file. */
async function hollowSeed(file: string, names: string[], users: NatsUser[]): Promise<string> {
  const pub = await seed(file);
  users.push({ nkey: pub, permissions: hollowPermissions(names, pub) });
  return file;
}

/** identities makes the seeds of the control plane, the autoscaler and each hollow process, and their users. */
async function identities(dir: string, groups: string[][]): Promise<{ controlSeed: string; autoscalerSeed: string; hollowSeeds: string[]; users: NatsUser[] }> {
  const controlSeed = join(dir, 'seeds', 'control.nk');
  const control = await seed(controlSeed);
  const autoscalerSeed = join(dir, 'seeds', 'autoscaler.nk');
  const autoscaler = await seed(autoscalerSeed);
  const users: NatsUser[] = [{ nkey: control, permissions: controlPermissions(control) }, { nkey: autoscaler, permissions: autoscalerPermissions(autoscaler) }];
  const hollowSeeds: string[] = [];
  for (const [i, names] of groups.entries()) hollowSeeds.push(await hollowSeed(join(dir, 'seeds', `hollow-${i}.nk`), names, users));
  return { controlSeed, autoscalerSeed, hollowSeeds, users };
}

/** makeWorkloadRepo makes the repository the reconciler follows, with one empty commit; returns it. */
async function makeWorkloadRepo(repo: string): Promise<string> {
  await mkdir(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 'scale@gitcell.test');
  git(repo, 'config', 'user.name', 'scale');
  await writeFile(join(repo, 'README.md'), 'scale benchmark workload\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'empty cluster');
  return git(repo, 'rev-parse', 'HEAD').trim();
}

/** livenessFlags are the scheduler's flags for how it sizes the renewal period it publishes. */
function livenessFlags(o: ScaleClusterOptions): string[] {
  return [
    ...(o.liveness?.minHeartbeatMs ? ['--min-heartbeat-ms', String(o.liveness.minHeartbeatMs)] : []),
    ...(o.liveness?.heartbeatsPerS ? ['--heartbeats-per-s', String(o.liveness.heartbeatsPerS)] : []),
  ];
}

/** startScaleCluster starts everything and resolves once the reconciler applied the repository's first (empty) commit. */
export async function startScaleCluster(o: ScaleClusterOptions): Promise<ScaleCluster> {
  const procs: Proc[] = [];
  let server: ScaleNats | undefined;
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  let groupCount = 0;
  const cleanup = async () => {
    await Promise.all(procs.map(stopProc));
    await nc?.close().catch(() => undefined);
    await server?.stop();
    for (let i = 0; i < groupCount; i++) await rm(nodeDir(i), { recursive: true, force: true });
  };
  try {
    await sweepDeadHarnessDirs();
    const sizes = splitNodes(o.nodes, o.victims);
    const prefixes = ['hollow-a-', 'hollow-b-', 'hollow-v-'];
    const groups = sizes.map((n, i) => hollowNodeNames(prefixes[i]!, n));
    groupCount = groups.length;
    const { controlSeed, autoscalerSeed, hollowSeeds, users } = await identities(o.dir, groups);
    server = await startScaleNats({ servers: o.natsServers ?? 1, dir: o.dir, authorization: authorizationConfig(users), controlSeed });
    const urls = server.urls;
    nc = await connect({ servers: urls[0]!, creds: controlSeed, name: 'scale harness' });
    const replicas = o.replicas ?? 1;
    // The harness creates the store first, so its placement is the one every component then opens.
    const spreadOver = o.spreadStreams === false ? [] : server.tags;
    const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger(), replicas, spreadOver });
    const repo = join(o.dir, 'repo');
    const first = await makeWorkloadRepo(repo);
    // Clients spread: hollow process i on server i, the scheduler on 1 and the reconciler on 2 (mod N).
    const nats = (k: number) => ['--nats', urls[k % urls.length]!];
    for (const [i, names] of groups.entries()) procs.push(startHollow(o, i, names.length, prefixes[i]!, nats(i), hollowSeeds[i]!));
    for (const p of procs) await waitOutput(p, 'nodes running', 600_000);
    o.log(`hollow nodes running: ${sizes.join(' + ')}`);
    const rep = ['--replicas', String(replicas)];
    const sched = start('scheduler', ['scheduler', ...nats(1), ...rep, '--creds', controlSeed, '--cluster-dir', join(o.dir, 'scheduler'), ...livenessFlags(o)], o.dir);
    procs.push(sched);
    const rec = start('reconciler', [
      'reconciler', '--repo', repo, ...nats(2), ...rep, '--creds', controlSeed, '--autoscaler-creds', autoscalerSeed, '--cluster-dir', join(o.dir, 'reconciler'), '--expect-nodes', String(o.nodes), '--node-settle', '120s',
    ], o.dir);
    procs.push(rec);
    await waitApplied(store, first, procs, 300_000);
    o.log('reconciler applied the first commit');
    const [hollowProcs, victims] = [procs.slice(0, groups.length), groups.length - 1];
    const runningNats = server;
    return {
      store, natsPids: server.pids, natsMonitors: server.monitors, natsProfilers: server.profilers, groups,
      pids: { reconciler: rec.child.pid!, scheduler: sched.child.pid!, hollow: hollowProcs.map((p) => p.child.pid!) },
      async commit(files, message) {
        for (const [path, text] of files) {
          await mkdir(dirname(join(repo, path)), { recursive: true });
          await writeFile(join(repo, path), text);
        }
        git(repo, 'add', '-A');
        git(repo, 'commit', '-qm', message);
        return git(repo, 'rev-parse', 'HEAD').trim();
      },
      async kill() {
        const v = hollowProcs[victims]!;
        const gone = new Promise<void>((r) => v.child.once('exit', () => r()));
        v.child.kill('SIGKILL');
        await gone;
        // A killed process leaves its journals in /dev/shm: the harness owns that dir.
        await rm(nodeDir(victims), { recursive: true, force: true });
        return groups[victims]!;
      },
      stop: cleanup,
      logTails: () => procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.out.slice(-2000)}`).join('\n')
        + `\n${runningNats.logTail()}`,
    };
  } catch (err) {
    const tails = procs.map((p) => `--- ${p.name}\n${p.out.slice(-2000)}`).join('\n');
    await cleanup();
    throw new Error(`${(err as Error).message}\n${tails}`);
  }
}

/** startHollow starts hollow process `i` with `nodes` nodes named `<prefix><n>`, connected with `nats` and `seed`. */
function startHollow(o: ScaleClusterOptions, i: number, nodes: number, prefix: string, nats: string[], seed: string): Proc {
  return start(`hollow ${prefix}`, [
    'hollow', '--nodes', String(nodes), '--prefix', prefix, ...nats, '--creds', seed,
    '--node-dir', nodeDir(i), '--start-delay-ms', String(o.startDelayMs),
    ...(o.heartbeatMs ? ['--heartbeat-ms', String(o.heartbeatMs)] : []),
  ], o.dir);
}

const SHM = '/dev/shm';
const NODE_DIR_PREFIX = 'gitcell-scale-';

/** nodeDir is hollow process `i`'s journal dir: on tmpfs, named by this harness's pid. */
function nodeDir(i: number): string {
  return join(SHM, `${NODE_DIR_PREFIX}${process.pid}-${i}`);
}

/**
 * sweepDeadHarnessDirs removes the journal dirs of harnesses that are gone: one killed with -9 (or a
 * CI job whose process group was killed) cannot remove its own, and they are RAM.
 */
async function sweepDeadHarnessDirs(): Promise<void> {
  for (const name of await readdir(SHM).catch(() => [] as string[])) {
    const m = new RegExp(`^${NODE_DIR_PREFIX}(\\d+)-\\d+$`).exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    await rm(join(SHM, name), { recursive: true, force: true });
  }
}

/** waitApplied waits for the reconciler's sync status to name `revision` as applied. */
async function waitApplied(store: ClusterStore<DesiredRecord, SyncRecord>, revision: string, procs: Proc[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    for (const p of procs) if (p.child.exitCode !== null) throw new Error(`scale: ${p.name} exited (${p.child.exitCode})`);
    const records = await store.sync.list();
    if (records.some((r) => r.value.kind === 'SyncStatus' && r.value.lastAppliedRevision === revision)) return;
    if (Date.now() > deadline) throw new Error(`scale: the reconciler did not apply ${revision} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** procStats reads a process's peak RSS (MiB) and CPU time (s) from /proc. */
export function procStats(pid: number): { peakRssMb: number; cpuS: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { peakRssMb: hwm, cpuS: (Number(f[11]) + Number(f[12])) / 100 };
  } catch {
    return { peakRssMb: NaN, cpuS: NaN };
  }
}
