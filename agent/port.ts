/**
 * TaskRuntime is what the agent needs from the container runtime, in the agent's words. The
 * adapter in runtime-adapter.ts implements it with runtime/'s ImageStore, Snapshotter and
 * ContainerManager; keeping the agent on this narrow port keeps its logic readable and lets the
 * runtime evolve behind one file.
 */
import { createHash } from 'node:crypto';
import type { NodeCondition, ResolvedProbe, TaskSecurityContext } from '../api/index.ts';
import type { ProbeKind } from './probe.ts';
import type { ProbeOutcome } from './probe-exec.ts';

/** containerName makes a container name (at most 64 characters) from a task id and attempt. */
export function containerName(taskId: string, attempt: number): string {
  const suffix = `_${attempt}`;
  if (taskId.length + suffix.length <= 64) return `${taskId}${suffix}`;
  const h = createHash('sha256').update(taskId).digest('hex').slice(0, 10);
  return `${taskId.slice(0, 64 - suffix.length - 11)}-${h}${suffix}`;
}

/** ANNOTATION_TASK and ANNOTATION_HASH tag a container with its task, so a restarted agent knows it. */
export const ANNOTATION_TASK = 'io.gitcell.task';
export const ANNOTATION_HASH = 'io.gitcell.template-hash';

/** ContainerView is one container as listed by the runtime. */
export interface ContainerView {
  id: string;
  /** `stopped` = the process exited; `created` = set up but not started */
  status: 'created' | 'running' | 'paused' | 'stopped';
  pid?: number;
  annotations: Record<string, string>;
  /** epoch ms */
  createdAt: number;
}

/** ExitInfo is how a container's process ended. */
export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
  /** signal that killed it, if any ("SIGKILL") */
  signal?: string;
}

/** RunRequest is one container to create and start for a task. */
export interface RunRequest {
  id: string;
  image: string;
  command?: string[];
  args?: string[];
  env: { name: string; value: string }[];
  /** secretEnv are values opened from Secrets: they override `env` and never reach the node's disk */
  secretEnv?: { name: string; value: string }[];
  workingDir?: string;
  user?: string;
  hostname: string;
  memoryBytes?: number;
  cpuMillis?: number;
  /** an existing network namespace to join; absent: the container gets its own (loopback up) */
  netnsPath?: string;
  /**
   * onCreated runs once the container exists and before its process starts, with that process's
   * pid: the agent attaches the container's own network namespace (/proc/PID/ns/net) to the node's
   * network there. Its failure fails the start.
   */
  onCreated?: (pid: number) => Promise<void>;
  annotations: Record<string, string>;
  /** the template's securityContext (runAsUser is already folded into `user`) */
  securityContext?: TaskSecurityContext;
  /** read-only bind mounts (the task's secret files, from a tmpfs on the node) */
  mounts?: { source: string; destination: string }[];
  /** the task's resolver: the node's cluster DNS and the namespace's search path (absent: the host's) */
  dns?: TaskDns;
}

/**
 * ServicesPort is what the node's Services module (agent/services.ts) tells the rest of the agent:
 * the node conditions to report, the resolver of a new task, and when a stopping task may get its
 * SIGTERM (once it left the endpoints).
 */
export interface ServicesPort {
  conditions(): NodeCondition[];
  dnsFor(namespace: string): TaskDns | undefined;
  beforeStop(taskId: string): Promise<void>;
}

/** TaskDns is what a task's /etc/resolv.conf says: nameservers, search path, options. */
export interface TaskDns {
  nameservers: string[];
  search: string[];
  options: string[];
}

/**
 * ImagePull says how a task's image may be fetched: its pull policy (default: Always for `:latest`,
 * else IfNotPresent) and registry credentials by host[:port] (from its pull Secrets).
 */
export interface ImagePull {
  policy?: 'Always' | 'IfNotPresent' | 'Never';
  auths?: ReadonlyMap<string, { username: string; password: string }>;
  /** told once a pull of the image begins (also when the task joins a pull already under way) */
  onPull?: () => void;
}

/** ImageOutcome tells whether ensureImage pulled (and from which registry or mirror). */
export interface ImageOutcome {
  pulled: boolean;
  from?: string;
}

/** TaskRuntime is the agent's port to a container runtime. Every method is safe to repeat after a crash. */
export interface TaskRuntime {
  /**
   * ensureImage makes the image available locally as `pull` says (pulling when missing, or when the
   * tag moved under Always); E_IMAGE_NOT_FOUND, E_IMAGE_NOT_PRESENT (Never), E_REGISTRY_* errors.
   */
  ensureImage(ref: string, pull?: ImagePull): Promise<ImageOutcome | void>;
  /** close lets go of what watches the containers (their exits), so a stopping agent's process can end; they keep running. */
  close?(): void;
  /** run creates and starts a container and returns its process id. */
  run(req: RunRequest): Promise<{ pid: number }>;
  /**
   * list returns this node's containers. A container's view is a new object whenever the container
   * changes, never changed in place: a quiet node's resync compares the views by identity
   * (convergence.ts); a runtime that cannot tell hands out fresh views (every full pass then).
   */
  list(): Promise<ContainerView[]>;
  /** wait resolves when the container's process has exited (also for adopted containers). */
  wait(id: string): Promise<ExitInfo>;
  /** kill sends a signal to the container's process; a stopped or missing container is fine. */
  kill(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** remove deletes the container: process, mounts, cgroup and files. Idempotent. */
  remove(id: string): Promise<void>;
  /** exec runs a command inside the container and returns its exit code. */
  exec(id: string, argv: string[], timeoutMs: number): Promise<number>;
  /** logDir is the directory of the container's log files (runtime/container's format), if it exists. */
  logDir(id: string): string | undefined;
  /** cgroupPath is the container's cgroup, relative to the hierarchy roots. */
  cgroupPath(id: string): string;
  /** images lists the image references present locally. */
  images(): Promise<string[]>;
  /**
   * probe, when present, answers a task's probes itself: the in-memory runtime (memory-runtime.ts)
   * has no processes or addresses to probe. Without it the agent probes the task's IP from the node
   * and runs exec probes through `exec`, as kubelet does.
   */
  probe?(id: string, kind: ProbeKind, probe: ResolvedProbe): Promise<ProbeOutcome>;
}

/**
 * TaskNetwork is what the agent needs from the node's network: a namespace and an address per task,
 * kept across restarts of the task. runtime/'s NetworkManager (CNI) implements it, and so does the
 * in-memory MemoryNetwork. Every method is idempotent.
 */
export interface TaskNetwork {
  /**
   * setup gives the task its namespace and address (the same ones again when they exist). With
   * `netnsPath` (a created container's namespace) it attaches that one, keeping the task's previous
   * address when it can.
   */
  setup(taskId: string, opts?: { netnsPath?: string }): Promise<{ ip: string; netnsPath: string }>;
  /** get returns the task's address, if it has one. */
  get(taskId: string): Promise<{ ip: string } | undefined>;
  /** teardown takes the namespace and address back; a task without them is fine. */
  teardown(taskId: string): Promise<void>;
}
