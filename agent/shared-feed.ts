/**
 * SharedFeed: one set of store informers (task specs, bindings, node specs) for every agent of a
 * process, fanned out by node. A real agent follows the store itself (watches.ts); the hollow nodes
 * of `gitcell hollow` (thousands of agents in one process) would otherwise each copy the whole
 * `tasks` and `bindings` buckets and hold three JetStream consumers: 10,000 nodes meant 30,000
 * consumers on one server and 10,000 copies of every task. With the feed a process holds three
 * consumers and one copy, and a change wakes only the agents it concerns:
 *
 *   tasks ─────► spec of task t changed ──► the agent t is bound to
 *   bindings ──► binding of t moved a→b ──► agents a and b (their `bindings` maps, then a pass)
 *   nodespec ──► key n changed ──────────► agent n
 *   snapshot (and every agent attached later) ──► each agent gets its own bindings and node spec
 *
 * The task specs are decoded when an agent of the process first reads one (a lazy informer,
 * store/lazy.ts), not as they arrive: a process runs only its nodes' part of the cluster's tasks
 * (the 500 nodes the scale benchmark kills: ~5 % of them).
 */
import type { Binding, NodeSpec, TaskSpec } from '../api/index.ts';
import { Informer, type InformerChange, type InformerSource } from '../store/index.ts';
import type { Logger } from '../lib/index.ts';
import type { AgentContext } from './context.ts';
import { applyBinding, applySpecDeleted } from './watches.ts';

/** FeedAttachment is an agent's part of the feed: synced once the feed's snapshot is in. */
export interface FeedAttachment {
  synced: Promise<void>;
  close(): Promise<void>;
}

/** SharedFeedSources are the buckets the feed follows (read-only: a watch each). */
export interface SharedFeedSources {
  tasks: InformerSource<TaskSpec>;
  bindings: InformerSource<Binding>;
  nodespec: InformerSource<NodeSpec>;
}

/** SharedFeed: see the file comment. */
export class SharedFeed {
  /** every task spec (an agent reads its tasks' specs from here) */
  readonly tasks: Informer<TaskSpec>;
  readonly bindings: Informer<Binding>;
  readonly nodespec: Informer<NodeSpec>;
  readonly synced: Promise<void>;
  private readonly stop = new AbortController();
  /** resolves once the feed is closed (one listener for every attached agent) */
  private readonly closed: Promise<void>;
  private readonly agents = new Map<string, AgentContext>();
  /** task ids bound to each node, kept from the bindings informer's changes */
  private readonly byNode = new Map<string, Set<string>>();

  constructor(src: SharedFeedSources, log: Logger) {
    const signal = this.stop.signal;
    this.tasks = new Informer<TaskSpec>(src.tasks, { signal, log, lazy: true, onChange: (c) => this.onTask(c) });
    this.bindings = new Informer<Binding>(src.bindings, { signal, log, onChange: (c) => this.onBinding(c) });
    this.nodespec = new Informer<NodeSpec>(src.nodespec, { signal, log, onChange: (c) => this.onNodeSpec(c) });
    this.synced = Promise.all([this.tasks.synced, this.bindings.synced, this.nodespec.synced]).then(() => undefined);
    this.closed = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  /** attach feeds one agent: its bindings and node spec now (once synced), then every change of them. */
  attach(ctx: AgentContext): FeedAttachment {
    const node = ctx.o.node;
    this.agents.set(node, ctx);
    const { state } = ctx;
    state.specs = this.tasks;
    state.boundElsewhere = { has: (id) => { const b = this.bindings.get(id); return b !== undefined && b.node !== node; } };
    const synced = this.synced.then(() => {
      if (this.agents.get(node) !== ctx) return;
      state.bindings.clear();
      for (const id of this.byNode.get(node) ?? []) this.deliver(ctx, id, this.bindings.get(id));
      state.nodeSpec = this.nodespec.get(node);
    });
    return {
      synced: Promise.race([synced, this.closed]),
      close: async () => {
        if (this.agents.get(node) === ctx) this.agents.delete(node);
      },
    };
  }

  /** close ends the informers; attached agents get no more changes. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all([this.tasks.done, this.bindings.done, this.nodespec.done]);
  }

  private onTask(c: InformerChange<TaskSpec>): void {
    if (!c) return this.kickAll();
    const node = this.bindings.get(c.key)?.node;
    if (node) this.agents.get(node)?.kick(c.key);
    else if (!this.tasks.entries.has(c.key)) {
      // Unbound and deleted (`entries`, not c.next: that would decode it): an agent holding it after
      // a store rebuild lets it go (watches.ts). Held sets are empty but right after a rebuild, so
      // this is a size check per agent, and only for a task deleted unbound.
      for (const ctx of this.agents.values()) if (ctx.state.held.size > 0 && applySpecDeleted(ctx.state, c.key)) ctx.kick(c.key);
    }
  }

  private onBinding(c: InformerChange<Binding>): void {
    if (!c) {
      this.byNode.clear();
      for (const [id, e] of this.bindings.entries) this.index(id, undefined, e.value.node);
      for (const ctx of this.agents.values()) {
        ctx.state.bindings.clear();
        for (const id of this.byNode.get(ctx.o.node) ?? []) this.deliver(ctx, id, this.bindings.get(id));
      }
      return this.kickAll();
    }
    const was = c.prev?.node;
    const now = c.next?.node;
    this.index(c.key, was, now);
    this.tellNode(was, c.key, c.next);
    if (now !== was) this.tellNode(now, c.key, c.next);
  }

  /** tellNode gives node's agent (if attached here) a binding change of task id. */
  private tellNode(node: string | undefined, id: string, b: Binding | undefined): void {
    const ctx = node ? this.agents.get(node) : undefined;
    if (!ctx) return;
    this.deliver(ctx, id, b);
    ctx.kick(id);
  }

  private onNodeSpec(c: InformerChange<NodeSpec>): void {
    if (!c) {
      for (const ctx of this.agents.values()) ctx.state.nodeSpec = this.nodespec.get(ctx.o.node);
      return this.kickAll();
    }
    const ctx = this.agents.get(c.key);
    if (!ctx) return;
    ctx.state.nodeSpec = c.next;
    ctx.kick();
  }

  /** deliver records a binding change in one agent's state, as its own informer would. */
  private deliver(ctx: AgentContext, id: string, b: Binding | undefined): void {
    applyBinding(ctx.state, ctx.o.node, id, b);
  }

  private index(id: string, was: string | undefined, now: string | undefined): void {
    if (was === now) return;
    if (was) {
      const s = this.byNode.get(was);
      s?.delete(id);
      if (s?.size === 0) this.byNode.delete(was);
    }
    if (now) {
      let s = this.byNode.get(now);
      if (!s) this.byNode.set(now, (s = new Set()));
      s.add(id);
    }
  }

  private kickAll(): void {
    for (const ctx of this.agents.values()) ctx.kick();
  }
}
