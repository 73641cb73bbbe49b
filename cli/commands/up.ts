import type { Command } from 'commander';
import { GitcellError } from '../../lib/errors.ts';

/** registerUp adds `gitcell up`: the whole system on one machine (built in its own issue). */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the whole cluster on this machine, following a Git repository')
    .option('--repo <path|url>', 'repository to follow', 'sample-repo')
    .option('--nodes <n>', 'number of simulated nodes', '3')
    .option('--nats <url>', 'connect to an existing NATS cluster instead of starting one')
    .option('--state-dir <dir>', 'state directory', '.gitcell')
    .action(() => {
      throw new GitcellError('E_NOT_IMPLEMENTED', 'gitcell up is not built yet: it needs the store, runtime, scheduler, agent and reconciler');
    });
}
