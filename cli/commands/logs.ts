import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.ts';
import { connectReader, openReaderStore } from '../client.ts';
import { findTaskNode, streamLogs } from '../../agent/index.ts';

/** registerLogs adds `gitcell logs TASK [-f] [--tail N]`: a task's log from whichever agent runs it. */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('print the log of a task, fetched through NATS from the agent that runs it')
    .argument('<task>', 'task id')
    .option('-f, --follow', 'keep streaming new output')
    .option('--tail <n>', 'only the last N lines')
    .option('--nats <urls>', 'NATS server(s); default: the embedded server of --state-dir')
    .option('--creds <file>', 'NATS credentials file')
    .option('--state-dir <dir>', 'state dir of the embedded cluster (or GITCELL_STATE_DIR)', process.env.GITCELL_STATE_DIR ?? '.gitcell')
    .option('--prefix <prefix>', 'bucket name prefix', 'gitcell_')
    .action(async (task: string, opts: { follow?: boolean; tail?: string; nats?: string; creds?: string; stateDir: string; prefix: string }) => {
      let tail: number | undefined;
      if (opts.tail !== undefined) {
        if (!/^\d+$/.test(opts.tail)) throw new UsageError('E_USAGE', `--tail: "${opts.tail}" is not a non-negative whole number`, { flag: '--tail' });
        tail = Number(opts.tail);
      }
      const nc = await connectReader(opts, 'logs');
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      try {
        const store = await openReaderStore(nc, opts);
        const node = await findTaskNode(task, store.bindings, store.status);
        await streamLogs(nc, node, { taskId: task, follow: !!opts.follow, ...(tail !== undefined ? { tail } : {}) }, (chunk) => process.stdout.write(chunk), { signal: ac.signal });
      } finally {
        process.off('SIGINT', onSignal);
        await nc.close();
      }
    });
}
