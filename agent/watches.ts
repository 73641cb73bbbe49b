/**
 * What the agent follows in the store, through store/'s Informer (restarted after a failure with
 * backoff, revision-guarded, a synced signal): every task spec, every binding (those to this node are
 * its desired tasks; those elsewhere release held tasks) and its own node spec. Binding changes are
 * folded into the agent's state by a pure function; once every informer has synced, each change asks
 * for a convergence pass.
 */
import type { Binding, NodeSpec, TaskSpec } from '../api/index.ts';
import { Informer, type InformerChange } from '../store/index.ts';
import type { AgentContext, AgentState } from './context.ts';

/** applyBinding records a binding (or its deletion) of task `key`, pure on the state. */
export function applyBinding(s: AgentState, node: string, key: string, v: Binding | undefined): void {
  if (v && v.node === node) s.bindings.set(key, v);
  else s.bindings.delete(key);
  if (v && s.held.has(key)) s.decided.set(key, v.node === node ? 'here' : 'elsewhere');
}

/**
 * applySpecDeleted records the deletion of task `key`'s spec, pure on the state: a held task whose
 * spec the rebuilt control plane deleted is not wanted (store/REBUILD.md: "spec gone"). A batch Job
 * the held tasks' reports made Complete deletes its re-created tasks at once, often before the
 * scheduler bound them (it restarts after the rebuild too): without this the finished task stayed
 * held for the whole hold (5 min), its run not filed as completed (e2e/up's NATS-wipe drill).
 * Returns whether it concerned a held task.
 */
export function applySpecDeleted(s: AgentState, key: string): boolean {
  if (!s.held.has(key)) return false;
  s.decided.set(key, 'gone');
  return true;
}

/** StoreFollow is the agent's running informers. */
export interface StoreFollow {
  /** synced resolves once every informer has its snapshot, or when the agent stops first */
  synced: Promise<void>;
  close(): Promise<void>;
}

/** followStore starts the agent's informers (tasks, bindings, its node spec). */
export function followStore(ctx: AgentContext): StoreFollow {
  const { state, o, d, log } = ctx;
  if (d.feed) return d.feed.attach(ctx);
  const stop = new AbortController();
  const signal = stop.signal;
  const tasks = new Informer<TaskSpec>(d.store.tasks, {
    signal, log,
    // A spec matters to this node only while bound here or journaled (every task in the cluster changes here).
    onChange: (c) => {
      if (c && c.next === undefined) applySpecDeleted(state, c.key);
      if (!c || state.bindings.has(c.key) || state.records.has(c.key)) ctx.kick(c?.key);
    },
  });
  state.specs = tasks;
  const bindings: Informer<Binding> = new Informer<Binding>(d.store.bindings, {
    signal, log,
    onChange: (c: InformerChange<Binding>) => {
      if (c) applyBinding(state, o.node, c.key, c.next);
      else for (const [key, e] of bindings.entries) applyBinding(state, o.node, key, e.value);
      ctx.kick(c?.key);
    },
  });
  state.boundElsewhere = { has: (key) => { const b = bindings.get(key); return b !== undefined && b.node !== o.node; } };
  const nodespec: Informer<NodeSpec> = new Informer<NodeSpec>(d.store.nodespec, {
    signal, log, key: o.node,
    onChange: () => {
      state.nodeSpec = nodespec.get(o.node);
      ctx.kick();
    },
  });
  const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  const all = Promise.all([tasks.synced, bindings.synced, nodespec.synced]).then(() => undefined);
  return {
    synced: Promise.race([all, stopped]),
    close: async () => {
      stop.abort();
      await Promise.all([tasks.done, bindings.done, nodespec.done]);
    },
  };
}
