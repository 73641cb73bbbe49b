import * as fs from 'node:fs';
import type { Command } from 'commander';
import git from 'isomorphic-git';
import type { ClusterEvent } from '../../api/index.ts';
import { DEFAULT_NAMESPACE } from '../../api/index.ts';
import { UsageError, GitError } from '../../lib/errors.ts';
import { desiredKey } from '../../store/index.ts';
import { resolveLocalRepo } from '../../reconciler/index.ts';
import { addClientOptions, table, withStore, type ClientOptions } from '../client.ts';
import { parseDuration } from '../duration.ts';
import { waitForRollout } from '../rollout-status.ts';
import { clusterSigningKey, commitsToRevert, undoRollouts } from '../rollout-undo.ts';
import { addGitAuthOptions, gitAuthFromFlags, type GitAuthFlags } from '../git-auth.ts';
import { addOutputOption, parseOutput, renderValue } from '../output.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** RolloutHistoryEntry is one rollout of a job: which commit, who wrote it, how it ended. */
export interface RolloutHistoryEntry {
  revision: number;
  commit: string;
  template: string;
  startedAt: string;
  result: 'Complete' | 'Failed' | 'Progressing' | 'Superseded';
  finishedAt?: string;
  message?: string;
  author?: string;
  subject?: string;
}

/**
 * rolloutHistory pairs a job's RolloutStarted events with the RolloutComplete or RolloutFailed
 * that ended each (events in stream order). Pure; bounded by the events stream's retention.
 */
export function rolloutHistory(events: readonly ClusterEvent[]): RolloutHistoryEntry[] {
  const out: RolloutHistoryEntry[] = [];
  for (const e of events) {
    if (e.reason === 'RolloutStarted') {
      // A new template before the previous rollout ended replaces it, as a new commit does.
      const prev = out.at(-1);
      if (prev?.result === 'Progressing') Object.assign(prev, { result: 'Superseded', finishedAt: e.time });
      const m = /template (\S+) of revision (\S+)/.exec(e.message);
      out.push({ revision: out.length + 1, commit: m?.[2] ?? '', template: m?.[1] ?? '', startedAt: e.time, result: 'Progressing' });
      continue;
    }
    const open = out.at(-1);
    if (!open || open.result !== 'Progressing') continue;
    if (e.reason === 'RolloutComplete') Object.assign(open, { result: 'Complete', finishedAt: e.time });
    else if (e.reason === 'RolloutFailed') Object.assign(open, { result: 'Failed', finishedAt: e.time, message: e.message });
  }
  return out;
}

/** jobRef reads `NAME`, `job/NAME` or `daemonset/NAME` (ds/NAME). */
export function jobRef(arg: string): { kind: 'Job' | 'DaemonSet'; name: string } {
  const [prefix, name] = arg.includes('/') ? [arg.slice(0, arg.indexOf('/')).toLowerCase(), arg.slice(arg.indexOf('/') + 1)] : ['job', arg];
  if (['job', 'jobs'].includes(prefix)) return { kind: 'Job', name };
  if (['daemonset', 'daemonsets', 'ds'].includes(prefix)) return { kind: 'DaemonSet', name };
  throw new UsageError(ErrorCodes.Usage, `${arg}: expected NAME, job/NAME or daemonset/NAME`, { arg });
}

/** registerRollout adds `gitcell rollout history|status|undo JOB`. */
export function registerRollout(program: Command): void {
  const rollout = program.command('rollout').description('rollouts of a Job or DaemonSet: history, status (wait, for CI), undo (a revert commit)');
  addClientOptions(
    rollout
      .command('status')
      .description('wait for a rollout to end; exit 0 complete, 1 failed or reverted, 2 timed out')
      .argument('<job>', 'Job name (or job/NAME, daemonset/NAME)')
      .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE)
      .option('--timeout <duration>', 'give up after this long (exit 2)', '5m')
      .option('--revision <commit>', 'first wait for the reconciler to apply this commit (CI: the commit just pushed)')
      .option('--source <name>', 'source name of the reconciler (with --revision)', 'main'),
  ).action(statusCommand);
  addClientOptions(addGitAuthOptions(
    rollout
      .command('undo')
      .description('undo a rollout by a revert commit on the followed branch, made (and signed) like the automatic one')
      .argument('<job>', 'Job name (or job/NAME, daemonset/NAME)')
      .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE)
      .option('--to-revision <n>', 'revert every rollout after revision N of `rollout history` (default: the newest one)')
      .option('--repo <path|url>', 'the repository the reconciler follows (a local clone, or its URL)', '.')
      .option('--branch <branch>', 'the branch it follows (default: the checked-out branch, or main for a URL)')
      .option('--credentials-file <file>', 'Git HTTP credentials for a URL')
      .option('--signing-key <file>', "the cluster's SSH signing key: the revert is signed with it, as the reconciler signs its own (default <cluster-dir>/git-signing/id_ed25519 when it exists)"),
  )).action(undoCommand);
  addClientOptions(addOutputOption(
    rollout
      .command('history')
      .description('list the rollouts of a job: revision, commit, author, result')
      .argument('<job>', 'Job name (or daemonset/NAME)')
      .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE)
      .option('--repo <path>', 'local clone of the repository, to show commit authors and subjects'),
  )).action(historyCommand);
}

/** statusCommand waits for a rollout to end and sets the exit code (0 complete, 1 failed or reverted, 2 timed out). */
async function statusCommand(job: string, opts: ClientOptions & { namespace: string; timeout: string; revision?: string; source: string }): Promise<void> {
  const { kind, name } = jobRef(job);
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  if (opts.revision !== undefined && !/^[0-9a-f]{4,40}$/.test(opts.revision)) throw new UsageError(ErrorCodes.Usage, `--revision ${opts.revision}: expected a commit id (hex)`, { flag: '--revision' });
  const target = { kind, namespace: opts.namespace, name, source: opts.source, ...(opts.revision ? { revision: opts.revision } : {}) };
  process.exitCode = await withStore(opts, 'rollout status', (store) => waitForRollout(store, target, timeoutMs, (line) => process.stdout.write(`${line}\n`)));
}

/** undoCommand reverts the rollouts after a revision by commits on the followed branch, signed with the cluster key when there is one. */
async function undoCommand(job: string, opts: ClientOptions & GitAuthFlags & { namespace: string; toRevision?: string; repo: string; branch?: string; credentialsFile?: string; signingKey?: string }): Promise<void> {
  const { kind, name } = jobRef(job);
  if (opts.toRevision !== undefined && !/^\d+$/.test(opts.toRevision)) throw new UsageError(ErrorCodes.Usage, `--to-revision ${opts.toRevision}: expected a whole number`, { flag: '--to-revision' });
  const signingKey = clusterSigningKey(opts.signingKey, opts.clusterDir);
  const history = await withStore(opts, 'rollout undo', async (store) => rolloutHistory((await store.events.recent({ limit: 10_000, prefix: `${kind}.${opts.namespace}.${name}` })).map((e) => e.value)));
  const commits = commitsToRevert(history, opts.toRevision !== undefined ? Number(opts.toRevision) : undefined);
  const what = `${kind} ${opts.namespace}/${name}`;
  const auth = await gitAuthFromFlags(opts, opts.clusterDir);
  const where = {
    repo: opts.repo,
    ...(opts.branch ? { branch: opts.branch } : {}),
    ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}),
    ...(opts.credentialsFile ? { credentialsFile: opts.credentialsFile } : {}),
    ...(auth ? { auth } : {}),
    ...(signingKey ? { signingKey } : {}),
  };
  const results = await undoRollouts(where, commits, what);
  for (const { commit, result } of results) {
    const c = commit.slice(0, 12);
    if (result.outcome === 'reverted') process.stdout.write(`reverted ${c}: commit ${result.sha.slice(0, 12)}${result.pushed ? ' (pushed)' : ''}\n`);
    else if (result.outcome === 'nothing-to-revert') process.stdout.write(`${c}: already undone on the branch\n`);
    else if (result.outcome === 'not-on-branch') throw new GitError(ErrorCodes.NotOnBranch, `${c} is not on the branch any more: nothing to revert`, { commit });
    else if (result.outcome === 'conflict') throw new GitError(ErrorCodes.RevertConflict, result.message, { commit, files: result.files });
    else process.stdout.write(`${c}: a revert is proposed on branch ${result.branch} already\n`);
  }
}

/** historyCommand lists the rollouts of a job, with commit authors and subjects from a local clone. */
async function historyCommand(job: string, opts: ClientOptions & { namespace: string; repo?: string; output?: string }): Promise<void> {
  const out = parseOutput(opts.output, ['table', 'json', 'yaml', 'jsonpath']);
  const [kind, name] = job.includes('/') ? [job.split('/')[0]!.toLowerCase().startsWith('d') ? 'DaemonSet' : 'Job', job.split('/')[1]!] : ['Job', job];
  const entries = await withStore(opts, 'rollout history', async (store) => {
    const rec = await store.desired.get(desiredKey(kind, opts.namespace, name));
    const events = await store.events.recent({ limit: 10_000, prefix: `${kind}.${opts.namespace}.${name}` });
    if (!rec && events.length === 0) throw new UsageError(ErrorCodes.NotFound, `${kind} ${opts.namespace}/${name} not found`, { kind, name });
    return rolloutHistory(events.map((e) => e.value));
  });
  if (opts.repo) {
    const { gitdir } = resolveLocalRepo(opts.repo);
    for (const e of entries) {
      try {
        const c = (await git.readCommit({ fs, gitdir, oid: e.commit })).commit;
        e.author = `${c.author.name} <${c.author.email}>`;
        e.subject = c.message.split('\n')[0] ?? '';
      } catch {
        e.author = '(commit not in this clone)';
      }
    }
  }
  if (out.format !== 'table') return void process.stdout.write(renderValue(entries, out));
  if (!entries.length) {
    process.stdout.write(`no rollouts recorded for ${kind} ${opts.namespace}/${name}\n`);
    return;
  }
  process.stdout.write(
    table(
      ['REVISION', 'COMMIT', 'AUTHOR', 'RESULT', 'STARTED', ...(opts.repo ? ['SUBJECT'] : []), 'MESSAGE'],
      entries.map((e) => [e.revision, e.commit.slice(0, 12), e.author ?? '-', e.result, e.startedAt, ...(opts.repo ? [e.subject ?? ''] : []), e.message ?? '']),
    ),
  );
}
