/**
 * Before the first task is created on a store that has never been reconciled (a new cluster, or one
 * whose NATS data was lost), let the nodes register: after a rebuild each agent re-reports the tasks
 * it still runs, and the controllers must see those reports to keep them (apply/adopt.ts) instead of
 * starting second copies. Like Borgmaster waiting for its Borglets after a failover.
 */
import type { NodeRecord } from '../../api/index.ts';
import { errorMessage, type Logger } from '../../lib/index.ts';
import type { Bucket } from '../../store/index.ts';

/** SettleOptions bound the wait: done once `expectNodes` registered, or nodes stop appearing for quietMs, or after maxMs. */
export interface SettleOptions {
  quietMs: number;
  maxMs: number;
  /** the cluster's node count when known (gitcell up): done as soon as that many registered */
  expectNodes?: number;
  pollMs?: number;
}

/**
 * SETTLED_KEY is the `sync` key written once the nodes settled on this store. A later term, or
 * another replica, must not skip the wait because the reconcile loop already wrote the source's
 * status: that happens within the first term's settle, and a term that ends mid-wait would
 * otherwise let the next one create every task before the agents' reports arrive.
 */
export const SETTLED_KEY = 'controllers.settled';

/** ControllersSettled is the value under SETTLED_KEY. */
export interface ControllersSettled {
  kind: 'ControllersSettled';
  settledAt: string;
  nodes: number;
  term: number;
}

/** DEFAULT_SETTLE waits for 3 s without a new node, at most 30 s. */
export const DEFAULT_SETTLE: SettleOptions = { quietMs: 3_000, maxMs: 30_000 };

/** settleDecision tells whether the wait is over, from when it began, the last change and the node count. Pure. */
export function settleDecision(o: SettleOptions, t: { now: number; startedAt: number; changedAt: number; nodes: number }): boolean {
  if (t.now - t.startedAt >= o.maxMs) return true;
  if (o.expectNodes !== undefined) return t.nodes >= o.expectNodes;
  return t.nodes > 0 && t.now - t.changedAt >= o.quietMs;
}

/**
 * waitForNodesToSettle polls the nodes bucket until settleDecision says so; returns the node count.
 * Only nodes whose agent serves the current incarnation count (NodeRecord.storeIncarnation): right
 * after a rebuild, an agent process that has not noticed yet still heartbeats, before re-reporting.
 */
export async function waitForNodesToSettle(nodes: Bucket<NodeRecord>, o: SettleOptions & { incarnation?: string }, signal: AbortSignal, log: Logger): Promise<number> {
  const startedAt = Date.now();
  let changedAt = startedAt;
  let seen = new Set<string>();
  for (;;) {
    try {
      const now = new Set((await nodes.list()).filter((r) => !o.incarnation || r.value.storeIncarnation === o.incarnation).map((r) => r.key));
      if ([...now].some((n) => !seen.has(n))) changedAt = Date.now();
      seen = now;
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'reconciler: cannot list nodes while waiting for them to register');
    }
    if (signal.aborted || settleDecision(o, { now: Date.now(), startedAt, changedAt, nodes: seen.size })) return seen.size;
    // With the node count known (gitcell up, a few nodes) a short poll: the first tasks wait on it.
    await new Promise((r) => setTimeout(r, o.pollMs ?? (o.expectNodes !== undefined ? 100 : 250)));
  }
}
