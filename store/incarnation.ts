/**
 * The store's incarnation: which life of the cluster state a component is talking to. NATS data can
 * be lost (a wiped data directory, a fresh cluster behind the same URL); the buckets are then made
 * anew by the control plane. Every stream records when it was created, so the creation time of the
 * `tasks` bucket's stream names the incarnation: a rebuilt store has another one.
 *
 * Components that keep watches open cannot continue across a rebuild (revisions restart at 1, their
 * informers hold records that no longer exist), so they watch the incarnation and start over when it
 * changes: the agent keeps its tasks running and re-reports them, the reconciler re-applies Git.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger, errorMessage, type Logger } from '../lib/index.ts';
import { bucketName, DEFAULT_PREFIX, type BucketRole } from './cluster.ts';

/** INCARNATION_BUCKET is the bucket whose stream's creation time names the store's incarnation. */
const INCARNATION_BUCKET: BucketRole = 'tasks';

/** Outcome of one look at the store: its incarnation, "missing" (no such stream), or unknown (NATS unavailable). */
export type IncarnationProbe = { state: 'present'; incarnation: string } | { state: 'missing' } | { state: 'unknown'; reason: string };

function isStreamNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; code?: unknown; message?: string } | null;
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(String(e?.message ?? ''));
}

/** probeStreams looks up every named stream; the incarnation is the creation time of the first. */
async function probeStreams(nc: NatsConnection, streams: string[], timeoutMs: number): Promise<IncarnationProbe> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
    let incarnation = '';
    for (const [i, stream] of streams.entries()) {
      const info = await jsm.streams.info(stream);
      if (i === 0) incarnation = info.created;
    }
    return { state: 'present', incarnation };
  } catch (err) {
    if (isStreamNotFound(err)) return { state: 'missing' };
    return { state: 'unknown', reason: errorMessage(err) };
  }
}

/** probeIncarnation reads the store's incarnation once. */
export function probeIncarnation(nc: NatsConnection, prefix = DEFAULT_PREFIX, timeoutMs = 3000): Promise<IncarnationProbe> {
  return probeStreams(nc, [`KV_${bucketName(INCARNATION_BUCKET, prefix)}`], timeoutMs);
}

/** WaitForStoreOptions configure waitForStore. */
export interface WaitForStoreOptions {
  prefix?: string;
  /** buckets that must all exist (default: the incarnation bucket only) */
  buckets?: BucketRole[];
  /** streams other than buckets that must exist too (e.g. the events stream) */
  streams?: string[];
  intervalMs?: number;
  signal?: AbortSignal;
  log?: Logger;
}

/**
 * waitForStore resolves with the incarnation once the buckets exist. Agents may not create buckets
 * (their NATS permissions forbid it): after a rebuild they wait here for the control plane instead
 * of failing and restarting in a loop.
 */
export async function waitForStore(nc: NatsConnection, o: WaitForStoreOptions = {}): Promise<string> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const log = o.log ?? createLogger('store');
  const roles = [INCARNATION_BUCKET, ...(o.buckets ?? []).filter((b) => b !== INCARNATION_BUCKET)];
  const streams = [...roles.map((r) => `KV_${bucketName(r, prefix)}`), ...(o.streams ?? [])];
  let told = false;
  for (;;) {
    const p = await probeStreams(nc, streams, 3000);
    if (p.state === 'present') {
      if (told) log.info({ incarnation: p.incarnation }, 'store: buckets present');
      return p.incarnation;
    }
    if (!told) {
      log.warn({ state: p.state, ...(p.state === 'unknown' ? { reason: p.reason } : {}) }, 'store: waiting for the control plane to create the buckets');
      told = true;
    }
    if (o.signal?.aborted) throw new Error('waitForStore aborted');
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
  }
}

/** IncarnationWatchOptions configure watchIncarnation. */
export interface IncarnationWatchOptions {
  prefix?: string;
  intervalMs?: number;
  log?: Logger;
  /** told once, when the store the component started on is gone */
  onReset: (reason: string) => void;
}

/**
 * watchIncarnation checks every `intervalMs` (default 2 s), and at once after each reconnect, that
 * the store is still the incarnation `known`, and calls onReset once when it is not: the bucket is missing, or was created again.
 * Unavailability is not a reset (NATS restarting with its data keeps the incarnation). Returns stop.
 */
export function watchIncarnation(nc: NatsConnection, known: string, o: IncarnationWatchOptions): () => void {
  let stopped = false;
  let running = false;
  const check = async (): Promise<void> => {
    if (stopped || running || nc.isClosed()) return;
    running = true;
    try {
      const p = await probeIncarnation(nc, o.prefix);
      if (stopped) return;
      const reason = p.state === 'missing' ? 'the buckets are gone (NATS lost its data)' : p.state === 'present' && p.incarnation !== known ? `the buckets were created again (at ${p.incarnation}; this process started on ${known})` : undefined;
      if (reason) {
        stopped = true;
        clearInterval(timer);
        o.onReset(reason);
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), o.intervalMs ?? 2000);
  timer.unref();
  // A store is only lost across a server restart: look at once on every reconnect, before this
  // process's writes and watches act on a store that is not the one it started on.
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) return;
      if (s.type === 'reconnect') void check();
    }
  })().catch(() => undefined);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** STORE_RESET_EXIT_CODE is the exit code of a component that found the store rebuilt (EX_TEMPFAIL): restart it. */
export const STORE_RESET_EXIT_CODE = 75;
