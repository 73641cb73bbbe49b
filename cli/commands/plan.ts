import * as fs from 'node:fs';
import type { Command } from 'commander';
import git from 'isomorphic-git';
import type { AnyObject } from '../../api/index.ts';
import { GitError, UsageError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { buildSnapshot, previewPlacement } from '../../scheduler/index.ts';
import {
  buildDesired,
  computeRevisionPlan,
  createRemoteSource,
  isRemoteRepo,
  loadManifestsFromGit,
  nextDesiredRecord,
  renderPlan,
  resolveLocalRepo,
  toValidatedRevision,
  validateManifests,
  withRepoDefaults,
  DEFAULT_NODE_GRACE_MS,
  PLAN_FORMATS,
  planHasChanges,
  type DesiredRecord,
  type PlanFormat,
  type RevisionPlan,
  type SchedulingPreview,
  type ValidationMessage,
} from '../../reconciler/index.ts';
import { addClusterOptions, withStore, type ClientOptions, type ClientStore } from '../client.ts';
import { parseOutput, renderValue } from '../output.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { addGitAuthOptions, gitAuthFromFlags, type GitAuthFlags } from '../git-auth.ts';

interface PlanOptions extends ClientOptions, GitAuthFlags {
  repo: string;
  ref?: string;
  base?: string;
  path?: string;
  format: string;
  credentialsFile?: string;
  allowPlaintextSecrets?: boolean;
  output?: string;
  exitCode?: boolean;
}

interface Repo {
  dir: string;
  gitdir: string;
  /** resolve turns a user ref into a commit (remote refs were fetched first). */
  resolve(ref: string): Promise<string>;
}

async function openRepo(opts: PlanOptions, refs: string[]): Promise<Repo> {
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
  const auth = await gitAuthFromFlags(opts, opts.stateDir);
  for (const branch of refs) {
    const src = createRemoteSource(
      { repo: opts.repo, branch, ...(opts.stateDir ? { stateDir: opts.stateDir } : {}), ...(opts.credentialsFile ? { credentialsFile: opts.credentialsFile } : {}), ...(auth ? { auth } : {}) },
      silentLogger(),
    );
    await src.refresh();
    gitdir = src.gitdir;
  }
  return { dir: gitdir, gitdir, resolve: (ref) => git.resolveRef({ fs, gitdir, ref: `refs/remotes/origin/${ref}` }) };
}

async function loadRevision(repo: Repo, commit: string, path: string | undefined, allowPlaintextSecrets: boolean): Promise<{ objects: AnyObject[]; problems: ValidationMessage[] }> {
  const load = await loadManifestsFromGit({ dir: repo.dir, gitdir: repo.gitdir, ref: commit, ...(path ? { path } : {}) });
  const validated = await withRepoDefaults(toValidatedRevision(validateManifests(load, { allowPlaintextSecrets })), { gitdir: repo.gitdir, commit, ...(path ? { subPath: path } : {}) });
  if (validated.problems.length) return { objects: [], problems: validated.problems };
  const built = buildDesired(validated.objects);
  return { objects: built.objects, problems: built.problems };
}

async function previewOnCluster(store: ClientStore, plan: RevisionPlan): Promise<SchedulingPreview> {
  const [nodes, specs, tasks, bindings] = await Promise.all([store.nodes.list(), store.nodespec.list(), store.tasks.list(), store.bindings.list()]);
  const view = {
    nodes: nodes.map((r) => r.value),
    nodeSpecs: new Map(specs.map((r) => [r.key, r.value])),
    tasks: tasks.map((r) => r.value),
    bindings: new Map(bindings.map((r) => [r.key, r.value])),
  };
  const { snapshot } = buildSnapshot(view, Date.now(), DEFAULT_NODE_GRACE_MS);
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

/**
 * registerPlan adds `gitcell plan`: what merging REF would do against the live cluster (or against
 * BASE without one): objects created, changed (field by field, Secret values hidden) and pruned,
 * the rollout steps, and where the new tasks would land. Exit 1 when the revision is invalid or refused.
 */
export function registerPlan(program: Command): void {
  addClusterOptions(addGitAuthOptions(
    program
      .command('plan')
      .description('show what merging a revision would do: creates, field-level changes, prunes, rollout steps, scheduling preview')
      .option('--repo <path|url>', 'repository (local path, http(s) URL, ssh://host/path or user@host:path)', '.')
      .option('--ref <ref>', 'revision to plan (branch, tag or commit; default HEAD, or main for a URL)')
      .option('--base <ref>', 'compare against this revision instead of the live cluster')
      .option('--path <dir>', 'folder of the repository holding the manifests')
      .option('--format <format>', `output format: ${PLAN_FORMATS.join(', ')}`, 'text')
      .option('-o, --output <format>', 'output format: table (the text form), json, yaml, markdown or jsonpath=TEMPLATE')
      .option('--exit-code', 'exit 0 when nothing would change, 2 when something would, 1 on an error (as terraform plan -detailed-exitcode)')
      .option('--credentials-file <file>', 'Git HTTP credentials for a URL')
      .option('--allow-plaintext-secrets', 'accept plaintext Secrets annotated gitcell.io/allow-plaintext (dev only)'),
  )).action(async (opts: PlanOptions) => {
    // -o is the flag every command shares; --format stays for scripts written before it.
    const out = opts.output === 'markdown' || opts.output === 'text' ? undefined : opts.output !== undefined ? parseOutput(opts.output, ['table', 'json', 'yaml', 'jsonpath']) : undefined;
    if (opts.output === 'markdown' || opts.output === 'text') opts.format = opts.output;
    else if (out) opts.format = out.format === 'table' ? 'text' : 'json';
    if (!(PLAN_FORMATS as readonly string[]).includes(opts.format)) {
      throw new UsageError(ErrorCodes.Usage, `--format ${opts.format}: expected one of ${PLAN_FORMATS.join(', ')}`, { flag: '--format' });
    }
    const remote = isRemoteRepo(opts.repo);
    const refName = opts.ref ?? (remote ? 'main' : 'HEAD');
    const repo = await openRepo(opts, [refName, ...(opts.base ? [opts.base] : [])]);
    const commit = await repo.resolve(refName);
    const target = await loadRevision(repo, commit, opts.path, opts.allowPlaintextSecrets === true);
    const now = Date.now();
    let plan: RevisionPlan;
    if (opts.base) {
      const baseCommit = await repo.resolve(opts.base);
      const base = await loadRevision(repo, baseCommit, opts.path, opts.allowPlaintextSecrets === true);
      if (base.problems.length) throw new UsageError(ErrorCodes.BaseInvalid, `base ${opts.base} is itself invalid: ${base.problems[0]!.file}:${base.problems[0]!.line}: ${base.problems[0]!.message}`, { ref: opts.base });
      const current: DesiredRecord[] = base.objects.map((o) => nextDesiredRecord(undefined, o, { type: 'git', revision: baseCommit }, new Date(now).toISOString()));
      plan = computeRevisionPlan({ ref: { name: refName, commit }, base: { name: opts.base, commit: baseCommit }, ...target, current, now });
      plan.scheduling = { nodes: 0, placed: 0, unplaced: [], preemptions: [], note: 'no cluster (--base): scheduling preview skipped' };
    } else {
      plan = await withStore(opts, 'plan', async (store) => {
        const current = (await store.desired.list()).map((r) => r.value);
        const p = computeRevisionPlan({ ref: { name: refName, commit }, base: { name: 'the live cluster' }, ...target, current, now });
        if (!p.problems.length) p.scheduling = await previewOnCluster(store, p);
        return p;
      });
    }
    if (out && (out.format === 'yaml' || out.format === 'jsonpath')) process.stdout.write(renderValue(JSON.parse(renderPlan(plan, 'json')), out));
    else process.stdout.write(renderPlan(plan, opts.format as PlanFormat));
    if (plan.problems.length || plan.refused) process.exitCode = 1;
    else if (opts.exitCode && planHasChanges(plan)) process.exitCode = 2;
  });
}
