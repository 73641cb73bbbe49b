import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.ts';
import {
  computeRevisionPlan,
  isRemoteRepo,
  nextDesiredRecord,
  renderPlan,
  PLAN_FORMATS,
  planHasChanges,
  type DesiredRecord,
  type PlanFormat,
  type RevisionPlan,
} from '../../reconciler/index.ts';
import { addClientOptions, withStore, type ClientOptions } from '../client.ts';
import { parseOutput, renderValue } from '../output.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { addGitAuthOptions, type GitAuthFlags } from '../git-auth.ts';
import { loadRevision, openRepo, planOnCluster } from '../plan-revision.ts';

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

/**
 * registerPlan adds `gitcell plan`: what merging REF would do against the live cluster (or against
 * BASE without one): objects created, changed (field by field, Secret values hidden) and pruned,
 * the rollout steps, and where the new tasks would land. Exit 1 when the revision is invalid or refused.
 */
export function registerPlan(program: Command): void {
  addClientOptions(addGitAuthOptions(
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
      plan = await withStore(opts, 'plan', (store) => planOnCluster(store, { name: refName, commit }, target, now));
    }
    if (out && (out.format === 'yaml' || out.format === 'jsonpath')) process.stdout.write(renderValue(JSON.parse(renderPlan(plan, 'json')), out));
    else process.stdout.write(renderPlan(plan, opts.format as PlanFormat));
    if (plan.problems.length || plan.refused) process.exitCode = 1;
    else if (opts.exitCode && planHasChanges(plan)) process.exitCode = 2;
  });
}
