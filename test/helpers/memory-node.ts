/**
 * Test helper: the real agent on a real nats-server over the in-memory runtime and network
 * (agent/memory-runtime.ts), so its orchestration (convergence, restarts, recovery, probes) is tested
 * in seconds without root. `restart` stops the agent and starts a new one on the same state dir and
 * runtime, optionally against another store (a fresh prefix is an empty, "rebuilt" store).
 */
import { after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TaskSpec, TaskStatus } from '../../api/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { connect, openClusterStore, type ClusterStore } from '../../store/index.ts';
import { Agent, MemoryNetwork, MemoryRuntime, type AgentOptions, type MemoryRuntimeOptions } from '../../agent/index.ts';
import { startNatsServer, type NatsServer } from './nats.ts';
import { waitFor } from './wait.ts';

/** MemoryNode is one in-memory node of a test: its agent, runtime, network and store. */
export interface MemoryNode {
  node: string;
  stateDir: string;
  nc: NatsConnection;
  store: ClusterStore;
  agent: Agent;
  runtime: MemoryRuntime;
  network: MemoryNetwork;
  /** bind writes the task's spec and binds it to `node` (default: this node) */
  bind(spec: TaskSpec, node?: string): Promise<void>;
  unbind(taskId: string): Promise<void>;
  status(taskId: string): Promise<TaskStatus | undefined>;
  waitStatus(taskId: string, what: string, pred: (s: TaskStatus) => boolean): Promise<TaskStatus>;
  /**
   * statusHistory watches the task's status and resolves with every version written (from the one
   * current when called) up to the first for which `until` holds: unlike polling, it never misses a
   * short-lived state such as a 100 ms backoff. Call it before causing the change.
   */
  statusHistory(taskId: string, what: string, until: (s: TaskStatus) => boolean): Promise<TaskStatus[]>;
  /**
   * restart stops the agent and starts a new one (same node, state and runtime), on `prefix`'s store
   * if given; `options` add to those of earlier restarts
   */
  restart(o?: { prefix?: string; options?: Partial<AgentOptions> }): Promise<void>;
  close(): Promise<void>;
}

/** fastAgentOptions are agent timings for tests: passes every 100 ms, probes every 20 ms, 100 ms first backoff. */
export const fastAgentOptions = {
  heartbeatMs: 500, resyncMs: 100, probeTickMs: 20, usageMs: 1000, backoff: { initialMs: 100, maxMs: 400, resetAfterMs: 60_000 },
} satisfies Partial<AgentOptions>;

/** startMemoryNode starts an agent over a MemoryRuntime on `server`, with fast timings and its own prefix. */
export async function startMemoryNode(server: NatsServer, o: MemoryNodeOptions = {}): Promise<MemoryNode> {
  const suffix = randomBytes(3).toString('hex');
  const node = `m-${suffix}`;
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-memnode-'));
  const stateDir = join(dir, 'state');
  const nc = await connect({ servers: server.url });
  const runtime = new MemoryRuntime(o.runtime);
  const network = new MemoryNetwork();
  const { prefix: firstPrefix, runtime: _r, ...agentOptions } = o;
  const open = (prefix: string) => openClusterStore(nc, { prefix, log: silentLogger() });
  const make = (store: ClusterStore, extra: Partial<AgentOptions>) => new Agent({
    node, stateDir, capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }, ...fastAgentOptions, ...agentOptions, ...extra,
  }, { nc, store, runtime, network, log: silentLogger() });
  let store = await open(firstPrefix ?? `m${suffix}_`);
  let extra: Partial<AgentOptions> = {};
  let agent = make(store, extra);
  await agent.start();
  const n: MemoryNode = {
    node, stateDir, nc, runtime, network,
    get store() { return store; },
    get agent() { return agent; },
    async bind(spec, to = node) {
      await store.tasks.put(spec.id, spec);
      await store.bindings.put(spec.id, { taskId: spec.id, node: to, boundAt: new Date().toISOString(), schedulerTerm: 1 });
    },
    async unbind(taskId) {
      await store.bindings.delete(taskId);
      await store.tasks.delete(taskId);
    },
    status: async (taskId) => (await store.status.get(`${node}.${taskId}`))?.value,
    waitStatus: (taskId, what, pred) => waitFor(`${taskId}: ${what}`, async () => {
      const s = await n.status(taskId);
      return s && pred(s) ? s : undefined;
    }, 30_000),
    statusHistory: (taskId, what, until) => watchStatus(store, `${node}.${taskId}`, what, until),
    async restart(r = {}) {
      await agent.stop();
      if (r.prefix) store = await open(r.prefix);
      extra = { ...extra, ...r.options };
      agent = make(store, extra);
      await agent.start();
    },
    async close() {
      await agent.stop();
      runtime.close();
      await nc.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return n;
}

/** MemoryNodeOptions: agent options over the fast ones, the key prefix, the runtime's timings. */
export type MemoryNodeOptions = Partial<AgentOptions> & { prefix?: string; runtime?: MemoryRuntimeOptions };

/**
 * memoryNodeForFile starts a nats-server and one memory node for a test file (top-level await) and
 * stops both when the file's tests are done.
 */
export async function memoryNodeForFile(o: MemoryNodeOptions = {}): Promise<MemoryNode> {
  const server = await startNatsServer();
  const n = await startMemoryNode(server, o).catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  after(async () => {
    await n.close();
    await server.stop();
  });
  return n;
}

/** uid is a short random suffix for task ids, so the tests of a file never share a task. */
export const uid = (): string => Math.random().toString(36).slice(2, 8);

/** MEMORY_IMAGE is the image the in-memory tests use: "pulled" on first use. */
export const MEMORY_IMAGE = 'localhost/memory:test';

/** watchStatus collects a status key's versions until one satisfies `until` (30 s deadline). */
async function watchStatus(store: ClusterStore, key: string, what: string, until: (s: TaskStatus) => boolean): Promise<TaskStatus[]> {
  const seen: TaskStatus[] = [];
  const w = store.status.watch({ key });
  const timer = setTimeout(() => void w.close(), 30_000);
  try {
    for await (const ev of w) {
      if (ev.type !== 'put') continue;
      seen.push(ev.value);
      if (until(ev.value)) return seen;
    }
    throw new Error(`timed out after 30000 ms waiting for ${key}: ${what} (saw ${seen.map((s) => `${s.state}/${s.restarts}`).join(', ')})`);
  } finally {
    clearTimeout(timer);
    await w.close();
  }
}
