import type { Command } from 'commander';
import type { ContainerInfo } from '../../runtime/index.ts';
import { openManager } from '../containers.ts';
import { addRuntimeRootOption } from '../options.ts';
import { UsageError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { addOutputOption, parseOutput, renderListing, type Listing } from '../output.ts';

/** statusText renders a container's status like docker ps: "running", "exited (137, OOM)", "created". */
export function statusText(c: ContainerInfo): string {
  if (c.status === 'exited' && c.exit) return `exited (${c.exit.exitCode}${c.exit.oomKilled ? ', OOM' : ''})`;
  return c.status;
}

/** containerListing is `gitcell ps` as a Listing: docker's columns, PID/CGROUP/LABELS wide, the records as JSON. */
export function containerListing(list: ContainerInfo[]): Listing {
  return {
    head: ['ID', 'NAME', 'IMAGE', 'STATUS', 'CREATED', 'COMMAND'],
    wideHead: ['PID', 'IMAGE DIGEST', 'LABELS'],
    rows: list.map((c) => ({
      name: `container/${c.name}`,
      cells: [c.id.slice(0, 12), c.name, c.image.ref, statusText(c), c.createdAt.replace('T', ' ').slice(0, 19), c.args.join(' ').slice(0, 40)],
      wide: [c.pid ?? '-', c.image.manifestDigest.slice(0, 19), Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-'],
    })),
    json: list,
  };
}

/** registerPs adds `gitcell ps [-q] [-o FORMAT]`: the containers of this machine's runtime. */
export function registerPs(program: Command): void {
  addOutputOption(
    addRuntimeRootOption(program.command('ps'))
      .description('list containers (running and stopped)')
      .option('-q, --quiet', 'print container ids only'),
  )
    .option('--json', 'print JSON (same as -o json)')
    .action((flags: { quiet?: boolean; json?: boolean; output?: string; root: string }) => {
      if (flags.json && flags.output) throw new UsageError(ErrorCodes.Usage, '--json and -o: give one of them (--json is -o json)', { flag: '--json' });
      const out = parseOutput(flags.json ? 'json' : flags.output);
      const list = openManager(flags.root).list();
      if (flags.quiet) {
        for (const c of list) process.stdout.write(`${c.id}\n`);
        return;
      }
      process.stdout.write(renderListing(containerListing(list), out));
    });
}
