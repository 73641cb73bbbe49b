import type { Command } from 'commander';
import { errorMessage } from '../../lib/errors.ts';
import { openManager, STATE_DIR_DEFAULT } from '../containers.ts';

/** registerRm adds `gitcell rm [-f] CONTAINER...`: remove containers with their mounts, cgroups and logs. */
export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('remove containers (running ones only with -f)')
    .argument('<containers...>', 'container ids or names')
    .option('-f, --force', 'kill running containers first')
    .option('--state-dir <dir>', 'state directory', STATE_DIR_DEFAULT)
    .action(async (containers: string[], flags: { force?: boolean; stateDir: string }) => {
      const manager = openManager(flags.stateDir);
      for (const c of containers) {
        try {
          await manager.delete(c, { force: !!flags.force });
          process.stdout.write(`${c}\n`);
        } catch (err) {
          process.stderr.write(`gitcell rm ${c}: ${errorMessage(err)}\n`);
          process.exitCode = 1;
        }
      }
    });
}
