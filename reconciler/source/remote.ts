import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { createLogger, type Logger } from '../../lib/log.ts';
import { errorMessage, GitcellError, GitError } from '../../lib/errors.ts';
import { coalesce } from './coalesce.ts';
import { loadCredentials } from './credentials.ts';
import { normalizeSubPath } from './gitdir.ts';
import type { GitCredentials, RevisionCallback, Source, SourceOptions } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** DEFAULT_POLL_MS is how often a remote is fetched without a webhook: 60 s, like Flux's default. */
export const DEFAULT_POLL_MS = 60_000;

/** jitteredDelay spreads polls of many replicas over ±10 % of the interval. */
export function jitteredDelay(intervalMs: number, random: () => number = Math.random): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()));
}

/** onAuthFor returns isomorphic-git's auth callback for basic credentials (none when undefined). */
export function onAuthFor(credentials: GitCredentials | undefined): (() => GitCredentials) | undefined {
  return credentials ? () => credentials : undefined;
}

/**
 * createRemoteSource follows a branch of an http(s) repository: a clone cache under
 * `${stateDir}/git-cache/` is fetched every poll interval (with jitter) and at once on `refresh()`
 * (the webhook calls it). Fetches never overlap: a refresh during a fetch queues one more.
 */
export function createRemoteSource(options: SourceOptions, log: Logger = createLogger('source')): Source {
  const url = options.repo;
  const branch = options.branch ?? 'main';
  const stateDir = resolve(options.stateDir ?? '.gitcell');
  const cacheDir = join(stateDir, 'git-cache', createHash('sha256').update(url).digest('hex').slice(0, 16));
  const gitdir = join(cacheDir, '.git');
  const credentials = options.credentialsFile ? loadCredentials(options.credentialsFile) : undefined;
  const onAuth = onAuthFor(credentials);
  const trackingRef = `refs/remotes/origin/${branch}`;
  const interval = options.pollIntervalMs ?? DEFAULT_POLL_MS;
  let last: string | undefined;
  let onRev: RevisionCallback | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const fetchOnce = async (): Promise<string | undefined> => {
    if (!fs.existsSync(join(gitdir, 'HEAD'))) {
      fs.mkdirSync(cacheDir, { recursive: true });
      await git.init({ fs, dir: cacheDir, defaultBranch: branch });
      await git.addRemote({ fs, dir: cacheDir, remote: 'origin', url, force: true });
    }
    try {
      await git.fetch({ fs, http, dir: cacheDir, gitdir, remote: 'origin', ref: branch, singleBranch: true, tags: false, onAuth });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'HttpError' && /401|403/.test(errorMessage(err))) {
        throw new GitError(ErrorCodes.GitAuth, `fetching ${url}: authentication failed (${errorMessage(err)})`, { url });
      }
      if (code === 'NotFoundError' || code === 'NoRefspecError') {
        throw new GitError(ErrorCodes.BranchNotFound, `fetching ${url}: branch "${branch}" not found`, { url, branch });
      }
      throw new GitError(ErrorCodes.GitFetch, `fetching ${url}: ${errorMessage(err)}`, { url }, { cause: err });
    }
    const tip = await git.resolveRef({ fs, gitdir, ref: trackingRef });
    if (tip !== last) {
      last = tip;
      onRev?.({ sha: tip, branch, seenAt: Date.now() });
    }
    return tip;
  };

  const fetches = coalesce(fetchOnce, {
    rerun: () => !stopped,
    onRerunError: (err) => log.warn({ err: errorMessage(err), url }, 'fetch failed'),
  });
  const refresh = fetches.call;

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh()
        .catch((err) => log.warn({ err: errorMessage(err), url }, 'fetch failed'))
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
    credentials,
    trackingRef,
    async start(callback) {
      onRev = callback;
      stopped = false;
      try {
        await refresh();
      } catch (err) {
        // A remote that is down at start is retried by the poll, not fatal; bad credentials are.
        if ((err as GitcellError).code === ErrorCodes.GitAuth) throw err;
        log.warn({ err: errorMessage(err), url }, 'first fetch failed, will retry');
      }
      schedule();
      log.info({ url, branch, tip: last, pollMs: interval }, 'following remote repository');
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
