import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createLogger, type Logger } from '../../lib/log.ts';
import { errorMessage, GitcellError } from '../../lib/errors.ts';
import { fetchBranch, initCache, redactUrl, DEFAULT_TRANSPORT_LIMITS, type GitAuth } from '../git/transport.ts';
import { coalesce } from './coalesce.ts';
import { loadCredentials } from './credentials.ts';
import { normalizeSubPath } from './gitdir.ts';
import type { RevisionCallback, Source, SourceOptions } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** DEFAULT_POLL_MS is how often a remote is fetched without a webhook: 60 s, like Flux's default. */
export const DEFAULT_POLL_MS = 60_000;

/** jitteredDelay spreads polls of many replicas over ±10 % of the interval. */
export function jitteredDelay(intervalMs: number, random: () => number = Math.random): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()));
}

/** FATAL_FETCH_CODES end `start()`: configuration a retry cannot fix (the rest is retried by the poll). */
const FATAL_FETCH_CODES: ReadonlySet<string> = new Set([ErrorCodes.GitAuth, ErrorCodes.GitHostKey]);

/** sourceAuth merges a source's HTTP credentials file into its auth. */
function sourceAuth(options: SourceOptions): GitAuth | undefined {
  const http = options.credentialsFile ? loadCredentials(options.credentialsFile) : options.auth?.http;
  if (!http && !options.auth?.ssh) return undefined;
  return { ...(http ? { http } : {}), ...(options.auth?.ssh ? { ssh: options.auth.ssh } : {}) };
}

/**
 * createRemoteSource follows a branch of an http(s) or SSH repository: a clone cache under
 * `${stateDir}/git-cache/` is fetched by the system git (transport.ts: bounded memory, pack size and
 * time) every poll interval (with jitter) and at once on `refresh()` (the webhook calls it).
 * Fetches never overlap: a refresh during a fetch queues one more.
 */
export function createRemoteSource(options: SourceOptions, log: Logger = createLogger('source')): Source {
  const url = options.repo;
  const branch = options.branch ?? 'main';
  const stateDir = resolve(options.stateDir ?? '.gitcell');
  const cacheDir = join(stateDir, 'git-cache', createHash('sha256').update(url).digest('hex').slice(0, 16));
  const gitdir = join(cacheDir, '.git');
  const auth = sourceAuth(options);
  const limits = options.transportLimits ?? DEFAULT_TRANSPORT_LIMITS;
  const trackingRef = `refs/remotes/origin/${branch}`;
  const interval = options.pollIntervalMs ?? DEFAULT_POLL_MS;
  let last: string | undefined;
  let onRev: RevisionCallback | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const fetchOnce = async (): Promise<string | undefined> => {
    if (!existsSync(join(gitdir, 'HEAD'))) await initCache(gitdir, branch);
    const tip = await fetchBranch({ gitdir, url, branch, trackingRef, ...(auth ? { auth } : {}), limits });
    if (tip !== last) {
      last = tip;
      onRev?.({ sha: tip, branch, seenAt: Date.now() });
    }
    return tip;
  };

  const fetches = coalesce(fetchOnce, {
    rerun: () => !stopped,
    onRerunError: (err) => log.warn({ err: errorMessage(err), url: redactUrl(url) }, 'fetch failed'),
  });
  const refresh = fetches.call;

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh()
        .catch((err) => log.warn({ err: errorMessage(err), url: redactUrl(url) }, 'fetch failed'))
        .finally(schedule);
    }, jitteredDelay(interval));
    timer.unref();
  };

  return {
    kind: 'remote',
    gitdir,
    dir: undefined,
    branch,
    subPath: normalizeSubPath(options.subPath),
    remoteUrl: url,
    auth,
    transportLimits: limits,
    trackingRef,
    async start(callback) {
      onRev = callback;
      stopped = false;
      try {
        await refresh();
      } catch (err) {
        // A remote that is down at start is retried by the poll, not fatal; bad credentials are.
        if (FATAL_FETCH_CODES.has((err as GitcellError).code)) throw err;
        log.warn({ err: errorMessage(err), url: redactUrl(url) }, 'first fetch failed, will retry');
      }
      schedule();
      log.info({ url: redactUrl(url), branch, tip: last, pollMs: interval }, 'following remote repository');
    },
    refresh,
    current: () => last,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await fetches.inFlight()?.catch(() => undefined);
      onRev = undefined;
    },
  };
}
