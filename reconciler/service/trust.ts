import { errorMessage, type Logger } from '../../lib/index.ts';
import { sourceStatusKey, type ReconcilerStore, type SyncStatus } from '../apply/index.ts';
import { readRepoSettings, stricterMode, verifyRevision, type TrustStore, type VerifyMode } from '../git/index.ts';
import type { Source } from '../source/index.ts';

/** TrustOptions: the reconciler's own verification mode and its allowed list. */
export interface TrustOptions {
  /** mode from the reconciler flag; `.gitcell.yaml` may only make it stricter. */
  mode: VerifyMode;
  trust: TrustStore;
}

/**
 * verifySourceRevision runs before a revision is read: the mode is the strictest of the flag, the
 * `verifyCommits` of `.gitcell.yaml` at the last applied revision (trusted: it was verified) and at
 * the new one (a commit can ask for more checks, never turn them off for itself). Throws
 * E_UNTRUSTED_COMMIT (the revision is Stalled, nothing applied).
 */
export async function verifySourceRevision(o: { store: ReconcilerStore; source: Source; sourceName: string; revision: string; options: TrustOptions; log: Logger }): Promise<void> {
  const { source, revision } = o;
  const status = await o.store.sync.get(sourceStatusKey(o.sourceName)).catch(() => undefined);
  const lastApplied = (status?.value as SyncStatus | undefined)?.lastAppliedRevision;
  const modeAt = async (commit: string | undefined): Promise<VerifyMode> => {
    if (!commit) return 'off';
    try {
      return (await readRepoSettings({ gitdir: source.gitdir, commit, subPath: source.subPath })).verifyCommits ?? 'off';
    } catch (err) {
      // Unreadable settings cannot loosen anything: verify every commit.
      o.log.warn({ err: errorMessage(err), commit }, 'verify: unreadable .gitcell.yaml; verifying every commit');
      return 'all';
    }
  };
  const mode = [await modeAt(lastApplied), await modeAt(revision)].reduce(stricterMode, o.options.mode);
  if (mode === 'off') return;
  const { verified } = await verifyRevision({ gitdir: source.gitdir, tip: revision, mode, trust: o.options.trust, ...(lastApplied ? { lastApplied } : {}) });
  o.log.info({ revision, mode, commits: verified.length }, 'verify: every commit signed by an allowed key');
}
