/**
 * `gitcell rollout status`: wait until a Job's or DaemonSet's rollout ends, for CI. The verdict is
 * a pure function of what the store says (judgeRollout); waitForRollout re-reads on every change
 * of the object's status or events, with a deadline. Exit 0 done, 1 failed or reverted, 2 timeout.
 */
import type { ClusterEvent } from '../api/index.ts';
import { eventTokens, desiredKey } from '../store/index.ts';
import { objectStatusKey, sourceStatusKey } from '../reconciler/apply/keys.ts';
import { workloadVerdict, type SyncStatus, type WorkloadStatus } from '../reconciler/index.ts';
import type { ClientStore } from './client.ts';

/** ROLLOUT_EXIT: 0 the rollout completed, 1 it failed (or was reverted), 2 the wait timed out. */
export const ROLLOUT_EXIT = { complete: 0, failed: 1, timeout: 2 } as const;

/** RolloutView is what judgeRollout decides from. */
export interface RolloutView {
  /** the generation of the object to wait for (the desired record's) */
  generation: number;
  type: 'service' | 'batch' | 'daemon';
  status?: WorkloadStatus;
  /** RolloutFailed events of this object since the wait began */
  failures: ClusterEvent[];
  /** with --revision: that revision is not yet applied by the source (still waiting for it) */
  revisionPending?: string;
  /** with --revision: the source recorded this object's rollout of the revision as failed */
  revisionFailed?: string;
}

/** Verdict is judgeRollout's answer: done with an exit code, or still waiting, with a line to print. */
export type Verdict = { done: true; code: 0 | 1; message: string } | { done: false; message: string };

/** judgeRollout decides from the store's view whether the rollout ended and how. Pure. */
export function judgeRollout(v: RolloutView): Verdict {
  if (v.revisionFailed) return { done: true, code: 1, message: `rollout of revision ${v.revisionFailed.slice(0, 12)} failed (and is reverted unless auto-rollback is off)` };
  const failed = v.failures.at(-1);
  if (failed) return { done: true, code: 1, message: `rollout failed: ${failed.message}` };
  if (v.revisionPending) return { done: false, message: `waiting for the reconciler to apply revision ${v.revisionPending.slice(0, 12)}` };
  const w = workloadVerdict(v.status, v.generation, v.type);
  return w.state === 'waiting' ? { done: false, message: w.message } : { done: true, code: w.state === 'complete' ? 0 : 1, message: w.message };
}

/** RolloutTarget names the object and, optionally, the revision to wait for. */
export interface RolloutTarget {
  kind: 'Job' | 'DaemonSet';
  namespace: string;
  name: string;
  /** the source name (`sync` key source.<name>) when waiting for a revision */
  source: string;
  revision?: string;
}

/** readView reads one RolloutView; undefined when the object does not exist. */
async function readView(store: ClientStore, t: RolloutTarget, since: string): Promise<RolloutView | undefined> {
  const rec = (await store.desired.get(desiredKey(t.kind, t.namespace, t.name)))?.value;
  let revisionPending: string | undefined;
  let revisionFailed: string | undefined;
  if (t.revision) {
    const src = (await store.sync.get(sourceStatusKey(t.source)))?.value as SyncStatus | undefined;
    const failed = src?.failedRollouts?.find((r) => r.revision.startsWith(t.revision!) && r.object.kind === t.kind && r.object.name === t.name && r.object.namespace === t.namespace);
    // A failure already reverted is gone from failedRollouts: the source's rollback event names the commit.
    const rollbacks = failed ? [] : await store.events.recent({ limit: 50, prefix: eventTokens({ object: { kind: 'Source', name: t.source } }).join('.') });
    const reverted = rollbacks.find((e) => ['RolledBack', 'RevertConflict', 'RollbackDisabled'].includes(e.value.reason) && e.value.message.includes(` at ${t.revision!.slice(0, 12)}`));
    if (failed) revisionFailed = failed.revision;
    else if (reverted) revisionFailed = t.revision;
    else if (!src?.lastAttemptedRevision?.startsWith(t.revision) || src.phase) revisionPending = t.revision;
  }
  if (!rec && !revisionPending) return undefined;
  const status = (await store.sync.get(objectStatusKey(t.kind, t.namespace, t.name)))?.value as WorkloadStatus | undefined;
  const events = await store.events.recent({ limit: 50, prefix: eventTokens({ object: { kind: t.kind, namespace: t.namespace, name: t.name } }).join('.') });
  const failures = events.map((e) => e.value).filter((e) => e.reason === 'RolloutFailed' && e.time >= since);
  const type = t.kind === 'DaemonSet' ? 'daemon' : ((rec?.object.spec as { type?: 'service' | 'batch' } | undefined)?.type ?? 'service');
  return { generation: rec?.generation ?? 0, type, ...(status ? { status } : {}), failures, ...(revisionPending ? { revisionPending } : {}), ...(revisionFailed ? { revisionFailed } : {}) };
}

/**
 * waitForRollout prints each new waiting line, then the verdict, and returns the exit code; it
 * re-reads whenever the object's status, the source status or the events change (and every few
 * seconds regardless), until `timeoutMs`.
 */
export async function waitForRollout(store: ClientStore, t: RolloutTarget, timeoutMs: number, print: (line: string) => void): Promise<number> {
  const since = new Date().toISOString();
  const deadline = Date.now() + timeoutMs;
  const ac = new AbortController();
  let wake: (() => void) | undefined;
  const nudge = () => wake?.();
  const watches = [
    store.sync.watch({ key: objectStatusKey(t.kind, t.namespace, t.name), signal: ac.signal }),
    store.sync.watch({ key: sourceStatusKey(t.source), signal: ac.signal }),
  ];
  for (const w of watches) void (async () => { for await (const _ of w) nudge(); })().catch(() => undefined);
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  let last = '';
  try {
    while (!ac.signal.aborted) {
      const view = await readView(store, t, since);
      if (!view) {
        print(`${t.kind} ${t.namespace}/${t.name} not found`);
        return ROLLOUT_EXIT.failed;
      }
      const v = judgeRollout(view);
      if (v.message !== last) print(v.message);
      last = v.message;
      if (v.done) return v.code;
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 2_000));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    print(`timed out after ${Math.round(timeoutMs / 1000)} s: ${last}`);
    return ROLLOUT_EXIT.timeout;
  } finally {
    process.off('SIGINT', stop);
    ac.abort();
    await Promise.all(watches.map((w) => w.close().catch(() => undefined)));
  }
}
