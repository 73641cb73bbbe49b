import * as fs from 'node:fs';
import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import git from 'isomorphic-git';
import { createLogger, type Logger } from '../../lib/log.ts';
import { errorMessage } from '../../lib/errors.ts';
import { coalesce } from './coalesce.ts';
import { normalizeSubPath, resolveLocalRepo } from './gitdir.ts';
import type { RevisionCallback, Source, SourceOptions } from './types.ts';

/**
 * createLocalSource follows a branch of a repository on this machine. chokidar watches HEAD,
 * packed-refs and refs/heads/** (inotify on Linux), so a commit is seen within milliseconds of
 * git renaming its ref lock into place; a slow safety poll covers lost events.
 */
export function createLocalSource(options: SourceOptions, log: Logger = createLogger('source')): Source {
  const { gitdir, dir } = resolveLocalRepo(options.repo);
  const branch = options.branch ?? 'main';
  const trackingRef = `refs/heads/${branch}`;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let last: string | undefined;
  let onRev: RevisionCallback | undefined;

  const readTip = async (): Promise<string | undefined> => {
    try {
      return await git.resolveRef({ fs, gitdir, ref: trackingRef });
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFoundError') return undefined;
      throw err;
    }
  };

  const check = async (): Promise<string | undefined> => {
    const tip = await readTip();
    if (tip !== undefined && tip !== last) {
      last = tip;
      onRev?.({ sha: tip, branch, seenAt: Date.now() });
    }
    return tip;
  };

  // Coalesce bursts of file events: one read in flight, at most one more queued behind it.
  const trigger = coalesce(() =>
    check().catch((err) => {
      log.warn({ err: errorMessage(err), gitdir }, 'reading branch tip failed');
      return last;
    }),
  ).call;

  const wanted = (p: string): boolean => {
    const rel = relative(gitdir, p).split(sep).join('/');
    return rel === '' || rel === 'HEAD' || rel === 'packed-refs' || rel === 'refs' || rel === 'refs/heads' || rel.startsWith('refs/heads/');
  };

  return {
    kind: 'local',
    gitdir,
    dir,
    branch,
    subPath: normalizeSubPath(options.subPath),
    remoteUrl: undefined,
    auth: undefined,
    transportLimits: undefined,
    trackingRef,
    async start(callback) {
      onRev = callback;
      // atomic: false: chokidar would otherwise hold an unlink 100 ms to see if the file comes back,
      // and git replaces refs by renaming their lock files: we want every event at once.
      watcher = watch(gitdir, { ignoreInitial: true, atomic: false, ignored: (p: string) => !wanted(p) });
      watcher.on('all', (_event, path) => {
        if (!path.endsWith('.lock')) void trigger();
      });
      watcher.on('error', (err) => log.warn({ err: errorMessage(err) }, 'watching refs failed'));
      await new Promise<void>((resolve) => watcher!.once('ready', () => resolve()));
      timer = setInterval(() => void trigger(), options.safetyPollMs ?? 10_000);
      timer.unref();
      await trigger();
      log.info({ gitdir, branch, tip: last }, 'following local repository');
    },
    refresh: trigger,
    current: () => last,
    async stop() {
      if (timer) clearInterval(timer);
      await watcher?.close();
      onRev = undefined;
    },
  };
}

