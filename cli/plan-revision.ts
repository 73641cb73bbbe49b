/**
 * The core of `gitcell plan` shared with the dashboard's commit page: open a repository (a local
 * path or a remote fetched into the clone cache), load and validate a revision, and plan it against
 * the live cluster (diff, rollout waves, a scheduling preview by the scheduler's own core).
 */
import * as fs from 'node:fs';
import git from 'isomorphic-git';
import type { AnyObject } from '../api/index.ts';
import { GitError } from '../lib/errors.ts';
import { silentLogger } from '../lib/log.ts';
import { ErrorCodes } from '../lib/error-codes.ts';
import { buildSnapshot, previewPlacement } from '../scheduler/index.ts';
import { listNodesWithLeases, readLiveness } from '../store/index.ts';
import {
  buildDesired,
  computeRevisionPlan,
  createRemoteSource,
  isRemoteRepo,
  loadManifestsFromGit,
  resolveLocalRepo,
  toValidatedRevision,
  validateManifests,
  withRepoDefaults,
  type RevisionPlan,
  type SchedulingPreview,
  type ValidationMessage,
} from '../reconciler/index.ts';
import type { ClientStore } from './client.ts';
import { gitAuthFromFlags, type GitAuthFlags } from './git-auth.ts';

/** RepoFlags say which repository to read and how to reach a remote one. */
export interface RepoFlags extends GitAuthFlags {
  repo: string;
  clusterDir?: string;
  credentialsFile?: string;
}

/** Repo is an opened repository. */
export interface Repo {
  dir: string;
  gitdir: string;
  /** resolve turns a user ref into a commit (remote refs were fetched first). */
  resolve(ref: string): Promise<string>;
}

/** openRepo opens a local repository, or fetches each of `refs` of a remote one into the clone cache. */
export async function openRepo(opts: RepoFlags, refs: string[]): Promise<Repo> {
  if (!isRemoteRepo(opts.repo)) {
    const { gitdir, dir, head } = resolveLocalRepo(opts.repo);
    return {
      dir: dir ?? gitdir,
      gitdir,
      resolve: async (name) => {
        const ref = name === 'HEAD' && head ? head : name;
        try {
          return await git.expandRef({ fs, gitdir, ref }).then((full) => git.resolveRef({ fs, gitdir, ref: full }));
        } catch {
          try {
            return await git.expandOid({ fs, gitdir, oid: ref });
          } catch {
            throw new GitError(ErrorCodes.GitRefNotFound, `${name}: no such branch, tag or commit in ${opts.repo}`, { ref: name });
          }
        }
      },
    };
  }
  // A remote: fetch each branch named into the clone cache, then read from there.
  let gitdir = '';
  const auth = await gitAuthFromFlags(opts, opts.clusterDir);
  for (const branch of refs) {
    const src = createRemoteSource(
      { repo: opts.repo, branch, ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}), ...(opts.credentialsFile ? { credentialsFile: opts.credentialsFile } : {}), ...(auth ? { auth } : {}) },
      silentLogger(),
    );
    await src.refresh();
    gitdir = src.gitdir;
  }
  return { dir: gitdir, gitdir, resolve: (ref) => git.resolveRef({ fs, gitdir, ref: `refs/remotes/origin/${ref}` }) };
}

/** loadRevision loads, validates and builds the desired objects of one commit. */
export async function loadRevision(repo: Repo, commit: string, path: string | undefined, allowPlaintextSecrets: boolean): Promise<{ objects: AnyObject[]; problems: ValidationMessage[] }> {
  const load = await loadManifestsFromGit({ dir: repo.dir, gitdir: repo.gitdir, ref: commit, ...(path ? { path } : {}) });
  const validated = await withRepoDefaults(toValidatedRevision(validateManifests(load, { allowPlaintextSecrets })), { gitdir: repo.gitdir, commit, ...(path ? { subPath: path } : {}) });
  if (validated.problems.length) return { objects: [], problems: validated.problems };
  const built = buildDesired(validated.objects);
  return { objects: built.objects, problems: built.problems };
}

/** previewOnCluster places the plan's new tasks on the live cluster, as the scheduler would. */
export async function previewOnCluster(store: ClientStore, plan: RevisionPlan): Promise<SchedulingPreview> {
  const [nodes, specs, tasks, bindings, liveness] = await Promise.all([listNodesWithLeases(store), store.nodespec.list(), store.tasks.list(), store.bindings.list(), readLiveness(store.cluster)]);
  const view = {
    nodes: nodes.map((r) => r.value),
    nodeSpecs: new Map(specs.map((r) => [r.key, r.value])),
    tasks: tasks.map((r) => r.value),
    bindings: new Map(bindings.map((r) => [r.key, r.value])),
  };
  const { snapshot } = buildSnapshot(view, Date.now(), liveness.graceMs);
  // Tasks of replaced templates and pruned jobs go away: what is left is what the new ones share.
  const retiring = new Set(plan.retiringJobs);
  snapshot.running = snapshot.running.filter((r) => !retiring.has(r.task.jobKey));
  const result = previewPlacement(snapshot, plan.newTasks, { seed: plan.ref.commit });
  return {
    nodes: snapshot.nodes.length,
    placed: result.placements.length,
    unplaced: result.unplaced.map((u) => ({ taskId: u.taskId, jobKey: u.jobKey, message: u.message })),
    preemptions: result.preemptions.map((p) => ({ taskId: p.taskId, node: p.node, priority: p.priority, preemptor: p.preemptor, preemptorPriority: p.preemptorPriority })),
  };
}

/** planOnCluster plans a loaded revision against the live cluster (and previews its placements when it is valid). */
export async function planOnCluster(store: ClientStore, ref: { name: string; commit: string }, target: { objects: AnyObject[]; problems: ValidationMessage[] }, now = Date.now()): Promise<RevisionPlan> {
  const current = (await store.desired.list()).map((r) => r.value);
  // The autoscaler's live counts: what a changed `replicas` of an autoscaled Job will really do.
  const autoscale = new Map((await store.autoscale.list()).map((r) => [r.key, r.value]));
  const p = computeRevisionPlan({ ref, base: { name: 'the live cluster' }, ...target, current, autoscale, now });
  if (!p.problems.length) p.scheduling = await previewOnCluster(store, p);
  return p;
}
