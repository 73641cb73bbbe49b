/**
 * The notifier: while this replica leads, every commit the reconciler handles gets its status on
 * every Receiver of the cluster (commit statuses on the forge, signed webhooks). It follows the
 * store, never the reconcile loop: the source status and the workload statuses (`sync` watch), the
 * Receivers and their Secrets (`desired` watches). Each change re-judges the commits still open
 * (verdict.ts) and queues what changed (delivery.ts), so a slow receiver never slows a reconcile.
 *
 *   sync/desired change ─► evaluate (debounced) ─► judgeCommit per open commit ─► per receiver:
 *   changed since last sent? ─► buildRequest ─► Delivery queue (retry, timeout, bounded)
 */
import { DEFAULT_NAMESPACE, receiverSecretKey, takesCommitStatuses, type CommitStatusType, type Receiver, type Secret } from '../../api/index.ts';
import { PassRunner, errorMessage, type Logger } from '../../lib/index.ts';
import { OBJECT_PREFIX, sourceStatusKey, type ReconcilerStore, type SyncStatus } from '../apply/index.ts';
import type { WatchEvent } from '../../store/index.ts';
import { findRevertOf } from '../service/rollback.ts';
import { Delivery, type DeliveryResult } from './delivery.ts';
import { buildRequest } from './requests.ts';
import { changedWorkloadKeys, rollbackEvents, withStatuses, type FactsStore } from './facts.ts';
import { judgeCommit, type ChangedWorkload, type CommitStatusVerdict } from './verdict.ts';

/** NotifierOptions: the store, the source followed, how Secrets open, until `signal`. */
export interface NotifierOptions {
  store: FactsStore & Pick<ReconcilerStore, 'sync'>;
  sourceName: string;
  /** the source's Git dir and tracking ref: a failure's revert commit is looked up there */
  git?: { gitdir: string; ref: string };
  /** openSecret decrypts a Secret's values (the reconciler's keyring) */
  openSecret: (secret: Secret) => Map<string, Buffer>;
  signal: AbortSignal;
  log: Logger;
  /** onResult is told every delivery's outcome (tests, metrics) */
  onResult?: (receiver: string, r: DeliveryResult) => void;
}

/** Notifier is a running notifier; done settles after the signal aborts and the queues close. */
export interface Notifier {
  done: Promise<void>;
}

interface Target {
  spec: Receiver['spec'] & { type: CommitStatusType };
  secret: string;
  delivery: Delivery;
  /** what was last queued per commit: `state description` */
  sent: Map<string, string>;
}

/** OPEN_COMMITS bounds how many commits are followed at once (the newest are kept). */
const OPEN_COMMITS = 20;

/** runNotifier starts the notifier; see the file comment. */
export function runNotifier(o: NotifierOptions): Notifier {
  const targets = new Map<string, Target>();
  const open = new Set<string>();
  // Commits whose status is final: never judged again (each judgement lists the commit's workloads).
  const settled = new Set<string>();
  const changedCache = new Map<string, ChangedWorkload[]>();
  let dirtyReceivers = true;
  const runner = new PassRunner({ signal: o.signal, pass: async () => {
    try {
      if (dirtyReceivers) {
        dirtyReceivers = false;
        await loadReceivers(o, targets);
      }
      await evaluate(o, targets, { open, settled }, changedCache);
    } catch (err) {
      if (!o.signal.aborted) o.log.warn({ err: errorMessage(err) }, 'notifier: evaluation failed; next change retries');
    }
  } });
  const trigger = (receivers = false): void => {
    dirtyReceivers ||= receivers;
    runner.request();
  };

  const follow = async (watch: AsyncIterable<WatchEvent<unknown>>, receivers: boolean, relevant: (key: string) => boolean = () => true): Promise<void> => {
    for await (const ev of watch) if (ev.type === 'synced' || relevant(ev.key)) trigger(receivers);
  };
  const done = Promise.allSettled([
    // Only the source's status and the workloads' statuses decide a verdict (not inventories, CronJobs' runs...).
    follow(o.store.sync.watch({ signal: o.signal }), false, (key) => key === sourceStatusKey(o.sourceName) || key.startsWith(`${OBJECT_PREFIX}.`)),
    follow(o.store.desired.watch({ prefix: 'Receiver', signal: o.signal }), true),
    follow(o.store.desired.watch({ prefix: 'Secret', signal: o.signal }), true),
  ]).then(async () => {
    await runner.stop();
    await Promise.all([...targets.values()].map((t) => t.delivery.close()));
  });
  return { done };
}

/** loadReceivers (re)reads every Receiver and opens its Secret; a Receiver that cannot is logged and skipped. */
async function loadReceivers(o: NotifierOptions, targets: Map<string, Target>): Promise<void> {
  const seen = new Set<string>();
  for (const rec of await o.store.desired.list('Receiver')) {
    const r = rec.value.object as Receiver;
    // Slack and email Receivers take alerts only (Alertmanager delivers them): no commit statuses.
    const spec = r.spec;
    if (!takesCommitStatuses(spec)) continue;
    const name = `${r.metadata.namespace ?? DEFAULT_NAMESPACE}/${r.metadata.name}`;
    let secret: string;
    try {
      secret = await readSecretValue(o, r);
    } catch (err) {
      o.log.warn({ receiver: name, err: errorMessage(err) }, 'notifier: receiver skipped');
      continue;
    }
    seen.add(name);
    const old = targets.get(name);
    if (old && JSON.stringify(old.spec) === JSON.stringify(spec) && old.secret === secret) continue;
    await old?.delivery.close();
    const delivery = new Delivery({
      receiver: name,
      timeoutMs: (r.spec.timeoutSeconds ?? 10) * 1000,
      log: o.log,
      ...(o.onResult ? { onResult: (res: DeliveryResult) => o.onResult!(name, res) } : {}),
    });
    targets.set(name, { spec, secret, delivery, sent: old?.sent ?? new Map() });
  }
  for (const [name, t] of targets) {
    if (seen.has(name)) continue;
    targets.delete(name);
    await t.delivery.close();
  }
}

async function readSecretValue(o: NotifierOptions, r: Receiver): Promise<string> {
  const ref = r.spec.secretRef;
  if (!ref) throw new Error('no secretRef');
  const namespace = r.metadata.namespace ?? DEFAULT_NAMESPACE;
  const rec = await o.store.desired.get(`Secret.${namespace}.${ref.name}`);
  if (!rec) throw new Error(`Secret ${namespace}/${ref.name} not found`);
  const key = receiverSecretKey(r.spec);
  const value = o.openSecret(rec.value.object as Secret).get(key);
  if (value === undefined) throw new Error(`Secret ${namespace}/${ref.name} has no key "${key}"`);
  return value.toString('utf8').replace(/\r?\n$/, '');
}

/** evaluate judges every open commit and queues each receiver's changed statuses. */
async function evaluate(o: NotifierOptions, targets: Map<string, Target>, commits: { open: Set<string>; settled: Set<string> }, changedCache: Map<string, ChangedWorkload[]>): Promise<void> {
  const { open, settled } = commits;
  const s = (await o.store.sync.get(sourceStatusKey(o.sourceName)))?.value as SyncStatus | undefined;
  if (!s || s.kind !== 'SyncStatus' || targets.size === 0) return;
  for (const r of [s.lastAttemptedRevision, s.lastAppliedRevision, ...s.failedRollouts.map((f) => f.revision)]) if (r && !settled.has(r)) open.add(r);
  while (open.size > OPEN_COMMITS) open.delete(open.values().next().value!);
  if (open.size === 0) return;
  const rollbacks = await rollbackEvents(o.store, o.sourceName);
  for (const revision of [...open]) {
    const changed = s.lastAppliedRevision === revision ? await changedWorkloads(o, revision, changedCache) : undefined;
    let verdict = judgeCommit({ revision, source: s, rollbacks, ...(changed ? { changed } : {}) });
    if (!verdict) continue;
    // The full revert sha from Git (an event names it abbreviated): links and webhooks want it whole.
    if (verdict.state === 'failure' && (verdict.revert ?? '').length < 40 && o.git) {
      const revert = await findRevertOf(o.git.gitdir, o.git.ref, revision).catch(() => undefined);
      if (revert) verdict = judgeCommit({ revision, source: s, rollbacks, revert, ...(changed ? { changed } : {}) })!;
    }
    for (const [name, t] of targets) queue(o, name, t, verdict);
    // Settled: a success, or a failure with its revert found (a revert may still come otherwise).
    if (verdict.state === 'success' || (verdict.state === 'failure' && verdict.revert)) {
      open.delete(revision);
      settled.add(revision);
      while (settled.size > OPEN_COMMITS * 5) settled.delete(settled.values().next().value!);
      changedCache.delete(revision);
    }
  }
}

/** queue sends a verdict unless this receiver had it already, or had a final one for the commit. */
function queue(o: NotifierOptions, name: string, t: Target, v: CommitStatusVerdict): void {
  const last = t.sent.get(v.revision);
  const line = `${v.state} ${v.description}`;
  if (last === line) return;
  // Final states stay: a success is never taken back; a failure only gains detail (its revert).
  if (last?.startsWith('success ') || (last?.startsWith('failure ') && v.state !== 'failure')) return;
  t.sent.set(v.revision, line);
  while (t.sent.size > OPEN_COMMITS * 5) t.sent.delete(t.sent.keys().next().value!);
  const request = buildRequest(t.spec, v, { source: o.sourceName, receiver: name, secret: t.secret, time: new Date().toISOString() });
  t.delivery.enqueue(v.revision, request);
}

/** changedWorkloads: the workloads `revision` changed (listed once per commit), with their statuses now. */
async function changedWorkloads(o: NotifierOptions, revision: string, cache: Map<string, ChangedWorkload[]>): Promise<ChangedWorkload[]> {
  let list = cache.get(revision);
  if (!list) cache.set(revision, (list = await changedWorkloadKeys(o.store, revision)));
  return withStatuses(o.store, list);
}
