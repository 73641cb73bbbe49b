import type { Command } from 'commander';
import type { ClusterEvent } from '../../api/index.ts';
import { UsageError } from '../../lib/errors.ts';
import type { StoredEvent } from '../../store/index.ts';
import { addClientOptions, withStore, type ClientOptions } from '../client.ts';
import { parseOutput, renderValue } from '../output.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** formatEvent renders one event as a line: time, type, reason, object, message. */
export function formatEvent(e: ClusterEvent): string {
  const o = e.object;
  const obj = `${o.kind}/${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
  return `${e.time}  ${e.type.padEnd(7)}  ${e.reason.padEnd(24)}  ${obj.padEnd(32)}  ${e.message}`;
}

/** registerEvents adds `gitcell events [-w] [--limit N] [--for KIND/NAMESPACE/NAME]`. */
export function registerEvents(program: Command): void {
  addClientOptions(
    program
      .command('events')
      .description('print recent cluster events; -w keeps following new ones')
      .option('-w, --watch', 'keep printing new events')
      .option('--limit <n>', 'how many recent events', '50')
      .option('--for <object>', 'only events of KIND, KIND/NAMESPACE or KIND/NAMESPACE/NAME')
      .option('-o, --output <format>', 'table (or text), json (one object per line), yaml or jsonpath=TEMPLATE (per event)'),
  ).action(async (opts: ClientOptions & { watch?: boolean; limit: string; for?: string; output?: string }) => {
    const out = parseOutput(opts.output === 'text' ? 'table' : opts.output, ['table', 'json', 'yaml', 'jsonpath']);
    if (!/^\d+$/.test(opts.limit)) throw new UsageError(ErrorCodes.Usage, `--limit "${opts.limit}" is not a whole number`, { flag: '--limit' });
    const prefix = opts.for ? opts.for.split('/').join('.') : undefined;
    const print = (e: StoredEvent<ClusterEvent>) =>
      process.stdout.write(out.format === 'json' ? `${JSON.stringify(e.value)}\n` : out.format === 'table' ? `${formatEvent(e.value)}\n` : out.format === 'yaml' ? `---\n${renderValue(e.value, out)}` : renderValue(e.value, out));
    await withStore(opts, 'events', async (store) => {
      const recent = await store.events.recent({ limit: Number(opts.limit), ...(prefix ? { prefix } : {}) });
      recent.forEach(print);
      if (!opts.watch) return;
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const after = recent.at(-1)?.seq;
        for await (const e of store.events.follow({ ...(after !== undefined ? { afterSeq: after } : {}), ...(prefix ? { prefix } : {}), signal: ac.signal })) print(e);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
  });
}
