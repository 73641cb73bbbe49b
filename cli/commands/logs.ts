import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { UsageError } from '../../lib/errors.ts';
import { findTaskNode, streamLogs } from '../../agent/index.ts';
import { connectReader, openReaderStore, type ClientStore } from '../client.ts';
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
  selector?: string;
  namespace: string;
  prefix: string;
  nats?: string;
  creds?: string;
  stateDir: string;
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

/** targetTasks resolves `TASK`, `job/NAME`, `daemonset/NAME` or `-l SELECTOR` into task ids. */
async function targetTasks(store: ClientStore, target: string | undefined, opts: LogsOptions): Promise<string[]> {
  const m = target ? /^(job|jobs|daemonset|daemonsets|ds)\/(.+)$/i.exec(target) : null;
  if (target && !m && !opts.selector) return [target];
  const rows = await listTasks(store);
  if (m) {
    const kind = m[1]!.toLowerCase().startsWith('d') ? 'DaemonSet' : 'Job';
    const jobKey = `${kind}/${opts.namespace}/${m[2]}`;
    const ids = rows.filter((r) => r.spec.jobKey === jobKey && r.node).map((r) => r.spec.id);
    if (!ids.length) throw new UsageError(ErrorCodes.NotFound, `${kind} ${opts.namespace}/${m[2]} has no task placed on a node`, { jobKey });
    return ids;
  }
  const sel = parseSelector(opts.selector ?? '');
  const jobs = await store.desired.list();
  const labelsOf = new Map(jobs.map((j) => [`${j.value.object.kind}/${j.value.object.metadata.namespace ?? 'default'}/${j.value.object.metadata.name}`, j.value.object.metadata.labels ?? {}]));
  const ids = rows
    .filter((r) => r.spec.namespace === opts.namespace && r.node && requirementsMatch(sel, { ...labelsOf.get(r.spec.jobKey), 'gitcell.io/job': r.spec.owner.name }))
    .map((r) => r.spec.id);
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

async function streamAll(nc: NatsConnection, store: ClientStore, ids: string[], req: { follow: boolean; tail?: number; since?: string; timestamps?: boolean }, signal: AbortSignal): Promise<void> {
  const many = ids.length > 1;
  await Promise.all(
    ids.map(async (taskId) => {
      const node = await findTaskNode(taskId, store.bindings, store.status);
      const write = many ? prefixed(taskId, (s) => process.stdout.write(s)) : (c: Uint8Array) => process.stdout.write(c);
      await streamLogs(nc, node, { taskId, ...req }, write, { signal });
    }),
  );
}

/**
 * registerLogs adds `gitcell logs TASK|job/NAME [-l SELECTOR] [-f] [--since D] [--timestamps]
 * [--tail N]`: task logs from whichever agents run them (several tasks: each line led by its task).
 */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('print the log of a task (or of every task of job/NAME, or of -l SELECTOR), fetched through NATS from the agents that run them')
    .argument('[task]', 'task id, job/NAME or daemonset/NAME')
    .option('-f, --follow', 'keep streaming new output')
    .option('--tail <n>', 'only the last N lines (of each task)')
    .option('--since <when>', 'only lines newer than a duration (10m, 1h) or a time (RFC 3339)')
    .option('--timestamps', 'lead each line with the time it was written')
    .option('-l, --selector <selector>', 'the tasks of the jobs matching this label selector')
    .option('-n, --namespace <ns>', 'namespace of job/NAME and -l', 'default')
    .option('--nats <urls>', 'NATS server(s); default: the embedded server of --state-dir')
    .option('--creds <file>', 'NATS credentials file')
    .option('--state-dir <dir>', 'state dir of the embedded cluster (or GITCELL_STATE_DIR)', process.env.GITCELL_STATE_DIR ?? '.gitcell')
    .option('--prefix <prefix>', 'bucket name prefix', 'gitcell_')
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
        const ids = await targetTasks(store, task, opts);
        await streamAll(nc, store, ids, { follow: !!opts.follow, ...(tail !== undefined ? { tail } : {}), ...(since ? { since } : {}), ...(opts.timestamps ? { timestamps: true } : {}) }, ac.signal);
      } finally {
        process.off('SIGINT', onSignal);
        await nc.close();
      }
    });
}
