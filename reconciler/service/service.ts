import type { AnyObject } from '../../api/index.ts';
import { Backoff, createLogger, errorMessage, type Logger } from '../../lib/index.ts';
import { Informer, probeIncarnation, runForLeadership, type Bucket, type ClusterStore, type Election, type LeaderContext, type Lease, type StoreRecord } from '../../store/index.ts';
import {
  reconcileRevision,
  runControllers,
  runEndpoints,
  runSubnets,
  sourceStatusKey,
  toValidatedRevision,
  withRepoDefaults,
  type ReconcileOutcome,
  type SyncRecord,
  type SyncStatus,
} from '../apply/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import { loadManifestsFromGit, type ParsedFile } from '../manifests/index.ts';
import { validateManifests } from '../validate/index.ts';
import { checkSealedSecrets } from '../secrets/check.ts';
import type { KeyObject } from 'node:crypto';
import { startWebhookServer, type Source, type WebhookServer } from '../source/index.ts';
import { RevisionQueue } from './queue.ts';
import { ReplicaViews, type Views } from './views.ts';
import { groupByRevision, rollBack, rolloutId, type RollbackOutcome } from './rollback.ts';
import type { RollbackFlag } from '../git/index.ts';
import { SETTLED_KEY, waitForNodesToSettle, type ControllersSettled, type SettleOptions } from './settle.ts';
import { verifySourceRevision, type TrustOptions } from './trust.ts';
import { followSourceControl, type ControlFollower } from './control.ts';

/** RECONCILER_LEASE is the lease reconciler replicas compete for. */
export const RECONCILER_LEASE = 'reconciler';

/** ReconcilerServiceOptions configure startReconcilerService. */
export interface ReconcilerServiceOptions {
  store: ClusterStore<DesiredRecord, SyncRecord>;
  source: Source;
  /** sourceName keys the source's status (`sync` key `source.<name>`); default from the branch. */
  sourceName?: string;
  /** webhook: a push endpoint that makes the source fetch at once. */
  webhook?: { listen: string; secret: string };
  leaseMs?: number;
  /**
   * leases: the leases bucket on a connection of its own (default the store's): renewals then never
   * wait behind the watch deliveries of the main connection, nor die with it.
   */
  leases?: Bucket<Lease>;
  identity?: string;
  /** controllers: run the controller loop while leading (default true). */
  controllers?: boolean;
  /** serviceCidr: where the endpoints loop allocates Service virtual IPs (default 10.96.0.0/12). */
  serviceCidr?: string;
  /** clusterCidr: where the subnet allocator derives node task subnets (default 10.128.0.0/9, a /24 each). */
  clusterCidr?: string;
  allowPruneAll?: boolean;
  /** allowPlaintextSecrets accepts Secrets with plaintext data that carry the allow-plaintext annotation (dev only). */
  allowPlaintextSecrets?: boolean;
  /**
   * sealingKeys are the cluster's private keys: with them every Secret of a revision is opened during
   * validation, so a tampered or moved sealed value stalls the revision instead of being applied.
   */
  sealingKeys?: (keyId: string) => KeyObject | undefined;
  /**
   * settleNodes: on a store never reconciled before (new, or rebuilt after NATS lost its data), the
   * controllers create no task until nodes have registered (settle.ts). Off when undefined.
   */
  settleNodes?: SettleOptions;
  /** verify: apply only revisions whose commits are signed by an allowed key (reconciler/git/verify.ts). */
  verify?: TrustOptions;
  /** signingKey: the cluster's SSH key (absolute path) that signs gitcell's revert commits. */
  signingKey?: string;
  /** autoRollback: --auto-rollback (revert: as .gitcell.yaml says; branch: reverts go to a branch of their own; off). */
  autoRollback?: RollbackFlag;
  /**
   * whileLeading runs next to the reconcile loop while this replica leads (e.g. the secret
   * distributor); `views` opens the replica's copies of the nodes and task buckets (views.ts), to
   * read instead of copies of its own (one copy of 100,000 tasks is ~1.2 KB each).
   */
  whileLeading?: (ctx: LeaderContext, views: () => Views) => unknown;
  /** onReconciled is told after every reconcile (tests, benchmarks, metrics). */
  onReconciled?: (revision: string, outcome: ReconcileOutcome) => void;
  /** onRollback is told after every rollback decision. */
  onRollback?: (revision: string, outcome: RollbackOutcome) => void;
  log?: Logger;
}

/** ReconcilerService is a running reconciler replica. */
export interface ReconcilerService {
  readonly election: Election;
  readonly webhook: WebhookServer | undefined;
  readonly sourceName: string;
  /** leaderTerm is the term while this replica leads. */
  leaderTerm(): number | undefined;
  stop(): Promise<void>;
}

/** MIRROR_CATCH_UP_MS bounds the wait for the desired informer before the diff lists the bucket instead. */
const MIRROR_CATCH_UP_MS = 2_000;

/** sourceNameOf turns a branch into a store-key-safe source name ("release/1.2" -> "release-1-2"). */
export function sourceNameOf(branch: string): string {
  return branch.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'default';
}

/** Replica is what the phases of one reconciler replica share: its options, logger, source name and caches. */
interface Replica {
  opts: ReconcilerServiceOptions;
  log: Logger;
  sourceName: string;
  // Successive commits mostly share files: parse each (path, blob) once...
  parseCache: Map<string, ParsedFile>;
  // ...and hash each of those (read-only) objects once for the diff.
  hashCache: WeakMap<AnyObject, string>;
  /** the queue of the term this replica leads, if it leads */
  queue: RevisionQueue | undefined;
  /** the copies of the nodes and task buckets, made at the first term and kept until stop (views.ts) */
  views: ReplicaViews;
}

/**
 * startReconcilerService runs one reconciler replica: the source follows the branch on every
 * replica (so a standby is warm), while only the leader (store leader election) reconciles: one
 * reconcileRevision per new revision, latest wins when several queue, retries after waiting
 * errors; the controller loop; and rollback: a failed rollout recorded on the source's status
 * becomes a revert commit, which the source then sees and the normal path applies.
 *
 *   startSource (webhook, then the source) ─► runForLeadership ─► lead: per term
 *     reconcileLoop (reconcileOne per revision) · rollbackLoop · control record · controllers
 */
export async function startReconcilerService(opts: ReconcilerServiceOptions): Promise<ReconcilerService> {
  const log = opts.log ?? createLogger('reconciler');
  const r: Replica = {
    opts,
    log,
    sourceName: opts.sourceName ?? sourceNameOf(opts.source.branch),
    parseCache: new Map(),
    hashCache: new WeakMap(),
    queue: undefined,
    views: new ReplicaViews(opts.store, log),
  };
  const webhook = await startSource(r);
  const election = runForLeadership({
    leases: opts.leases ?? opts.store.leases,
    name: RECONCILER_LEASE,
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
    log,
    onLeading: (ctx) => lead(r, ctx),
  });
  return {
    election,
    webhook,
    sourceName: r.sourceName,
    leaderTerm: () => election.leaderTerm(),
    async stop() {
      await webhook?.close();
      await election.stop();
      await r.views.stop();
      await opts.source.stop();
    },
  };
}

/**
 * startSource starts the webhook first: a bad --webhook-listen or a port in use fails the start
 * before anything else runs (and what did start is closed again), instead of a replica that stays
 * up doing nothing. Then the source, whose new revisions go to the leader's queue.
 */
async function startSource(r: Replica): Promise<WebhookServer | undefined> {
  const { source } = r.opts;
  let webhook: WebhookServer | undefined;
  if (r.opts.webhook) {
    webhook = await startWebhookServer({ ...r.opts.webhook, branch: source.branch, onPush: () => source.refresh(), log: r.log });
  }
  try {
    await source.start((rev) => r.queue?.offer(rev.sha));
  } catch (err) {
    await webhook?.close();
    await source.stop().catch(() => undefined);
    throw err;
  }
  return webhook;
}

/** lead runs one leadership term: the reconcile, rollback and control loops and the controllers, until the term ends. */
async function lead(r: Replica, ctx: LeaderContext): Promise<void> {
  const { opts, log, sourceName } = r;
  const { store, source } = opts;
  log.info({ term: ctx.term, source: sourceName }, 'reconciler: leading');
  const q = new RevisionQueue();
  r.queue = q;
  ctx.signal.addEventListener('abort', () => q.close(), { once: true });
  // A new leader reconciles the current tip: the old one may have died mid-reconcile.
  const tip = source.current() ?? (await source.refresh().catch(() => undefined));
  if (tip) q.offer(tip);
  const fresh = opts.settleNodes !== undefined && !(await store.sync.get(SETTLED_KEY));
  const control = followSourceControl({
    store,
    source: sourceName,
    signal: ctx.signal,
    log,
    onResume: () => {
      const rev = source.current();
      if (rev) q.offer(rev);
    },
    onReconcile: (withSource) => {
      void (withSource ? source.refresh().catch(() => undefined) : Promise.resolve(undefined)).then((fetched) => {
        const rev = fetched ?? source.current();
        if (rev) q.offer(rev);
      });
    },
  });
  const loops: Promise<unknown>[] = [reconcileLoop(r, ctx, q, control), rollbackLoop(r, ctx), control.done];
  if (opts.controllers ?? true) {
    // Subnets first and without waiting for nodes to settle: an agent waits for its subnet before it reports its tasks.
    loops.push(runSubnets({ store, signal: ctx.signal, valid: ctx.valid, log, ...(opts.clusterCidr ? { clusterCidr: opts.clusterCidr } : {}) }).done);
    loops.push(controllersAfterSettle(r, ctx, fresh));
  }
  if (opts.whileLeading) loops.push(Promise.resolve(opts.whileLeading(ctx, () => r.views.open())));
  const results = await Promise.allSettled(loops);
  if (r.queue === q) r.queue = undefined;
  for (const res of results) if (res.status === 'rejected' && !ctx.signal.aborted) throw res.reason;
}

/**
 * controllersAfterSettle runs the controller loop for the term; on a store without the settled
 * mark (new, or rebuilt) it first waits for the nodes to register and re-report their tasks, then
 * writes the mark (store/REBUILD.md). Not the source's status: the reconcile loop writes that during
 * the first term's wait, and a term ending mid-wait must not let the next one skip it.
 */
async function controllersAfterSettle(r: Replica, ctx: LeaderContext, fresh: boolean): Promise<void> {
  const { opts, log } = r;
  const { store } = opts;
  if (fresh) {
    log.info({ ...opts.settleNodes }, 'reconciler: the nodes never settled on this store: waiting for nodes to register and report their tasks');
    const p = await probeIncarnation(store.nc, store.prefix);
    const incarnation = p.state === 'present' ? { incarnation: p.incarnation } : {};
    const nodes = await waitForNodesToSettle(store.nodes, { ...opts.settleNodes!, ...incarnation }, ctx.signal, log);
    log.info({ nodes }, 'reconciler: nodes settled; starting the controllers');
    if (ctx.signal.aborted || !ctx.valid()) return;
    const mark: ControllersSettled = { kind: 'ControllersSettled', settledAt: new Date().toISOString(), nodes, term: ctx.term };
    // Best effort: without the mark a later term waits once more, which is safe.
    await store.sync.put(SETTLED_KEY, mark).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'reconciler: cannot record that the nodes settled'));
  }
  if (ctx.signal.aborted) return;
  // The endpoints loop writes the services bucket; it lives and dies with the controllers' leadership.
  // Both read the nodes and the task buckets through the replica's views: one watch of each bucket,
  // kept across terms (views.ts).
  const { nodes, shared, liveness } = r.views.open();
  const endpoints = runEndpoints({ store, signal: ctx.signal, valid: ctx.valid, log, nodes, shared, liveness, ...(opts.serviceCidr ? { serviceCidr: opts.serviceCidr } : {}) });
  await runControllers({ store, signal: ctx.signal, valid: ctx.valid, term: ctx.term, source: r.sourceName, log, nodes, shared, liveness }).done;
  await endpoints.done;
}

/**
 * reconcileLoop takes revisions from the term's queue, latest first, and reconciles each; a
 * retryable outcome offers the revision again after its delay.
 */
async function reconcileLoop(r: Replica, ctx: LeaderContext, q: RevisionQueue, control: ControlFollower): Promise<void> {
  const { log, sourceName } = r;
  await control.ready;
  const current = desiredReader(r, ctx);
  for (;;) {
    const revision = await q.take();
    if (revision === undefined || ctx.signal.aborted || !ctx.valid()) return;
    // Suspended (`gitcell suspend`): hold the revision back; resume offers the tip again.
    if (control.suspended()) {
      log.info({ source: sourceName, revision }, 'reconciler: source suspended; revision held back');
      continue;
    }
    let outcome: ReconcileOutcome;
    try {
      outcome = await reconcileOne(r, ctx, revision, current);
    } catch (err) {
      log.error({ err: errorMessage(err), revision }, 'reconcile threw; will retry');
      outcome = { result: 'Failed', status: undefined as unknown as SyncStatus, retryAfterMs: 5_000 };
    }
    r.opts.onReconciled?.(revision, outcome);
    if (outcome.retryAfterMs !== undefined && !ctx.signal.aborted) {
      setTimeout(() => q.retry(revision), outcome.retryAfterMs).unref();
    }
  }
}

/**
 * desiredReader gives the diff phase the `desired` bucket from an informer instead of listing it on
 * every commit. Before each use the informer must have caught up with the bucket's newest revision
 * (one cheap stream-info round trip), so it holds this leader's own writes from the previous
 * reconcile; if it lags, the bucket is listed as before. A write racing in after that check is
 * still safe: the apply phase's compare-and-set fails and the revision is retried.
 */
function desiredReader(r: Replica, ctx: LeaderContext): () => Promise<StoreRecord<DesiredRecord>[]> {
  const { store } = r.opts;
  const desired = new Informer<DesiredRecord>(store.desired, { signal: ctx.signal, log: r.log });
  return async () => {
    if (await desired.caughtUp(await store.desired.lastRevision(), MIRROR_CATCH_UP_MS)) {
      const out = [...desired.entries].map(([key, e]) => ({ key, value: e.value, revision: e.revision }));
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    r.log.debug({ source: r.sourceName }, 'reconciler: desired informer behind; listing the bucket');
    return store.desired.list();
  };
}

/** reconcileOne reconciles one revision: verify signatures, read from Git, validate with the repository's defaults and sealed Secrets, then reconcileRevision's phases. */
function reconcileOne(r: Replica, ctx: LeaderContext, revision: string, current: () => Promise<StoreRecord<DesiredRecord>[]>): Promise<ReconcileOutcome> {
  const { opts, log, sourceName } = r;
  const { store, source } = opts;
  const allowPlaintextSecrets = opts.allowPlaintextSecrets ?? false;
  return reconcileRevision({
    store,
    source: sourceName,
    revision,
    read: async () => {
      // Signatures first: an untrusted revision is Stalled before any of its objects is read.
      if (opts.verify) await verifySourceRevision({ store, source, sourceName, revision, options: opts.verify, log });
      return loadManifestsFromGit({ dir: source.dir ?? source.gitdir, gitdir: source.gitdir, ref: revision, path: source.subPath, parseCache: r.parseCache });
    },
    validate: async (load) => {
      // .gitcell.yaml's default requests/limits are written into the objects (plan and records show them).
      const validated = await withRepoDefaults(toValidatedRevision(validateManifests(load, { allowPlaintextSecrets })),
        { gitdir: source.gitdir, commit: revision, subPath: source.subPath });
      if (opts.sealingKeys) {
        validated.problems.push(...checkSealedSecrets(validated.objects, { privateKeyFor: opts.sealingKeys, allowPlaintextSecrets }));
      }
      return validated;
    },
    current,
    hashCache: r.hashCache,
    term: ctx.term,
    signal: ctx.signal,
    ...(opts.allowPruneAll ? { allowPruneAll: true } : {}),
    log,
  });
}

/**
 * rollbackLoop follows the source's status while leading: each failed rollout not handled yet
 * becomes a revert (rollBack), one revision at a time; when Git or the remote is unavailable it
 * looks again after a backoff, even if no status changes.
 */
async function rollbackLoop(r: Replica, ctx: LeaderContext): Promise<void> {
  const { opts, log, sourceName } = r;
  const { store, source } = opts;
  const handled = new Set<string>();
  let retryTimer: NodeJS.Timeout | undefined;
  const backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000 });
  let busy: Promise<void> = Promise.resolve();
  const retryLater = (): number => {
    const retryMs = backoff.next();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      void store.sync.get(sourceStatusKey(sourceName)).then((rec) => consider(rec?.value as SyncStatus | undefined)).catch(() => undefined);
    }, retryMs);
    retryTimer.unref();
    return retryMs;
  };
  const consider = (s: SyncStatus | undefined): Promise<void> =>
    (busy = busy.then(async () => {
      if (!s || s.kind !== 'SyncStatus' || !s.failedRollouts?.length || ctx.signal.aborted) return;
      const fresh = s.failedRollouts.filter((f) => !handled.has(rolloutId(f)));
      for (const [revision, rollouts] of groupByRevision(fresh)) {
        if (!ctx.valid()) return;
        try {
          const rctx = { store, source, sourceName, valid: ctx.valid, log, ...(opts.signingKey ? { signingKey: opts.signingKey } : {}), ...(opts.autoRollback ? { autoRollback: opts.autoRollback } : {}) };
          const outcome = await rollBack(rctx, revision, rollouts);
          for (const f of rollouts) handled.add(rolloutId(f));
          opts.onRollback?.(revision, outcome);
          backoff.reset();
        } catch (err) {
          // Git or the remote was unavailable: look again after a backoff, even if no status changes.
          log.warn({ err: errorMessage(err), revision, retryMs: retryLater() }, 'rollback failed; will retry');
          return;
        }
      }
    }));
  ctx.signal.addEventListener('abort', () => clearTimeout(retryTimer), { once: true });
  const watch = store.sync.watch({ key: sourceStatusKey(sourceName), signal: ctx.signal });
  for await (const ev of watch) {
    if (ev.type === 'put') await consider(ev.value as SyncStatus);
  }
}
