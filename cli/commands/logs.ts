import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { AgentError, UsageError, isGitcellError } from '../../lib/errors.ts';
import { archivedTasks, findTaskNode, streamLogs } from '../../agent/index.ts';
import { addClientOptions, connectReader, openReaderStore, type ClientStore } from '../client.ts';
import { parseDuration } from '../duration.ts';
import { parseSelector } from '../kinds.ts';
import { requirementsMatch } from '../../api/index.ts';
import { listTasks } from '../listings.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

interface LogsOptions {
  follow?: boolean;
  tail?: string;
  since?: string;
  timestamps?: boolean;
  previous?: boolean;
  selector?: string;
  namespace: string;
  prefix: string;
  nats?: string;
  creds?: string;
  clusterDir: string;
}

/** sinceTime turns --since (a duration back from now, or an RFC 3339 time) into an ISO time. */
export function sinceTime(since: string, now = Date.now()): string {
  if (/^\d{4}-\d\d-\d\d/.test(since)) {
    const t = Date.parse(since);
    if (!Number.isFinite(t)) throw new UsageError(ErrorCodes.Usage, `--since ${since}: not a time (expected e.g. 10m or 2026-01-02T15:04:05Z)`, { flag: '--since' });
    return new Date(t).toISOString();
  }
  return new Date(now - parseDuration(since, '--since')).toISOString();
}

/** Target is one task whose log to print, and the node that has it when known. */
interface Target {
  taskId: string;
  node?: string;
}

/** nodeNames lists the nodes of the cluster (where kept logs of finished tasks may be). */
async function nodeNames(store: ClientStore): Promise<string[]> {
  return (await store.nodes.list()).map((r) => r.key).sort();
}

/** keptTasks asks every node which tasks of jobs matching `jobKey` have kept logs (finished tasks). */
async function keptTasks(nc: NatsConnection, store: ClientStore, prefix: string, match: (jobKey: string) => boolean): Promise<Target[]> {
  const out: Target[] = [];
  await Promise.all((await nodeNames(store)).map(async (node) => {
    const tasks = await archivedTasks(nc, node, prefix, 3000).catch(() => []); // a node that is down keeps its logs to itself
    for (const t of tasks) if (match(t.jobKey)) out.push({ taskId: t.taskId, node });
  }));
  return out;
}

/**
 * targetTasks resolves `TASK`, `job/NAME`, `daemonset/NAME`, `cronjob/NAME` (every run) or
 * `-l SELECTOR` into tasks: those placed now, and for a job those finished whose logs a node kept.
 */
async function targetTasks(nc: NatsConnection, store: ClientStore, target: string | undefined, opts: LogsOptions): Promise<Target[]> {
  const m = target ? /^(job|jobs|daemonset|daemonsets|ds|cronjob|cronjobs|cj)\/(.+)$/i.exec(target) : null;
  if (target && !m && !opts.selector) return [{ taskId: target }];
  const rows = await listTasks(store);
  if (m) {
    const word = m[1]!.toLowerCase();
    const kind = word.startsWith('d') ? 'DaemonSet' : word.startsWith('c') ? 'CronJob' : 'Job';
    const name = m[2]!;
    // A CronJob's runs are Jobs named <cronjob>-<minutes since epoch>.
    const prefix = kind === 'CronJob' ? `Job/${opts.namespace}/${name}-` : `${kind}/${opts.namespace}/${name}`;
    const match = (key: string) => (kind === 'CronJob' ? key.startsWith(prefix) && /^\d+$/.test(key.slice(prefix.length)) : key === prefix);
    const live = rows.filter((r) => match(r.spec.jobKey) && r.node).map((r) => ({ taskId: r.spec.id, node: r.node! }));
    const liveIds = new Set(live.map((t) => t.taskId));
    const kept = (await keptTasks(nc, store, prefix, match)).filter((t) => !liveIds.has(t.taskId));
    const all = [...kept, ...live].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
    if (!all.length) throw new UsageError(ErrorCodes.NotFound, `${kind} ${opts.namespace}/${name} has no task placed on a node, and no node kept the log of a finished one`, { jobKey: prefix });
    return all;
  }
  const sel = parseSelector(opts.selector ?? '');
  const jobs = await store.desired.list();
  const labelsOf = new Map(jobs.map((j) => [`${j.value.object.kind}/${j.value.object.metadata.namespace ?? 'default'}/${j.value.object.metadata.name}`, j.value.object.metadata.labels ?? {}]));
  const ids = rows
    .filter((r) => r.spec.namespace === opts.namespace && r.node && requirementsMatch(sel, { ...labelsOf.get(r.spec.jobKey), 'gitcell.io/job': r.spec.owner.name }))
    .map((r) => ({ taskId: r.spec.id, node: r.node! }));
  if (!ids.length) throw new UsageError(ErrorCodes.NotFound, `no task in namespace ${opts.namespace} matches -l ${opts.selector}`, { selector: opts.selector });
  return ids;
}

/** prefixed writes a task's chunks line by line, each line led by `[task] ` (several tasks at once). */
function prefixed(task: string, write: (s: string) => void): (chunk: Uint8Array) => void {
  const dec = new TextDecoder();
  let rest = '';
  return (chunk) => {
    const text = rest + dec.decode(chunk, { stream: true });
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    if (lines.length) write(lines.map((l) => `[${task}] ${l}\n`).join(''));
  };
}

type StreamRequest = { follow: boolean; tail?: number; since?: string; timestamps?: boolean; previous?: boolean };

/**
 * streamOne prints one task's log from its node; a task no binding or status names any more (a
 * finished one) is looked for on every node, the first that kept its log answers.
 */
async function streamOne(nc: NatsConnection, store: ClientStore, t: Target, req: StreamRequest, write: (c: Uint8Array) => void, signal: AbortSignal): Promise<void> {
  const known = t.node ?? (await findTaskNode(t.taskId, store.bindings, store.status).catch(() => undefined));
  if (known) return streamLogs(nc, known, { taskId: t.taskId, ...req }, write, { signal });
  for (const node of await nodeNames(store)) {
    try {
      return await streamLogs(nc, node, { taskId: t.taskId, ...req }, write, { signal, timeoutMs: 3000 });
    } catch (err) {
      if (!isGitcellError(err, ErrorCodes.TaskNotFound) && !isGitcellError(err, ErrorCodes.AgentUnreachable)) throw err;
    }
  }
  // The agents' own code for it (agent/logs.ts), so scripts see one code whichever side found nothing.
  throw new AgentError(ErrorCodes.TaskNotFound, `task ${t.taskId}: no node runs it or kept its log${req.previous ? ' (of a previous attempt)' : ''}`, { taskId: t.taskId });
}

async function streamAll(nc: NatsConnection, store: ClientStore, targets: Target[], req: StreamRequest, signal: AbortSignal): Promise<void> {
  const many = targets.length > 1;
  await Promise.all(
    targets.map(async (t) => {
      const write = many ? prefixed(t.taskId, (s) => process.stdout.write(s)) : (c: Uint8Array) => process.stdout.write(c);
      await streamOne(nc, store, t, req, write, signal);
    }),
  );
}

/**
 * registerLogs adds `gitcell logs TASK|job/NAME|cronjob/NAME [-l SELECTOR] [-f] [--since D]
 * [--timestamps] [--tail N] [-p]`: task logs from whichever agents run them, or kept them after the
 * task finished (several tasks: each line led by its task).
 */
export function registerLogs(program: Command): void {
  addClientOptions(program.command('logs'))
    .description('print the log of a task (or of every task of job/NAME, or of -l SELECTOR), fetched through NATS from the agents that run them')
    .argument('[task]', 'task id, job/NAME, daemonset/NAME or cronjob/NAME (every run); finished tasks while their node keeps the log')
    .option('-f, --follow', 'keep streaming new output')
    .option('--tail <n>', 'only the last N lines (of each task)')
    .option('--since <when>', 'only lines newer than a duration (10m, 1h) or a time (RFC 3339)')
    .option('--timestamps', 'lead each line with the time it was written')
    .option('-p, --previous', 'the log of the attempt before the current one (the container a restart replaced)')
    .option('-l, --selector <selector>', 'the tasks of the jobs matching this label selector')
    .option('-n, --namespace <ns>', 'namespace of job/NAME and -l', 'default')
    .action(async (task: string | undefined, opts: LogsOptions) => {
      if (!task && !opts.selector) throw new UsageError(ErrorCodes.Usage, 'logs: name a task, job/NAME, or -l SELECTOR', {});
      let tail: number | undefined;
      if (opts.tail !== undefined) {
        if (!/^\d+$/.test(opts.tail)) throw new UsageError(ErrorCodes.Usage, `--tail: "${opts.tail}" is not a non-negative whole number`, { flag: '--tail' });
        tail = Number(opts.tail);
      }
      const since = opts.since !== undefined ? sinceTime(opts.since) : undefined;
      const nc = await connectReader(opts, 'logs');
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      try {
        const store = await openReaderStore(nc, opts);
        const targets = await targetTasks(nc, store, task, opts);
        await streamAll(nc, store, targets, {
          follow: !!opts.follow, ...(tail !== undefined ? { tail } : {}), ...(since ? { since } : {}), ...(opts.timestamps ? { timestamps: true } : {}), ...(opts.previous ? { previous: true } : {}),
        }, ac.signal);
      } finally {
        process.off('SIGINT', onSignal);
        await nc.close();
      }
    });
}
