// The OCI runtime spec (config.json) of a container: ONE default, `defaultSpec()`, plus the task.
// Like runc's specconv `Example()`, the default is the base of every conversion and of most tests, so
// a security default changes in exactly one place. `buildSpec` is pure: resolved task in, spec out.
import { DEFAULT_CAPABILITIES } from './capabilities.ts';
import { DEFAULT_RLIMITS, type Rlimit } from './rlimits.ts';
import { seccompProfile, type LinuxSeccomp } from './seccomp.ts';

export { DEFAULT_CAPABILITIES };

/** OciMount is one entry of config.json "mounts". */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** OciSpec is the subset of the OCI runtime spec 1.0.2 that gitcell writes. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] };
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    cgroupsPath?: string;
    resources: {
      devices: { allow: boolean; access: string; type?: string; major?: number; minor?: number }[];
      memory?: { limit?: number; swap?: number };
      cpu?: { shares?: number; quota?: number; period?: number };
      pids?: { limit: number };
    };
    namespaces: { type: string; path?: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: LinuxSeccomp;
  };
}


/** DEFAULT_PATH is the PATH a container gets when its image sets none (Docker's). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** DEFAULT_PIDS_LIMIT bounds processes per container unless the task says otherwise (fork bombs). */
export const DEFAULT_PIDS_LIMIT = 4096;

/**
 * defaultSpec returns the canonical container spec: new pid/mount/uts/ipc/network namespaces, Docker's
 * default capabilities, no_new_privileges, default rlimits, masked and read-only /proc paths, the
 * allow-list seccomp profile, no devices beyond runc's defaults, and the standard /proc, /dev, /sys mounts. Every container starts
 * from this object; buildSpec only fills in the task.
 */
export function defaultSpec(): OciSpec {
  const caps = [...DEFAULT_CAPABILITIES];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [],
      env: [`PATH=${DEFAULT_PATH}`],
      cwd: '/',
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      // runc sets them before the task runs: nothing of the agent's own limits leaks in (rlimits.ts).
      rlimits: DEFAULT_RLIMITS.map((r) => ({ ...r })),
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'gitcell',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }], pids: { limit: DEFAULT_PIDS_LIMIT } },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
        '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      seccomp: seccompProfile(caps),
    },
  };
}

/** ExtraMount is a task's own mount: a bind (read-only unless said otherwise) or a tmpfs. */
export type ExtraMount =
  | { type: 'bind'; source: string; destination: string; readonly?: boolean }
  | { type: 'tmpfs'; destination: string; sizeBytes?: number; mode?: number };

/**
 * ContainerResources are what a container gets of the host beyond its image: cgroup limits, extra
 * mounts and a network namespace. Callers ask for them (ContainerOptions) and buildSpec applies
 * them as given (ContainerSpec), so they are declared once here.
 */
export interface ContainerResources {
  memoryBytes?: number;
  /** cpuMillis is the CPU quota in millicores (500 = half a CPU). */
  cpuMillis?: number;
  cpuShares?: number;
  pidsLimit?: number;
  mounts?: ExtraMount[];
  /** netnsPath joins an existing network namespace (e.g. one the agent attached with CNI). */
  netnsPath?: string;
}

/** ContainerSpec is a fully resolved container (not the control plane's api TaskSpec): what buildSpec adds to defaultSpec(). */
export interface ContainerSpec extends ContainerResources {
  rootfs: string;
  /** rootfsMount is mounted on the rootfs before everything else (the container's overlay). */
  rootfsMount?: OciMount;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids?: number[];
  hostname: string;
  cgroupsPath: string;
  annotations?: Record<string, string>;
  /** readonlyRootfs mounts the root file system read-only (Kubernetes' readOnlyRootFilesystem). */
  readonlyRootfs?: boolean;
  /** capabilities replaces the bounding set (see applyCapabilities); the seccomp profile follows it. */
  capabilities?: string[];
  /** rlimits replaces DEFAULT_RLIMITS (the manager clamps them to what it may set: containerRlimits). */
  rlimits?: Rlimit[];
}

/** CPU_PERIOD_US is the CFS period the quota is expressed against (100 ms, as Docker). */
export const CPU_PERIOD_US = 100_000;

/** buildSpec returns defaultSpec() completed with the task; it never mutates its input. */
export function buildSpec(task: ContainerSpec, base: OciSpec = defaultSpec()): OciSpec {
  const spec: OciSpec = structuredClone(base);
  spec.root.path = task.rootfs;
  spec.hostname = task.hostname;
  spec.process.args = [...task.args];
  spec.process.env = [...task.env];
  spec.process.cwd = task.cwd;
  spec.process.user = { uid: task.uid, gid: task.gid, ...(task.additionalGids?.length ? { additionalGids: [...task.additionalGids] } : {}) };
  if (task.capabilities) {
    const caps = [...task.capabilities];
    spec.process.capabilities = { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] };
    spec.linux.seccomp = seccompProfile(caps);
  }
  if (task.readonlyRootfs) spec.root.readonly = true;
  if (task.rlimits) spec.process.rlimits = task.rlimits.map((r) => ({ ...r }));
  if (task.uid !== 0) {
    // A non-root process keeps the bounding set but starts without privileges, as Docker does.
    spec.process.capabilities.effective = [];
    spec.process.capabilities.permitted = [];
  }
  spec.linux.cgroupsPath = task.cgroupsPath;
  const res = spec.linux.resources;
  if (task.memoryBytes !== undefined) res.memory = { limit: task.memoryBytes, swap: task.memoryBytes }; // swap = limit: no swap on top
  const shares = task.cpuShares ?? (task.cpuMillis !== undefined ? Math.max(2, Math.round((task.cpuMillis * 1024) / 1000)) : undefined);
  if (task.cpuMillis !== undefined || shares !== undefined) {
    res.cpu = {
      ...(shares !== undefined ? { shares } : {}),
      ...(task.cpuMillis !== undefined ? { quota: Math.max(1000, Math.round((task.cpuMillis * CPU_PERIOD_US) / 1000)), period: CPU_PERIOD_US } : {}),
    };
  }
  if (task.pidsLimit !== undefined) res.pids = { limit: task.pidsLimit };
  if (task.netnsPath) {
    spec.linux.namespaces = spec.linux.namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: task.netnsPath } : ns));
  }
  if (task.rootfsMount) spec.mounts.unshift(structuredClone(task.rootfsMount));
  for (const m of task.mounts ?? []) spec.mounts.push(toOciMount(m));
  if (task.annotations) spec.annotations = { ...task.annotations };
  return spec;
}

/** toOciMount converts an ExtraMount; binds are nosuid,nodev and read-only by default. */
export function toOciMount(m: ExtraMount): OciMount {
  if (m.type === 'bind') {
    return { destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'nosuid', 'nodev', m.readonly === false ? 'rw' : 'ro'] };
  }
  const options = ['nosuid', 'nodev', 'noexec', `mode=${(m.mode ?? 0o755).toString(8).padStart(4, '0')}`];
  if (m.sizeBytes !== undefined) options.push(`size=${m.sizeBytes}`);
  return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options };
}
