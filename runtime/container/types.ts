// The container manager's types (container.json's record, its live view, exit status, options),
// apart from manager.ts so the lifecycle file stays readable.
import type { ImageStore } from '../image/index.ts';
import type { Snapshotter } from '../snapshot/index.ts';
import type { Logger } from '../../lib/log.ts';

/** ContainerStatus: created (not started), starting, running, exited, or unknown (monitor lost). */
export type ContainerStatus = 'created' | 'starting' | 'running' | 'exited' | 'unknown';

/** ExitStatus is how a container ended; oomKilled when the kernel's OOM killer fired in its cgroup. */
export interface ExitStatus {
  exitCode: number;
  oomKilled: boolean;
  finishedAt: string;
}

/** ContainerRecord is container.json: what was decided at create time. */
export interface ContainerRecord {
  id: string;
  name: string;
  image: { ref: string; manifestDigest: string; chainIds: string[] };
  createdAt: string;
  args: string[];
  hostname: string;
  cgroupsPath: string;
  oomFile: string;
  limits: { memoryBytes?: number; cpuMillis?: number; pidsLimit?: number };
  labels: Record<string, string>;
  log: { maxBytes: number; keep: number };
  /** bundle is the directory of config.json when it is not the container's own (bundle.ts). */
  bundle?: string;
}

/** ContainerInfo is a record plus its live status. */
export interface ContainerInfo extends ContainerRecord {
  status: ContainerStatus;
  pid?: number;
  exit?: ExitStatus;
}

/** StartHooks: what a caller does between `runc create` and the start of the container's process. */
export interface StartHooks {
  /** called with the created process's pid (`/proc/PID/ns/...` are the container's namespaces) */
  onCreated?: (pid: number) => Promise<void>;
}

/** ContainerManagerOptions: the runtime root, and optionally shared image store, snapshotter, logger. */
export interface ContainerManagerOptions {
  root: string;
  images?: ImageStore;
  snapshots?: Snapshotter;
  cgroupParent?: string;
  log?: Logger;
  runc?: string;
  /** the per-start files' directory (default: stateRootOf(root), on a tmpfs: state-root.ts) */
  stateRoot?: string;
  /** the conmon binary (default: findConmon(), looked up at the first start) */
  conmon?: string;
  /**
   * keep the next container's conmon exec'd and waiting (warm-monitor.ts): a start without conmon's
   * own start, for one idle conmon (~1 MB). For long-lived owners (the agent), not one-shot commands.
   */
  warmMonitor?: boolean;
}

/** DEFAULT_LOG_LIMITS: each stream rotates at 10 MiB, keeping 3 old files. */
export const DEFAULT_LOG_LIMITS = { maxBytes: 10 * 1024 * 1024, keep: 3 };
