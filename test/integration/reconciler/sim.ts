// Test stand-ins for the scheduler and the agents (the issue allows simulating them): they bind
// every new task to a node and report its status through the real store, like the real ones do.
import type { NodeRecord, TaskSpec, TaskStatus } from '../../../api/index.ts';
import { statusKey } from '../../../api/index.ts';
import type { ClusterStore } from '../../../store/index.ts';
import { retryTransient } from '../../../store/errors.ts';
import { runControllers, type DesiredRecord, type SyncRecord } from '../../../reconciler/index.ts';
import { silentLogger } from '../../../lib/index.ts';

/** Store is the typed cluster store the reconciler tests use. */
export type Store = ClusterStore<DesiredRecord, SyncRecord>;

/** SimOptions: which images become ready, and how long starting takes. */
export interface SimOptions {
  nodes: string[];
  /** ready decides whether a task of this image passes readiness (default: always). */
  ready?: (image: string) => boolean;
  /** crash makes a task of this image crash-loop instead (restarts grow). */
  crash?: (image: string) => boolean;
  startMs?: number;
  /** finish makes a task of this image end as this status instead (a batch task that succeeded, a start that failed). */
  finish?: (image: string) => Partial<TaskStatus> | undefined;
  /** the IP every task reports (a test serving the tasks' metrics on 127.0.0.1) */
  ip?: string;
}

/** Sim is a running simulated scheduler + agents. */
export interface Sim {
  stop(): Promise<void>;
  /** how many times each task id was created (put on the tasks bucket without a previous value). */
  creations: Map<string, number>;
}

/** nodeRecord builds a live NodeRecord for a simulated node. */
export function nodeRecord(name: string): NodeRecord {
  const now = new Date().toISOString();
  return {
    name,
    labels: { 'kubernetes.io/hostname': name },
    taints: [],
    capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, tasks: 110 },
    allocatable: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, tasks: 110 },
    addresses: ['127.0.0.1'],
    runtime: { runc: 'sim', kernel: 'sim', agentVersion: 'sim' },
    images: [],
    startedAt: now,
    heartbeatAt: now,
  };
}

/** startSim binds and "runs" every task the reconciler creates, until stop(). */
export async function startSim(store: Store, opts: SimOptions): Promise<Sim> {
  const ac = new AbortController();
  for (const n of opts.nodes) await store.nodes.put(n, nodeRecord(n));
  const heartbeat = setInterval(() => {
    for (const n of opts.nodes) void store.nodes.put(n, nodeRecord(n)).catch(() => undefined);
  }, 2000);
  const creations = new Map<string, number>();
  const known = new Map<string, TaskSpec>();
  const timers = new Set<NodeJS.Timeout>();
  let rr = 0;
  const later = (ms: number, fn: () => Promise<unknown>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!ac.signal.aborted) void fn().catch(() => undefined);
    }, ms);
    timers.add(t);
  };
  const run = async (spec: TaskSpec) => {
    const node = spec.nodeName ?? opts.nodes[rr++ % opts.nodes.length]!;
    await store.bindings.put(spec.id, { taskId: spec.id, node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
    const base = { taskId: spec.id, node, templateHash: spec.templateHash, restarts: 0, updatedAt: new Date().toISOString(), ...(opts.ip ? { ip: opts.ip } : {}) };
    await store.status.put(statusKey(node, spec.id), { ...base, state: 'running', ready: false, startedAt: base.updatedAt });
    later(opts.startMs ?? 30, async () => {
      if (!known.has(spec.id)) return;
      const image = spec.template.image;
      const finish = opts.finish?.(image);
      if (finish) {
        await store.status.put(statusKey(node, spec.id), { ...base, state: 'running', ready: false, updatedAt: new Date().toISOString(), ...finish });
      } else if (opts.crash?.(image)) {
        await store.status.put(statusKey(node, spec.id), { ...base, state: 'backoff', ready: false, restarts: 5, exitCode: 1, message: 'container exited: config missing', updatedAt: new Date().toISOString() });
      } else if (opts.ready?.(image) ?? true) {
        await store.status.put(statusKey(node, spec.id), { ...base, state: 'running', ready: true, updatedAt: new Date().toISOString() });
      } else {
        await store.status.put(statusKey(node, spec.id), { ...base, state: 'running', ready: false, message: 'readiness probe failed: HTTP 503', updatedAt: new Date().toISOString() });
      }
    });
    return node;
  };
  const nodeOf = new Map<string, string>();
  const loop = (async () => {
    const w = store.tasks.watch({ signal: ac.signal });
    for await (const ev of w) {
      if (ev.type === 'put' && !known.has(ev.key)) {
        known.set(ev.key, ev.value);
        creations.set(ev.key, (creations.get(ev.key) ?? 0) + 1);
        // A write lost to a dropped connection (the client reconnects) is made again: as an agent
        // would, rather than ending the loop with a rejection nobody handles until stop().
        nodeOf.set(ev.key, await retryTransient(() => run(ev.value), 40, /connection lost|connection closed/));
      } else if (ev.type === 'delete') {
        known.delete(ev.key);
        const node = nodeOf.get(ev.key);
        if (node) {
          await store.status.delete(statusKey(node, ev.key)).catch(() => undefined);
          await store.bindings.delete(ev.key).catch(() => undefined);
        }
      }
    }
  })();
  return {
    creations,
    async stop() {
      ac.abort();
      clearInterval(heartbeat);
      for (const t of timers) clearTimeout(t);
      await loop.catch(() => undefined);
    },
  };
}

/** startControllers runs the controller loop on `store` (pass every tickMs) until test t ends. */
export function startControllers(t: { after(fn: () => unknown): void }, store: Store, tickMs = 200): ReturnType<typeof runControllers> {
  const ac = new AbortController();
  const loop = runControllers({ store, signal: ac.signal, source: 'main', tickMs, log: silentLogger() });
  t.after(async () => {
    ac.abort();
    await loop.done;
  });
  return loop;
}
