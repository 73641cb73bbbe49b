import type { Command } from 'commander';
import { commitContainer } from '../../runtime/index.ts';
import { openManager } from '../containers.ts';
import { addRuntimeRootOption } from '../options.ts';

/** registerCommit adds `gitcell commit CONTAINER NAME:TAG`: the container's changes become a new image. */
export function registerCommit(program: Command): void {
  addRuntimeRootOption(program.command('commit'))
    .description('make a new image from a container\'s changes, on top of its image')
    .argument('<container>', 'container id or name')
    .argument('<ref>', 'new image reference, NAME:TAG')
    .action(async (container: string, ref: string, flags: { root: string }) => {
      const image = await commitContainer(openManager(flags.root), container, ref);
      process.stdout.write(`${image.ref} ${image.manifestDigest}\n`);
    });
}
