import type { Command } from 'commander';
import Table from 'cli-table3';
import type { ContainerInfo } from '../../runtime/index.ts';
import { openManager, STATE_DIR_DEFAULT } from '../containers.ts';

/** statusText renders a container's status like docker ps: "running", "exited (137, OOM)", "created". */
export function statusText(c: ContainerInfo): string {
  if (c.status === 'exited' && c.exit) return `exited (${c.exit.exitCode}${c.exit.oomKilled ? ', OOM' : ''})`;
  return c.status;
}

/** registerPs adds `gitcell ps [-q] [--json]`: the containers of this machine's runtime. */
export function registerPs(program: Command): void {
  program
    .command('ps')
    .description('list containers (running and stopped)')
    .option('-q, --quiet', 'print container ids only')
    .option('--json', 'print JSON')
    .option('--state-dir <dir>', 'state directory', STATE_DIR_DEFAULT)
    .action((flags: { quiet?: boolean; json?: boolean; stateDir: string }) => {
      const list = openManager(flags.stateDir).list();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (flags.quiet) {
        for (const c of list) process.stdout.write(`${c.id}\n`);
        return;
      }
      const table = new Table({ head: ['ID', 'NAME', 'IMAGE', 'STATUS', 'CREATED', 'COMMAND'], style: { head: [], border: [] } });
      for (const c of list) table.push([c.id.slice(0, 12), c.name, c.image.ref, statusText(c), c.createdAt.replace('T', ' ').slice(0, 19), c.args.join(' ').slice(0, 40)]);
      process.stdout.write(`${table.toString()}\n`);
    });
}
