/**
 * Leader election on the `leases` bucket: several replicas of a component run for one lease; one
 * acts, the others stand by. The decisions are lease.ts (pure); this file is the loop around them.
 *
 *   candidate ──get lease──► decideCandidate ──acquire (CAS)──► leader ──renew every renewMs (CAS)
 *       ▲                        │ wait                              │ lost CAS / deadline passed
 *       └────────────────────────┴────────── onDemoted ◄── abort ctx.signal ◄┘
 *
 * A leader's work runs in onLeading({term, signal}); it must stop when the signal aborts (that
 * happens before any other replica can take over) and should stamp `term` on what it writes so
 * readers can refuse a deposed leader's late writes (checkFence).
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createLogger, errorMessage, isGitcellError, type Logger } from '../lib/index.ts';
import type { Bucket } from './bucket.ts';
import { SKIP } from './bucket.ts';
import { StoreErrorCodes, storeError } from './errors.ts';
import { decideCandidate, leaderDeadline, leaseTimings, observe, type Lease, type Observation } from './lease.ts';

/** LeaderContext is handed to onLeading: the fencing term and a signal that aborts on demotion. */
export interface LeaderContext {
  term: number;
  signal: AbortSignal;
  /**
   * valid tells whether the lease is still certainly ours, checked against the clock right now (a
   * process that was paused may run a step before its demotion timer fires; check this first).
   */
  valid(): boolean;
}

/** ElectionOptions configure runForLeadership. */
export interface ElectionOptions {
  /** the leases bucket */
  leases: Bucket<Lease>;
  /** lease name (a key), e.g. "scheduler" */
  name: string;
  /** unique identity of this replica (default host-pid-random) */
  identity?: string;
  /** lease period (default 15 s) */
  leaseMs?: number;
  /** renew period (default leaseMs / 3) */
  renewMs?: number;
  /** a leader stops acting this long before its lease could be judged lapsed (default min(renewMs, leaseMs/4)) */
  safetyMs?: number;
  /** runs while leading; must stop when ctx.signal aborts. A throw or rejection gives the lease up. */
  onLeading: (ctx: LeaderContext) => unknown;
  /** told after leadership ended (signal already aborted) with the reason */
  onDemoted?: (info: { term: number; reason: string }) => void;
  /** aborting ends the election (releasing the lease if held) */
  signal?: AbortSignal;
  log?: Logger;
}

/** Election is a running candidacy. */
export interface Election {
  readonly identity: string;
  /** the current term if leading, else undefined */
  leaderTerm(): number | undefined;
  /** stop ends the candidacy; a leader stops acting, then releases the lease so a standby takes over at once */
  stop(): Promise<void>;
  /** done resolves when the candidacy has ended */
  readonly done: Promise<void>;
}

/** defaultIdentity names this process uniquely: host, pid and a random suffix. */
export function defaultIdentity(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** runForLeadership starts a candidacy: `onLeading` runs while this identity holds the lease (with a fencing term), until demoted or the signal aborts. */
export function runForLeadership(opts: ElectionOptions): Election {
  const c = new Candidacy(opts);
  const onOuterAbort = (): void => c.stopper.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (opts.signal?.aborted) c.stopper.abort();
  const done = c.campaign().finally(() => opts.signal?.removeEventListener('abort', onOuterAbort));
  return {
    identity: c.identity,
    leaderTerm: () => c.leading?.term,
    stop: async () => {
      c.stopper.abort();
      await done;
    },
    done,
  };
}

/** Term is one leadership term while it lasts: its lease revision, when the last renewal was sent, and why it ended. */
interface Term {
  term: number;
  acquiredAt: string;
  revision: number;
  lastSent: number;
  reason: string;
  readonly ac: AbortController;
}

/** Candidacy is one replica's run for a lease: campaign (candidate) and lead (leader), in turn. */
class Candidacy {
  readonly identity: string;
  readonly stopper = new AbortController();
  leading: { term: number; revision: number } | undefined;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly safetyMs: number;
  private readonly log: Logger;

  constructor(private readonly opts: ElectionOptions) {
    const t = leaseTimings(opts.leaseMs ?? 15_000, opts.renewMs, opts.safetyMs);
    this.leaseMs = t.leaseMs;
    this.renewMs = t.renewMs;
    this.safetyMs = t.safetyMs;
    this.identity = opts.identity ?? defaultIdentity();
    this.log = opts.log ?? createLogger('leader');
  }

  private now(): number {
    return performance.now();
  }

  /** campaign reads the lease, asks decideCandidate, and acquires by CAS when it may; then leads until demoted, and runs again. */
  async campaign(): Promise<void> {
    const { opts, log, stopper } = this;
    let observation: Observation | undefined;
    const pollMs = Math.max(1, Math.floor(this.renewMs / 2));
    while (!stopper.signal.aborted) {
      let current;
      try {
        current = await opts.leases.get(opts.name);
      } catch (err) {
        // A closed connection never comes back: its component has ended (a crash, a failed start),
        // and retrying would log for ever from a dead instance, burying the component's own error.
        if (opts.leases.nc.isClosed()) {
          log.warn({ lease: opts.name }, 'leader: connection closed; the candidacy ends');
          break;
        }
        log.warn({ lease: opts.name, err: errorMessage(err) }, 'leader: cannot read lease; retrying');
        await sleep(pollMs, stopper.signal);
        continue;
      }
      const t = this.now();
      if (current) observation = observe(observation, current.revision, t);
      const decision = decideCandidate({ identity: this.identity, current, observation, now: t, leaseMs: this.leaseMs, wallNow: new Date().toISOString() });
      if (decision.action === 'wait') {
        await sleep(Math.min(pollMs, decision.untilMs - t), stopper.signal);
        continue;
      }
      const sent = this.now();
      try {
        const rev =
          decision.expectRevision === undefined
            ? await opts.leases.create(opts.name, decision.lease)
            : await opts.leases.update(opts.name, decision.lease, decision.expectRevision);
        if (stopper.signal.aborted) {
          // Stopped while acquiring: hand it straight back.
          const t2 = new Date().toISOString();
          await opts.leases.update(opts.name, { ...decision.lease, holder: '', renewedAt: t2 }, rev).catch(() => undefined);
          break;
        }
        log.debug({ lease: opts.name, reason: decision.reason }, 'leader: taking lease');
        await this.lead(decision.lease.term, rev, sent, decision.lease.acquiredAt);
        observation = undefined;
      } catch (err) {
        if (opts.leases.nc.isClosed()) break; // as above: a dead instance's candidacy ends
        if (!isGitcellError(err, StoreErrorCodes.Conflict) && !isGitcellError(err, StoreErrorCodes.Exists)) {
          log.warn({ lease: opts.name, err: errorMessage(err) }, 'leader: acquiring failed; retrying');
          await sleep(pollMs, stopper.signal);
        }
      }
    }
  }

  /** lead runs one term: the deadline timer, onLeading, renewals until demoted, then the hand-over. */
  private async lead(term: number, revision: number, sentAt: number, acquiredAt: string): Promise<void> {
    const { opts, log } = this;
    this.leading = { term, revision };
    const lt: Term = { term, acquiredAt, revision, lastSent: sentAt, reason: '', ac: new AbortController() };
    // Every loop, watch and informer a leader runs listens on this one signal: a dozen is normal.
    setMaxListeners(100, lt.ac.signal);
    // The deadline timer is what guarantees we stop before a standby may start.
    let deadline: NodeJS.Timeout | undefined;
    const armDeadline = (): void => {
      clearTimeout(deadline);
      deadline = setTimeout(() => demote(lt, 'lease not renewed in time'), Math.max(0, leaderDeadline(lt.lastSent, this.leaseMs, this.safetyMs) - this.now()));
    };
    armDeadline();
    const onStop = (): void => demote(lt, 'stopped');
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    log.info({ lease: opts.name, identity: this.identity, term }, 'leader: acquired lease');
    this.startWork(lt);
    await this.renewUntilDemoted(lt, armDeadline);
    clearTimeout(deadline);
    this.stopper.signal.removeEventListener('abort', onStop);
    await this.afterLeading(lt);
  }

  /** startWork runs onLeading; a throw or rejection demotes (and so gives the lease up). */
  private startWork(lt: Term): void {
    const { opts, log } = this;
    let work: Promise<unknown>;
    try {
      const valid = (): boolean => !lt.ac.signal.aborted && this.now() < leaderDeadline(lt.lastSent, this.leaseMs, this.safetyMs);
      work = Promise.resolve(opts.onLeading({ term: lt.term, signal: lt.ac.signal, valid }));
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(
      () => undefined,
      (err) => {
        log.error({ lease: opts.name, term: lt.term, err: errorMessage(err) }, 'leader: onLeading failed; giving up the lease');
        demote(lt, `onLeading failed: ${errorMessage(err)}`);
      },
    );
  }

  /** renewUntilDemoted renews the lease by CAS every renewMs; a lost CAS demotes, other failures are retried until the deadline. */
  private async renewUntilDemoted(lt: Term, armDeadline: () => void): Promise<void> {
    const { opts, log } = this;
    while (!lt.ac.signal.aborted) {
      await sleep(this.renewMs, lt.ac.signal);
      if (lt.ac.signal.aborted) break;
      const sent = this.now();
      const t = new Date().toISOString();
      try {
        const rev = await opts.leases.update(opts.name, { holder: this.identity, term: lt.term, leaseMs: this.leaseMs, acquiredAt: lt.acquiredAt, renewedAt: t }, lt.revision);
        if (lt.ac.signal.aborted) break;
        lt.revision = rev;
        this.leading = { term: lt.term, revision: rev };
        lt.lastSent = sent;
        armDeadline();
      } catch (err) {
        if (isGitcellError(err, StoreErrorCodes.Conflict)) demote(lt, 'lease taken by another replica');
        else log.warn({ lease: opts.name, term: lt.term, err: errorMessage(err) }, 'leader: renewal failed; retrying');
      }
    }
  }

  /** afterLeading tells onDemoted; a voluntary stop (or failed work) hands over at once, a lost lease is someone else's now. */
  private async afterLeading(lt: Term): Promise<void> {
    const { opts, log } = this;
    const { term, reason } = lt;
    this.leading = undefined;
    log.info({ lease: opts.name, identity: this.identity, term, reason }, 'leader: stopped leading');
    try {
      opts.onDemoted?.({ term, reason });
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'leader: onDemoted threw');
    }
    if (reason === 'stopped' || reason.startsWith('onLeading failed')) {
      const t = new Date().toISOString();
      await opts.leases
        .update(opts.name, { holder: '', term, leaseMs: this.leaseMs, acquiredAt: lt.acquiredAt, renewedAt: t }, lt.revision)
        .catch(() => undefined);
      // Let the others have it: do not re-acquire our own release at once.
      if (!this.stopper.signal.aborted) await sleep(this.leaseMs, this.stopper.signal);
    }
  }
}

/** demote ends a term once, with the first reason given. */
function demote(lt: Term, why: string): void {
  if (lt.ac.signal.aborted) return;
  lt.reason = why;
  lt.ac.abort();
}

/** FENCE_PREFIX starts the leases-bucket key (`fence.<name>`) holding the highest term a fenced resource has seen. */
export const FENCE_PREFIX = 'fence';

/**
 * checkFence admits a write stamped with `term` to the resource `name`: it records the highest term
 * seen (CAS) and raises E_FENCED if a higher one was seen already, i.e. the writer was deposed.
 * Use it where a stale leader's write would do harm and stamping records with the term is not enough.
 */
export async function checkFence(leases: Bucket<Lease>, name: string, term: number, holder: string): Promise<void> {
  let higher: number | undefined;
  await leases.updateWithRetry(`${FENCE_PREFIX}.${name}`, (cur) => {
    higher = undefined;
    if (cur && cur.term > term) {
      higher = cur.term;
      return SKIP;
    }
    if (cur && cur.term === term) return SKIP;
    const t = new Date().toISOString();
    return { holder, term, leaseMs: 0, acquiredAt: t, renewedAt: t };
  });
  if (higher !== undefined) {
    throw storeError(StoreErrorCodes.Fenced, `fence ${name}: term ${term} of ${holder} is stale (term ${higher} seen)`, { name, term, higher });
  }
}
