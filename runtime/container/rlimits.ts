// Resource limits (setrlimit) of a container's process. Every container gets DEFAULT_RLIMITS, so
// nothing of the agent's own limits leaks in; a hard limit is lowered to the agent's own when the
// agent cannot raise it (raising needs CAP_SYS_RESOURCE, which root lacks on some machines: runc
// would then fail every start with "error setting rlimits").
import { readFileSync } from 'node:fs';

/** Rlimit is one entry of config.json process.rlimits. */
export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

/**
 * DEFAULT_RLIMITS: open files 1024 soft (select(2)-safe) and 1048576 hard, as containerd sets them;
 * processes per user bounded (the pids cgroup bounds each container, this bounds a uid that several
 * share); no core files (a core_pattern pipe would run a host helper on the task's behalf).
 */
export const DEFAULT_RLIMITS: readonly Rlimit[] = [
  { type: 'RLIMIT_NOFILE', soft: 1024, hard: 1048576 },
  { type: 'RLIMIT_NPROC', soft: 16384, hard: 16384 },
  { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
];

/** LIMIT_NAMES maps /proc/<pid>/limits row names to RLIMIT_ types. */
const LIMIT_NAMES: Record<string, string> = {
  'Max open files': 'RLIMIT_NOFILE', 'Max processes': 'RLIMIT_NPROC', 'Max core file size': 'RLIMIT_CORE', 'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max stack size': 'RLIMIT_STACK', 'Max file size': 'RLIMIT_FSIZE', 'Max data size': 'RLIMIT_DATA', 'Max address space': 'RLIMIT_AS',
};

/** parseProcLimits reads /proc/<pid>/limits text into hard limits per RLIMIT_ type (Infinity for unlimited). */
export function parseProcLimits(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const name = Object.keys(LIMIT_NAMES).find((n) => line.startsWith(n));
    if (!name) continue;
    const [, hard] = line.slice(name.length).trim().split(/\s+/);
    out.set(LIMIT_NAMES[name]!, hard === 'unlimited' ? Infinity : Number(hard));
  }
  return out;
}

/** clampRlimits lowers each hard (and soft) limit to `ceilings`' hard limit of that type. Pure. */
export function clampRlimits(wanted: readonly Rlimit[], ceilings: ReadonlyMap<string, number>): Rlimit[] {
  return wanted.map((r) => {
    const max = ceilings.get(r.type) ?? Infinity;
    const hard = Math.min(r.hard, max);
    return { type: r.type, soft: Math.min(r.soft, hard), hard };
  });
}

/** containerRlimits is DEFAULT_RLIMITS clamped to what this process (runc's ancestor) may set. */
export function containerRlimits(): Rlimit[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    // no /proc: the defaults as they are
  }
  return clampRlimits(DEFAULT_RLIMITS, parseProcLimits(text));
}
