// Cgroup naming and inspection, for cgroup v1 (and the hybrid layout of this machine) and v2. runc
// writes the limits from config.json; gitcell chooses the path, reads OOM kills, and cleans up what a
// crashed runc left behind. Every gitcell cgroup lives below a parent starting with "gitcell" so a
// leak names its owner.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** CGROUP_ROOT is where the cgroup file systems are mounted. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** cgroupVersion tells a pure v2 host (cgroup.controllers at the root) from v1 or hybrid ones. */
export function cgroupVersion(root = CGROUP_ROOT): 'v1' | 'v2' {
  return fs.existsSync(join(root, 'cgroup.controllers')) ? 'v2' : 'v1';
}

/** DEFAULT_CGROUP_PARENT is the parent of containers whose caller names none. */
export const DEFAULT_CGROUP_PARENT = 'gitcell';

/**
 * validateCgroupParent checks a caller's parent ("gitcell" or "gitcell/<node>/..."): relative,
 * clean components, and starting with "gitcell" so leaked cgroups are identifiable.
 */
export function validateCgroupParent(parent: string): string {
  const parts = parent.split('/');
  if (!parts[0]?.startsWith('gitcell') || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p) || p === '.' || p === '..')) {
    throw new RuntimeError(ErrorCodes.ContainerInvalid, `cgroupParent "${parent}" must be "gitcell" or "gitcell<suffix>/<name>/..." of [A-Za-z0-9_.-] components`, { field: 'cgroupParent', value: parent });
  }
  return parent;
}

/** cgroupsPathOf is the OCI linux.cgroupsPath of a container: absolute below each hierarchy root. */
export function cgroupsPathOf(parent: string, id: string): string {
  return `/${validateCgroupParent(parent)}/${id}`;
}

/** oomEventsFile is the file whose `oom_kill N` line counts OOM kills in the container's cgroup. */
export function oomEventsFile(cgroupsPath: string, root = CGROUP_ROOT): string {
  return cgroupVersion(root) === 'v2' ? join(root, cgroupsPath, 'memory.events') : join(root, 'memory', cgroupsPath, 'memory.oom_control');
}

/** parseOomKills reads the `oom_kill N` counter of memory.oom_control (v1) or memory.events (v2). */
export function parseOomKills(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** cgroupDirs lists the directories of a cgroup path in every mounted hierarchy that has it. */
export function cgroupDirs(cgroupsPath: string, root = CGROUP_ROOT): string[] {
  if (cgroupVersion(root) === 'v2') return [join(root, cgroupsPath)];
  let hier: string[] = [];
  try {
    hier = fs.readdirSync(root).filter((h) => fs.lstatSync(join(root, h)).isDirectory());
  } catch {
    return [];
  }
  return hier.map((h) => join(root, h, cgroupsPath)).filter((d) => fs.existsSync(d));
}

/**
 * removeCgroup removes a container's (empty) cgroup directories in every hierarchy, deepest first,
 * and returns those it could not remove (still populated). runc delete normally does this; this is
 * the fallback for a runc that died mid-way.
 */
export function removeCgroup(cgroupsPath: string, root = CGROUP_ROOT): string[] {
  const left: string[] = [];
  for (const dir of cgroupDirs(cgroupsPath, root)) {
    const all = walkDirs(dir).reverse();
    for (const d of all) {
      try {
        fs.rmdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left.push(d);
      }
    }
  }
  return left;
}

/**
 * removeCgroupParent removes a caller's parent (e.g. `gitcell/up-3f9a1c0b/node-1`) once its
 * containers are gone, then each ancestor left empty except the first, `gitcell`, which every
 * caller on the machine shares: the last agent of a `gitcell up` cluster to stop takes the
 * cluster's `gitcell/up-<tag>` with it, whoever else stopped first or was killed. Returns the
 * directories still populated.
 */
export function removeCgroupParent(parent: string, root = CGROUP_ROOT): string[] {
  const parts = validateCgroupParent(parent).split('/');
  const left = removeCgroup(`/${parent}`, root);
  let emptied = left.length === 0;
  for (let n = parts.length - 1; n >= 2 && emptied; n--) {
    for (const dir of cgroupDirs(`/${parts.slice(0, n).join('/')}`, root)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        emptied = false; // another node of the cluster still runs here: it removes the rest
      }
    }
  }
  return left;
}

function walkDirs(dir: string): string[] {
  const out = [dir];
  let names: fs.Dirent[] = [];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const n of names) if (n.isDirectory()) out.push(...walkDirs(join(dir, n.name)));
  return out;
}

/** listCgroups returns every directory below `/<parent>` in every hierarchy (for leak checks). */
export function listCgroups(parent: string, root = CGROUP_ROOT): string[] {
  return cgroupDirs(`/${parent}`, root).flatMap((d) => walkDirs(d).slice(1));
}

/** ParentLimits are what a cgroup parent (one node's containers) may use in total. */
export interface ParentLimits {
  /** cpuMillis becomes a CFS quota over CPU_PERIOD_US (2000 = two CPUs' worth). */
  cpuMillis: number;
  memoryBytes: number;
}

/** PARENT_CPU_PERIOD_US is the CFS period of a parent's quota (100 ms, as for containers). */
export const PARENT_CPU_PERIOD_US = 100_000;

/** parentLimitFiles is the pure plan: which file gets which value, for v1 (hybrid too) or v2. */
export function parentLimitFiles(parent: string, limits: ParentLimits, version: 'v1' | 'v2', root = CGROUP_ROOT): { path: string; value: string }[] {
  const quota = String(Math.max(1000, Math.round((limits.cpuMillis * PARENT_CPU_PERIOD_US) / 1000)));
  const mem = String(limits.memoryBytes);
  if (version === 'v2') {
    const dir = join(root, validateCgroupParent(parent));
    return [{ path: join(dir, 'cpu.max'), value: `${quota} ${PARENT_CPU_PERIOD_US}` }, { path: join(dir, 'memory.max'), value: mem }];
  }
  const cpuDir = join(root, 'cpu', validateCgroupParent(parent));
  return [
    { path: join(cpuDir, 'cpu.cfs_period_us'), value: String(PARENT_CPU_PERIOD_US) },
    { path: join(cpuDir, 'cpu.cfs_quota_us'), value: quota },
    { path: join(root, 'memory', parent, 'memory.limit_in_bytes'), value: mem },
  ];
}

/**
 * limitCgroupParent caps everything below `parent` (a node's containers) at `limits`, the way
 * kubelet caps its kubepods cgroup at the node's allocatable: one task, or all of them together,
 * cannot take more CPU or memory than the node offers the scheduler. Creates the parent in each
 * hierarchy (on v2 it enables the cpu and memory controllers down the path first) and writes the
 * limits; returns the files written. E_CGROUP_LIMIT names the file when a write is refused (e.g. a
 * memory limit below what the running containers already use).
 */
export function limitCgroupParent(parent: string, limits: ParentLimits, root = CGROUP_ROOT): string[] {
  if (!(limits.cpuMillis > 0) || !(limits.memoryBytes > 0)) {
    throw new RuntimeError(ErrorCodes.ContainerInvalid, `cgroup parent ${parent}: limits must be positive (cpu ${limits.cpuMillis}m, memory ${limits.memoryBytes} bytes)`, { parent });
  }
  const version = cgroupVersion(root);
  if (version === 'v2') enableControllers(root, parent, ['cpu', 'memory']);
  const plan = parentLimitFiles(parent, limits, version, root);
  for (const { path, value } of plan) {
    fs.mkdirSync(join(path, '..'), { recursive: true });
    try {
      fs.writeFileSync(path, value);
    } catch (err) {
      throw new RuntimeError(ErrorCodes.CgroupLimit, `cannot limit cgroup parent ${parent}: writing ${value} to ${path} failed: ${(err as Error).message}`, { parent, path, value });
    }
  }
  return plan.map((p) => p.path);
}

/** enableControllers turns controllers on in cgroup.subtree_control of the root and every ancestor of `parent` (v2). */
function enableControllers(root: string, parent: string, controllers: string[]): void {
  const parts = validateCgroupParent(parent).split('/');
  let dir = root;
  for (let i = 0; i < parts.length; i++) {
    fs.writeFileSync(join(dir, 'cgroup.subtree_control'), controllers.map((c) => `+${c}`).join(' '));
    dir = join(dir, parts[i]!);
    fs.mkdirSync(dir, { recursive: true });
  }
}
