/**
 * The commit page (GET /api/commits/REV): for a commit, branch or tag of the cluster repository, what
 * `gitcell plan` shows against the live cluster (diff, rollout waves, placement preview), the
 * reconciles of that commit and the jobs it last changed, so a reviewer can link it from a pull request.
 */
import { errorMessage } from '../lib/index.ts';
import { isGitcellError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';
import { renderPlan, type SyncStatus } from '../reconciler/index.ts';
import { loadRevision, openRepo, planOnCluster } from '../cli/plan-revision.ts';
import type { CommitInfo, DashboardModel } from './model.ts';
import type { JobView } from './rows.ts';

/** CommitPage is what the commit page shows. */
export interface CommitPage {
  commit: string;
  info?: Awaited<ReturnType<CommitInfo>>;
  reconciles: SyncStatus['history'];
  jobs: Pick<JobView, 'key' | 'status'>[];
  /** the plan as `gitcell plan` prints it */
  plan?: string;
  planNote?: string;
}

/** commitPage answers for `rev`; undefined when the repository has no such revision (or, without one, nothing names it). */
export async function commitPage(m: DashboardModel, repoPath: string | undefined, rev: string, commitInfo?: CommitInfo): Promise<CommitPage | undefined> {
  if (!/^[\w./-]{1,200}$/.test(rev) || rev.includes('..')) return undefined;
  const sources = m.snapshot().sources.map((s) => s.status);
  let commit = rev;
  let plan: string | undefined;
  let planNote: string | undefined;
  if (repoPath) {
    const repo = await openRepo({ repo: repoPath }, []);
    try {
      commit = await repo.resolve(rev);
    } catch (err) {
      if (isGitcellError(err, ErrorCodes.GitRefNotFound)) return undefined;
      throw err;
    }
    try {
      const target = await loadRevision(repo, commit, undefined, false);
      plan = renderPlan(await planOnCluster(m.store, { name: rev, commit }, target), 'text');
    } catch (err) {
      planNote = `could not plan ${rev}: ${errorMessage(err)}`;
    }
  } else {
    planNote = 'the dashboard was started without --repo: no plan';
  }
  const reconciles = sources.flatMap((s) => s.history.filter((h) => h.revision.startsWith(commit)));
  const jobs = m.snapshot().jobs.filter((j) => j.revision.startsWith(commit)).map((j) => ({ key: j.key, status: j.status }));
  if (!repoPath && !reconciles.length && !jobs.length) return undefined;
  const info = commitInfo ? await commitInfo(commit).catch(() => undefined) : undefined;
  return { commit, ...(info ? { info } : {}), reconciles, jobs, ...(plan ? { plan } : {}), ...(planNote ? { planNote } : {}) };
}
