/**
 * The agent's options, edges and shared state. Agent (agent.ts) owns one AgentContext and hands it to
 * each of its parts (watches, heartbeat, store-rebuild recovery, convergence, task lifecycle, probes,
 * usage); the parts keep no state of their own beyond a timer, so a reader finds every piece of
 * mutable agent state here, each with what it means.
 */
import { availableParallelism } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Limiter, Logger } from '../lib/index.ts';
import type { Binding, LivenessRecord, NodeRecord, NodeSpec, Resources, TaskSpec } from '../api/index.ts';
import type { ClusterStore, InformerView, LivenessView, RoBucket } from '../store/index.ts';
import type { Keyring } from '../secrets/index.ts';
import type { BackoffOptions } from './backoff.ts';
import type { Health, ProbeKind } from './probe.ts';
import type { Journal, LocalTask } from './journal.ts';
import type { AgentMetrics } from './metrics.ts';
import type { CgroupSample } from './cgroup.ts';
import type { SecretSource, SecretVolumes } from './secret-volumes.ts';
import type { LogArchive, LogRetention } from './log-archive.ts';
import type { ExitInfo, ServicesPort, TaskNetwork, TaskRuntime } from './port.ts';
import type { TaskLocks } from './task-locks.ts';
import type { SharedFeed } from './shared-feed.ts';
import { DEFAULT_RECOVERY_HOLD_MS } from './recovery.ts';
import type { SecretArrivals } from './secret-arrivals.ts';

/** AgentOptions configure one agent; only node and stateDir are required. */
export interface AgentOptions {
  node: string;
  stateDir: string;
  labels?: Record<string, string>;
  capacity: Resources;
  subnet?: string;
  addresses?: string[];
  versions?: { runc: string; kernel: string };
  /** a fixed lease renewal period (tests); unset or 0, the agent follows the published one (AgentDeps.liveness) */
  heartbeatMs?: number;
  resyncMs?: number;
  probeTickMs?: number;
  usageMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** host:port of /healthz and /metrics; undefined: no HTTP endpoint */
  http?: { host: string; port: number };
  maxTasks?: number;
  /**
   * startConcurrency bounds the task starts in flight (network, image, container; default twice the
   * machine's cores, 4 on 2): 50 starts at once ran ~200 processes together and every one of them, the
   * agent's own event loop included, waited on the CPU; a bound lets the first tasks run early. A start
   * costs ~150 ms of CPU in its children (runc, conmon, CNI plugins): 8 at once on 2 cores was no
   * faster than 4 (50 starts, 4 runs alternating, load 7..15).
   */
  startConcurrency?: number;
  /**
   * storeIncarnation names the store this agent talks to (store/incarnation.ts). When it differs from
   * the one recorded in the state dir, NATS lost its data: running tasks are held (recovery.ts).
   */
  storeIncarnation?: string;
  /** how long a held task nobody claims keeps running after a store rebuild (default 5 min) */
  recoveryHoldMs?: number;
  /** how long a start waits for its Secrets to reach this node before it fails (default SECRET_WAIT_MS, 3 s; 0: fail at once) */
  secretWaitMs?: number;
  /**
   * export the process's own metrics (CPU, heap, GC, event loop) in /metrics (default true); hollow
   * nodes share one process, whose metrics thousands of registries would only repeat
   */
  processMetrics?: boolean;
  /** how many attempts' logs, and how many bytes of them, the node keeps after their containers are gone */
  logRetention?: Partial<LogRetention>;
}

/** ResolvedAgentOptions are AgentOptions with every timing and limit filled in. */
export type ResolvedAgentOptions = Required<Omit<AgentOptions, 'heartbeatMs' | 'http' | 'subnet' | 'labels' | 'addresses' | 'versions' | 'backoff' | 'storeIncarnation' | 'processMetrics' | 'logRetention'>> & AgentOptions;

/**
 * SECRET_WAIT_MS: how long a start waits for its Secrets to reach the node before it fails (then it
 * is retried when they arrive, secret-arrivals.ts): a new cluster's first starts usually come before
 * the reconciler re-sealed the Secrets to their node (it does once the task is bound there).
 */
export const SECRET_WAIT_MS = 3000;

/** resolveAgentOptions fills in the defaults (the heartbeat follows the published period unless fixed): 2 s resync, 250 ms probe tick, 10 s usage, 110 tasks, two starts at once per core. */
export function resolveAgentOptions(o: AgentOptions): ResolvedAgentOptions {
  return { resyncMs: 2000, probeTickMs: 250, usageMs: 10_000, maxTasks: 110, startConcurrency: 2 * availableParallelism(), recoveryHoldMs: DEFAULT_RECOVERY_HOLD_MS, secretWaitMs: SECRET_WAIT_MS, ...o };
}

/** NodeSecrets is what opens this node's Secrets: its key ring and its own secrets bucket. */
export interface NodeSecrets {
  keyring: Keyring;
  /** with a watch (the store's bucket), a Secret arriving retries the starts that waited for it (secret-arrivals.ts) */
  bucket: SecretSource & Partial<SecretArrivals>;
}

/** AgentDeps are the agent's edges: store, runtime, network, logger. */
export interface AgentDeps {
  nc: NatsConnection;
  /** read-only where the agent only reads (tasks, bindings, node specs: nats.js' RoKV); it writes status, its node record and events */
  store: Pick<ClusterStore, 'status' | 'nodes' | 'heartbeats' | 'events'> & {
    tasks: RoBucket<TaskSpec>;
    bindings: RoBucket<Binding>;
    nodespec: RoBucket<NodeSpec>;
    /** where the control plane publishes the renewal period (absent: the fallback 10 s) */
    cluster?: RoBucket<LivenessRecord>;
  };
  runtime: TaskRuntime;
  /** the node's task network: runtime/'s NetworkManager (CNI), or MemoryNetwork */
  network: TaskNetwork;
  log: Logger;
  /** the node's key ring and secrets bucket; without them tasks using Secrets fail to start */
  secrets?: NodeSecrets;
  /** the node's Services module (agent/services.ts): conditions, task resolver, drain before SIGTERM */
  services?: ServicesPort;
  /**
   * the process's shared store feed (shared-feed.ts): many agents in one process (hollow nodes)
   * follow the store through one set of watches instead of three each
   */
  feed?: SharedFeed;
  /**
   * the published lease renewal period (store/liveness.ts), shared by the agents of one process;
   * without it (and without a fixed heartbeatMs) the agent follows `store.cluster` itself
   */
  liveness?: LivenessView;
}

/** Live is what the agent follows of a task's current container: its exit, probes and usage. */
export interface Live {
  containerId: string;
  exited: Promise<ExitInfo>;
  health?: Health;
  probing: Set<ProbeKind>;
  /** a liveness or startup probe failed and the kill is under way */
  killing?: boolean;
  sample?: { at: number; s: CgroupSample };
  usage?: Resources;
  /** the usage last written into the task's status (usage.ts reports it again once it moved) */
  reported?: { cpuMillis: number; memoryBytes: number };
}

/** AgentState is everything the agent knows; see each field. */
export interface AgentState {
  /** task specs (the whole `tasks` bucket: its informer once the agent follows the store) */
  specs: Pick<InformerView<TaskSpec>, 'get'>;
  /** bindings to this node */
  bindings: Map<string, Binding>;
  /**
   * tasks bound to another node: a held task bound there is not ours any more (a view over the
   * bindings informer, so no agent keeps a second copy of every binding in the cluster)
   */
  boundElsewhere: { has(taskId: string): boolean };
  /** tasks kept running after a store rebuild until a binding claims them (recovery.ts) */
  held: Set<string>;
  /**
   * where a binding of a held task pointed, remembered: a batch task adopted, bound and deleted again
   * (its Job already Complete) between two passes was still decided by that binding; 'gone': the
   * rebuilt control plane deleted its spec (a Job Complete from the held tasks' reports deletes them
   * before the scheduler binds them: no binding ever comes, watches.ts applySpecDeleted)
   */
  decided: Map<string, 'here' | 'elsewhere' | 'gone'>;
  /** when the hold after a store rebuild ends (epoch ms) */
  holdUntil: number;
  /** this node's spec (draining) */
  nodeSpec: NodeSpec | undefined;
  /** the journal: the agent's local truth about every task it has taken on */
  records: Map<string, LocalTask>;
  /** the containers followed right now, by task */
  live: Map<string, Live>;
  /**
   * the tasks of `live` whose container has a probe: all the probe tick walks (an id whose container
   * went or has none is dropped there), and the tick runs only while it holds some. A hollow process
   * ticks 4,750 nodes a second: walking every live task of each was 127 s of 442 s busy in a
   * 10,000-node run with no probes at all.
   */
  probed: Set<string>;
  /** tasks whose last status write failed: retried by the next pass */
  unsent: Set<string>;
  /** set once every watch delivered its snapshot: before that, "nothing desired" is not true */
  synced: boolean;
  stopped: boolean;
  /** when the last convergence pass ended (epoch ms), for /healthz */
  lastPassAt: number;
  /** when this agent process started (ISO), reported in the node record */
  startedAt: string;
  /** the agent's /metrics endpoint once it listens, reported in the node record (Prometheus discovery) */
  metricsUrl?: string;
  /** the node record last written successfully: heartbeat.ts writes it again only once it changes */
  registered?: NodeRecord;
  /** lease renewals sent without acknowledgement since the last acknowledged one; undefined: the next one is acknowledged (heartbeat.ts) */
  renewalsUnchecked?: number;
}

/** newAgentState is the state of an agent that knows nothing yet. */
export function newAgentState(): AgentState {
  return {
    specs: new Map(), bindings: new Map(), boundElsewhere: new Set<string>(), held: new Set(), decided: new Map(), holdUntil: 0,
    nodeSpec: undefined, records: new Map(), live: new Map(), probed: new Set(), unsent: new Set(), synced: false, stopped: false, lastPassAt: 0,
    startedAt: new Date().toISOString(),
  };
}

/** AgentContext is what every part of the agent works with: options, edges, state and the few shared services. */
export interface AgentContext {
  readonly o: ResolvedAgentOptions;
  readonly d: AgentDeps;
  readonly backoff: BackoffOptions;
  readonly metrics: AgentMetrics;
  readonly journal: Journal;
  /** succeeded tasks the control plane deleted: what ran to completion, re-reported after a store rebuild */
  readonly completed: Journal;
  readonly log: Logger;
  readonly state: AgentState;
  /** one operation per task at a time (task-locks.ts) */
  readonly locks: TaskLocks;
  /** the bound on starts in flight (`startConcurrency`) */
  readonly starts: Limiter;
  /** the node's Secret volumes, once its key ring is ready */
  volumes?: SecretVolumes;
  /** callbacks for the next put in the node's secrets bucket, while its watch runs (secret-arrivals.ts) */
  secretArrivals?: Set<() => void>;
  /** logs of removed containers: previous attempts and finished tasks (log-archive.ts) */
  readonly logArchive: LogArchive;
  /** kick asks for a convergence pass (convergence.ts) over `taskId` (its input changed), or over the whole node */
  kick(taskId?: string): void;
  /** probing says a task joined `state.probed`: the probe tick runs only while that holds some (agent.ts) */
  probing(): void;
}
