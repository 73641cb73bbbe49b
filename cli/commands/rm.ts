import type { Command } from 'commander';
import { errorMessage } from '../../lib/errors.ts';
import { openManager } from '../containers.ts';
import { addRuntimeRootOption } from '../options.ts';

/** registerRm adds `gitcell rm [-f] CONTAINER...`: remove containers with their mounts, cgroups and logs. */
export function registerRm(program: Command): void {
  addRuntimeRootOption(program.command('rm'))
    .description('remove containers (running ones only with -f)')
    .argument('<containers...>', 'container ids or names')
    .option('-f, --force', 'kill running containers first')
    .action(async (containers: string[], flags: { force?: boolean; root: string }) => {
      const manager = openManager(flags.root);
      for (const c of containers) {
        try {
          await manager.delete(c, { force: !!flags.force });
          process.stdout.write(`${c}\n`);
        } catch (err) {
          process.stderr.write(`gitcell rm ${c}: ${errorMessage(err)}\n`);
          process.exitCode = 1;
        }
      }
      manager.close(); // the last container gone: its runtime state directory (a tmpfs) goes too
    });
}
