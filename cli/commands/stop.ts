import type { Command } from 'commander';
import { errorMessage } from '../../lib/errors.ts';
import { openManager } from '../containers.ts';
import { addRuntimeRootOption } from '../options.ts';

/** registerStop adds `gitcell stop [-t SECONDS] CONTAINER...`: SIGTERM, then SIGKILL after the grace time. */
export function registerStop(program: Command): void {
  addRuntimeRootOption(program.command('stop'))
    .description('stop running containers (SIGTERM, then SIGKILL after the timeout)')
    .argument('<containers...>', 'container ids or names')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL', '10')
    .action(async (containers: string[], flags: { time: string; root: string }) => {
      const manager = openManager(flags.root);
      const seconds = Number(flags.time);
      if (!Number.isFinite(seconds) || seconds < 0) {
        process.stderr.write(`gitcell stop: -t "${flags.time}" is not a number of seconds\n`);
        process.exitCode = 2;
        return;
      }
      for (const c of containers) {
        try {
          const exit = await manager.stop(c, { timeoutMs: seconds * 1000 });
          process.stdout.write(`${c} exited (${exit.exitCode})\n`);
        } catch (err) {
          process.stderr.write(`gitcell stop ${c}: ${errorMessage(err)}\n`);
          process.exitCode = 1;
        }
      }
    });
}
