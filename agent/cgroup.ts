/**
 * Per-task CPU and memory usage (and OOM kills) from the task's cgroup, on cgroup v1 (separate
 * cpuacct and memory hierarchies) and v2 (one unified tree). CPU usage is a rate, so the reader
 * keeps the previous sample per cgroup.
 */
import { readFile, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** CgroupSample is one reading of a cgroup. */
export interface CgroupSample {
  cpuNanos: number;
  memoryBytes: number;
  oomKills: number;
}

const ROOT = '/sys/fs/cgroup';

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

async function readKeyed(path: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    for (const line of (await readFile(path, 'utf8')).split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined) out.set(k, Number(v));
    }
  } catch {
    // missing file: empty map
  }
  return out;
}

/** isCgroupV2 tells whether /sys/fs/cgroup is the unified (v2-only) hierarchy. */
export async function isCgroupV2(): Promise<boolean> {
  try {
    await stat(join(ROOT, 'cgroup.controllers'));
    return true;
  } catch {
    return false;
  }
}

/**
 * readCgroup samples cgroup `path` (relative, e.g. "gitcell/node-1/task"); undefined when the cgroup
 * does not exist. Memory is the working set (usage minus inactive file cache), as kubelet reports.
 */
export async function readCgroup(path: string): Promise<CgroupSample | undefined> {
  if (await isCgroupV2()) {
    const dir = join(ROOT, path);
    const cpu = await readKeyed(join(dir, 'cpu.stat'));
    const mem = await readNumber(join(dir, 'memory.current'));
    if (mem === undefined && !cpu.size) return undefined;
    const mstat = await readKeyed(join(dir, 'memory.stat'));
    const events = await readKeyed(join(dir, 'memory.events'));
    return {
      cpuNanos: (cpu.get('usage_usec') ?? 0) * 1000,
      memoryBytes: Math.max(0, (mem ?? 0) - (mstat.get('inactive_file') ?? 0)),
      oomKills: events.get('oom_kill') ?? 0,
    };
  }
  const cpu = (await readNumber(join(ROOT, 'cpuacct', path, 'cpuacct.usage'))) ?? (await readNumber(join(ROOT, 'cpu,cpuacct', path, 'cpuacct.usage')));
  const mem = await readNumber(join(ROOT, 'memory', path, 'memory.usage_in_bytes'));
  if (cpu === undefined && mem === undefined) return undefined;
  const mstat = await readKeyed(join(ROOT, 'memory', path, 'memory.stat'));
  const oom = await readKeyed(join(ROOT, 'memory', path, 'memory.oom_control'));
  return {
    cpuNanos: cpu ?? 0,
    memoryBytes: Math.max(0, (mem ?? 0) - (mstat.get('total_inactive_file') ?? 0)),
    oomKills: oom.get('oom_kill') ?? 0,
  };
}

/** cpuMillisBetween turns two samples taken `elapsedMs` apart into millicores used. */
export function cpuMillisBetween(prev: CgroupSample, next: CgroupSample, elapsedMs: number): number {
  if (elapsedMs <= 0 || next.cpuNanos < prev.cpuNanos) return 0;
  return Math.round((next.cpuNanos - prev.cpuNanos) / 1e6 / elapsedMs * 1000);
}

/**
 * usageMoved tells whether a task's usage changed enough to report it again in its status: by 10 %
 * and at least 10 millicores of CPU, or by 10 % and at least 1 MiB of memory. A status write per
 * running task every sample (every 10 s: 10 writes/s for 100 idle tasks) is what it saves.
 */
export function usageMoved(reported: { cpuMillis: number; memoryBytes: number } | undefined, next: { cpuMillis: number; memoryBytes: number }): boolean {
  if (!reported) return true;
  const moved = (a: number, b: number, floor: number): boolean => Math.abs(a - b) >= Math.max(floor, 0.1 * Math.max(a, b));
  return moved(reported.cpuMillis, next.cpuMillis, 10) || moved(reported.memoryBytes, next.memoryBytes, 1 << 20);
}

/** cgroupDirs lists the directories of cgroup `path` in every mounted hierarchy (v1) or the unified one. */
export async function cgroupDirs(path: string): Promise<string[]> {
  if (await isCgroupV2()) return [join(ROOT, path)];
  const names = ['cpu', 'cpuacct', 'cpu,cpuacct', 'memory', 'pids', 'blkio', 'devices', 'freezer', 'net_cls', 'net_prio', 'net_cls,net_prio', 'perf_event', 'hugetlb', 'cpuset', 'rdma', 'misc', 'systemd', 'unified'];
  const out: string[] = [];
  for (const n of names) {
    const dir = join(ROOT, n, path);
    try {
      if ((await stat(dir)).isDirectory()) out.push(dir);
    } catch {
      // not mounted or not there
    }
  }
  return out;
}

/** removeCgroup removes the (empty) directories of cgroup `path`; missing ones are fine. */
export async function removeCgroup(path: string): Promise<void> {
  for (const dir of await cgroupDirs(path)) {
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
