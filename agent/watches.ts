/**
 * What the agent follows in the store: every task spec, every binding (those to this node are its
 * desired tasks; those elsewhere release held tasks) and its own node spec. Each watch's events are
 * applied to the agent's state by a pure function; once every watch delivered its snapshot, each
 * change asks for a convergence pass.
 */
import { errorMessage } from '../lib/index.ts';
import type { Binding } from '../api/index.ts';
import type { Watch } from '../store/index.ts';
import type { AgentContext, AgentState } from './context.ts';

/** applyBinding records a binding (or its deletion) of task `key`, pure on the state. */
export function applyBinding(s: AgentState, node: string, key: string, v: Binding | undefined): void {
  if (v && v.node === node) s.bindings.set(key, v);
  else s.bindings.delete(key);
  if (v && v.node !== node) s.boundElsewhere.add(key);
  else s.boundElsewhere.delete(key);
  if (v && s.held.has(key)) s.decided.set(key, v.node === node ? 'here' : 'elsewhere');
}

/** StoreFollow is the agent's running watches. */
export interface StoreFollow {
  /** synced resolves once every watch delivered its snapshot; rejects if one ends before */
  synced: Promise<void>;
  close(): Promise<void>;
}

/** followStore starts the agent's watches (tasks, bindings, its node spec). */
export function followStore(ctx: AgentContext): StoreFollow {
  const { state, o, d } = ctx;
  const watches: Watch<unknown>[] = [];
  const follow = <T>(w: Watch<T>, apply: (key: string, value: T | undefined) => void): Promise<void> => {
    watches.push(w as Watch<unknown>);
    return followOne(ctx, w, apply);
  };
  const synced = Promise.all([
    follow(d.store.tasks.watch(), (k, v) => (v ? state.specs.set(k, v) : state.specs.delete(k))),
    follow(d.store.bindings.watch(), (k, v) => applyBinding(state, o.node, k, v)),
    follow(d.store.nodespec.watch({ key: o.node }), (_k, v) => { state.nodeSpec = v; }),
  ]).then(() => undefined);
  return { synced, close: async () => { await Promise.all(watches.map((w) => w.close())); } };
}

/** followOne applies a watch's events and resolves once its snapshot is in. */
function followOne<T>(ctx: AgentContext, w: Watch<T>, apply: (key: string, value: T | undefined) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let isSynced = false;
    (async () => {
      for await (const ev of w) {
        if (ev.type === 'synced') {
          isSynced = true;
          resolve();
        } else {
          apply(ev.key, ev.type === 'put' ? ev.value : undefined);
        }
        if (isSynced) ctx.kick();
      }
    })().catch((err) => {
      ctx.log.error({ err: errorMessage(err) }, 'agent: watch ended');
      reject(err);
    });
  });
}
