import type { Command } from 'commander';
import { DEFAULT_NAMESPACE } from '../../api/index.ts';
import { addClientOptions, withStore, type ClientOptions } from '../client.ts';
import { describe } from '../describe.ts';
import { BUILTIN_KINDS, resolveKind } from '../kinds.ts';
import { clusterKinds } from '../listings.ts';

/**
 * registerDescribe adds `gitcell describe KIND NAME [-n NAMESPACE]`: a curated summary of one
 * object (job, daemonset, cronjob, secret, service, node, task, CRD or user kind), its conditions, tasks
 * and recent events (cli/describe.ts).
 */
export function registerDescribe(program: Command): void {
  addClientOptions(
    program
      .command('describe')
      .description('show one object: summary, conditions, tasks and recent events')
      .argument('<kind>', 'job, daemonset, cronjob, secret, service, node, task, crd or a user kind (any of its names)')
      .argument('<name>', 'object name (a task: its id, or a unique start of it)')
      .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE),
  ).action(async (kindArg: string, name: string, opts: ClientOptions & { namespace: string }) => {
    const text = await withStore(opts, 'describe', async (store) => {
      const kind = resolveKind(kindArg, await clusterKinds(store, BUILTIN_KINDS));
      return describe(store, kind.kind, opts.namespace, name);
    });
    process.stdout.write(text);
  });
}
