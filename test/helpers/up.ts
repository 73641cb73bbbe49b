/**
 * Helpers of the end-to-end tests that drive the real `gitcell up` (a child process) through real
 * `git` commits: the CLI, the web Job's tasks with their bindings and status, and the check that a
 * stopped `up` left nothing behind on the machine (processes, runc containers, mounts, netns,
 * bridges, cgroups), found through the same names `up` gives them (cli/up/naming.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { ClusterStore } from '../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import type { TaskSpec, TaskStatus } from '../../api/index.ts';
import { cgroupDirs, runcRootOf, stateRootOf } from '../../runtime/index.ts';
import { nodeTableName } from '../../agent/index.ts';
import { processAlive } from '../../lib/process.ts';
import { clusterCgroupParent, clusterTag, nodeBridge, removeClusterCgroups } from '../../cli/up/naming.ts';

/** BIN is the gitcell CLI entry point the e2e tests run. */
export const BIN = new URL('../../cli/bin.js', import.meta.url).pathname;

/** git runs real git in `repo` as an e2e author and returns its trimmed output. */
export function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, '-c', 'user.name=e2e', '-c', 'user.email=e2e@gitcell.invalid', ...args], { encoding: 'utf8' }).trim();
}

/** gitcell runs the real CLI and returns its stdout (throws on a non-zero exit). */
export function gitcell(...args: string[]): string {
  return execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** UpStore is the store as the e2e tests open it. */
export type UpStore = ClusterStore<DesiredRecord, SyncRecord>;

/** JobTask is a task of a Job with the status its node reported, if any. */
export interface JobTask {
  spec: TaskSpec;
  status?: TaskStatus;
}

/** tasksOf lists the tasks of `jobKey` (e.g. "Job/default/web") with their bound node's status. */
export async function tasksOf(store: UpStore, jobKey: string): Promise<JobTask[]> {
  const [tasks, bindings, statuses] = await Promise.all([store.tasks.list(), store.bindings.list(), store.status.list()]);
  const nodeOf = new Map(bindings.map((b) => [b.key, b.value.node]));
  const statusOf = new Map(statuses.map((s) => [s.key, s.value]));
  return tasks
    .filter((t) => t.value.jobKey === jobKey)
    .map((t) => {
      const node = nodeOf.get(t.key);
      const status = node ? statusOf.get(`${node}.${t.key}`) : undefined;
      return { spec: t.value, ...(status ? { status } : {}) };
    });
}

/** webSettled: exactly `n` web tasks, all of template `hash` (any when undefined), running and ready; their hash. */
export async function webSettled(store: UpStore, n: number, hash?: string): Promise<string | undefined> {
  const web = await tasksOf(store, 'Job/default/web');
  if (web.length !== n) return undefined;
  const hashes = new Set(web.map((t) => t.spec.templateHash));
  if (hashes.size !== 1 || (hash && !hashes.has(hash))) return undefined;
  if (!web.every((t) => t.status?.state === 'running' && t.status.ready)) return undefined;
  return [...hashes][0];
}

/** ClusterParts: what a `gitcell up` on a state dir holds on the machine now, found by the names up gives it. */
interface ClusterParts {
  nodes: string[];
  /** each node's runtime state (runc's root, pid and exit files): a tmpfs dir outside the state dir */
  stateRoots: string[];
  /** per node with containers: runc's root and the container ids */
  containers: Array<{ node: string; root: string; ids: string[] }>;
  /** task namespaces, and with --isolated-nodes each node's own (gcm-) */
  netns: string[];
  /** links that exist: the underlay bridge (gcu, --isolated-nodes) and each node's bridge */
  links: Array<{ link: string; what: string }>;
  /** the nodes' Services tables that exist in this namespace (with --isolated-nodes they go with the node's own) */
  tables: Array<{ table: string; node: string }>;
}

/** clusterParts finds what leftovers() reports and removeLeftovers() removes. */
function clusterParts(stateDir: string): ClusterParts {
  const tag = clusterTag(stateDir);
  const nodesDir = join(stateDir, 'nodes');
  const nodes = existsSync(nodesDir) ? readdirSync(nodesDir) : [];
  const runtimeRoots = nodes.map((node) => join(nodesDir, node, 'runtime'));
  const containers = nodes.flatMap((node, i) => {
    const root = runcRootOf(runtimeRoots[i]!);
    const ids = existsSync(root) ? execFileSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean) : [];
    return ids.length ? [{ node, root, ids }] : [];
  });
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`gc-${tag}-`) || n.startsWith(`gcm-${tag}-`));
  const links = [{ link: `gcu${tag}`, what: 'underlay bridge' }, ...nodes.map((node) => ({ link: nodeBridge(stateDir, node), what: `bridge of ${node}` }))].filter((l) => existsSync(`/sys/class/net/${l.link}`));
  const present = execFileSync('/usr/sbin/nft', ['list', 'tables', 'ip'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[2] ?? '');
  const tables = nodes.map((node) => ({ table: nodeTableName(node, join(nodesDir, node)), node })).filter((t) => present.includes(t.table));
  return { nodes, stateRoots: runtimeRoots.map(stateRootOf), containers, netns, links, tables };
}

/**
 * leftovers lists what a `gitcell up` on `stateDir` still holds on the machine: runc containers of
 * its nodes, mounts below the state dir, network namespaces, bridges and cgroups carrying its
 * cluster tag, the nodes' nft tables, and processes whose command line names the state dir. Empty
 * after a clean stop.
 */
export function leftovers(stateDir: string): string[] {
  const p = clusterParts(stateDir);
  const out = p.containers.map((c) => `runc containers of ${c.node}: ${c.ids.join(', ')}`);
  for (const [i, node] of p.nodes.entries()) if (existsSync(p.stateRoots[i]!)) out.push(`runtime state dir of ${node}: ${p.stateRoots[i]}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(stateDir) || p.stateRoots.some((r) => l.includes(r)));
  if (mounts.length) out.push(`mounts: ${mounts.join('; ')}`);
  if (p.netns.length) out.push(`netns: ${p.netns.join(', ')}`);
  for (const l of p.links) out.push(`${l.what}: ${l.link}`);
  for (const t of p.tables) out.push(`nft table ${t.table} of ${t.node}`);
  const cgroups = cgroupDirs(`/${clusterCgroupParent(stateDir)}`);
  if (cgroups.length) out.push(`cgroups: ${cgroups.join(', ')}`);
  for (const [pid, cmd] of processesNaming(stateDir)) out.push(`process ${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 160)}`);
  return out;
}

/** processesNaming lists the processes (pid, command line) whose command line names `dir`. */
function processesNaming(dir: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dir)) out.push([Number(pid), cmd]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * removeLeftovers removes what leftovers() finds, for the after hook of a failed run (a stopped
 * `up` removes its own): the nodes' containers, processes naming the state dirs, mounts, the
 * runtime state dirs, network namespaces, bridges, nft tables and cgroups.
 */
export function removeLeftovers(stateDir: string): void {
  const run = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // gone meanwhile
    }
  };
  const p = clusterParts(stateDir);
  for (const c of p.containers) for (const id of c.ids) run('runc', ['--root', c.root, 'delete', '-f', id]);
  for (const [pid] of [stateDir, ...p.stateRoots].flatMap(processesNaming)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (const dir of [stateDir, ...p.stateRoots]) unmountBelow(dir);
  for (const dir of p.stateRoots) rmSync(dir, { recursive: true, force: true });
  for (const ns of p.netns) run('ip', ['netns', 'delete', ns]);
  for (const l of p.links) run('ip', ['link', 'delete', l.link]);
  for (const t of p.tables) run('/usr/sbin/nft', ['delete', 'table', 'ip', t.table]);
  removeClusterCgroups(stateDir, p.nodes);
}

/** unmountBelow lazily unmounts whatever a failed run left mounted below `dir` (after hooks). */
export function unmountBelow(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(dir));
  for (const m of mounts.sort().reverse()) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      // gone meanwhile
    }
  }
}

/** logTails is the end of `up`'s output and of each component log, for failure messages. */
export function logTails(stateDir: string, output: string): string {
  const dir = join(stateDir, 'logs');
  const logs = existsSync(dir) ? readdirSync(dir) : [];
  const tails = logs.map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').split('\n').slice(-15).join('\n')}`);
  return `gitcell up output:\n${output.slice(-4000)}\n${tails.join('\n')}`;
}

/**
 * interruptUp sends `up` SIGINT (Ctrl-C) and resolves with its exit code once it is gone; after
 * `killAfterMs` it gets SIGKILL and the result is 'killed'. No timer outlives it.
 */
export async function interruptUp(up: ChildProcess, killAfterMs = 180_000): Promise<number | null | 'killed'> {
  if (up.exitCode !== null || up.signalCode !== null) return up.exitCode;
  const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    up.kill('SIGKILL');
  }, killAfterMs);
  up.kill('SIGINT');
  const code = await exited;
  clearTimeout(timer);
  return killed ? 'killed' : code;
}

/** UpRun is a `gitcell up` a test started: the child, its output so far, and a store connection the test may register to close first. */
export interface UpRun {
  child: ChildProcess;
  output(): string;
  /** onStop: closed before `up` is interrupted (the test's own store connection) */
  onStop(close: () => Promise<unknown>): void;
}

/**
 * startUp spawns `gitcell up --cluster-dir stateDir ARGS` with `env` added and collects its output;
 * after the test it closes what onStop registered, interrupts `up` if it still runs, unmounts what
 * is left below the state dir and removes it.
 */
export function startUp(t: { after(fn: () => Promise<void>): void }, stateDir: string, args: string[], env: Record<string, string> = {}): UpRun {
  let output = '';
  const closers: Array<() => Promise<unknown>> = [];
  const child = spawn(process.execPath, [BIN, 'up', '--cluster-dir', stateDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  t.after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) await interruptUp(child);
    unmountBelow(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  });
  return { child, output: () => output, onStop: (close) => closers.push(close) };
}

/** SUBNET_BASES_DIR holds one file per /16 a running test's `up` holds, named by its base, holding the test's pid. */
const SUBNET_BASES_DIR = join(tmpdir(), 'gitcell-test-subnet-bases');

/**
 * reserveSubnetBase picks a `--subnet-base` ("10.X") from 10.first … 10.(first+count-1) that no other
 * test process holds and no host interface uses, and holds it until the test ends. Tests run three
 * files at once: two `up`s on one /16 derive the same subnet for their node-2 (a hash of the name),
 * so one bridge address sits on two bridges and the second node's dnsmasq cannot bind it (CI: the
 * autoscale test's Service never worked and nothing scaled). A hold whose pid is gone is taken over.
 */
export function reserveSubnetBase(t: { after(fn: () => void): void }, first: number, count: number): string {
  mkdirSync(SUBNET_BASES_DIR, { recursive: true });
  const used = new Set(Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address.split('.').slice(0, 2).join('.')));
  const start = randomInt(count);
  for (let i = 0; i < count; i++) {
    const base = `10.${first + ((start + i) % count)}`;
    if (used.has(base)) continue;
    const file = join(SUBNET_BASES_DIR, base);
    if (!holdFile(file)) continue;
    t.after(() => unlinkSync(file));
    return base;
  }
  throw new Error(`no free subnet base in 10.${first}-10.${first + count - 1}: all held by running tests or on host interfaces (${SUBNET_BASES_DIR})`);
}

/** holdFile creates `file` holding this pid, or takes it over from a pid that no longer runs; false if a live process holds it. */
function holdFile(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(file, 'utf8'));
    if (processAlive(pid)) return false;
    try {
      unlinkSync(file);
    } catch {
      // another test took it over first: try again, once
    }
  }
  return false;
}

/** componentInstance is "<pid>.<n>" of a component `up` hosts in a process (cli/up/host.ts): n counts its starts. */
export function componentInstance(stateDir: string, name: string): string {
  return readFileSync(join(stateDir, 'pids', `${name}.instance`), 'utf8').trim();
}

/**
 * crashComponent crashes a component `up` hosts (the reconciler, the scheduler, the dashboard, an
 * agent) as kill -9 of its own process did: its NATS connections close at once and it cleans
 * nothing up (cli/up/host.ts). Returns its instance before the crash.
 */
export function crashComponent(stateDir: string, name: string): string {
  const before = componentInstance(stateDir, name);
  writeFileSync(join(stateDir, 'pids', `${name}.crash`), '');
  return before;
}
