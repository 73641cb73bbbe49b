import * as fs from 'node:fs';
import type { Command } from 'commander';
import git from 'isomorphic-git';
import type { ClusterEvent } from '../../api/index.ts';
import { DEFAULT_NAMESPACE } from '../../api/index.ts';
import { GitcellError } from '../../lib/errors.ts';
import { desiredKey } from '../../store/index.ts';
import { resolveLocalRepo } from '../../reconciler/index.ts';
import { addClusterOptions, outputFormat, printJson, table, withStore, type ClientOptions } from '../client.ts';

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

/** registerRollout adds `gitcell rollout history JOB`: each rollout's revision, commit, author and result. */
export function registerRollout(program: Command): void {
  const rollout = program.command('rollout').description('rollouts of a Job or DaemonSet');
  addClusterOptions(
    rollout
      .command('history')
      .description('list the rollouts of a job: revision, commit, author, result')
      .argument('<job>', 'Job name (or daemonset/NAME)')
      .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE)
      .option('--repo <path>', 'local clone of the repository, to show commit authors and subjects')
      .option('-o, --output <format>', 'table or json'),
  ).action(async (job: string, opts: ClientOptions & { namespace: string; repo?: string; output?: string }) => {
    const format = outputFormat(opts.output);
    const [kind, name] = job.includes('/') ? [job.split('/')[0]!.toLowerCase().startsWith('d') ? 'DaemonSet' : 'Job', job.split('/')[1]!] : ['Job', job];
    const entries = await withStore(opts, 'rollout history', async (store) => {
      const rec = await store.desired.get(desiredKey(kind, opts.namespace, name));
      const events = await store.events.recent({ limit: 10_000, prefix: `${kind}.${opts.namespace}.${name}` });
      if (!rec && events.length === 0) throw new GitcellError('E_NOT_FOUND', `${kind} ${opts.namespace}/${name} not found`, { kind, name });
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
    if (format === 'json') return printJson(entries);
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
  });
}
