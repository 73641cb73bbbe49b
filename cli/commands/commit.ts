import type { Command } from 'commander';
import { commitContainer } from '../../runtime/index.ts';
import { openManager, STATE_DIR_DEFAULT } from '../containers.ts';

/** registerCommit adds `gitcell commit CONTAINER NAME:TAG`: the container's changes become a new image. */
export function registerCommit(program: Command): void {
  program
    .command('commit')
    .description('make a new image from a container\'s changes, on top of its image')
    .argument('<container>', 'container id or name')
    .argument('<ref>', 'new image reference, NAME:TAG')
    .option('--state-dir <dir>', 'state directory', STATE_DIR_DEFAULT)
    .action(async (container: string, ref: string, flags: { stateDir: string }) => {
      const image = await commitContainer(openManager(flags.stateDir), container, ref);
      process.stdout.write(`${image.ref} ${image.manifestDigest}\n`);
    });
}
