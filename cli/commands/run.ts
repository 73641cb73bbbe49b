import type { Command } from 'commander';
import { parseCpu, parseMemory } from '../../api/index.ts';
import { isGitcellError, UsageError } from '../../lib/errors.ts';
import { LOCAL_DOMAIN, parseReference, pullImage, type ContainerManager, type ContainerOptions } from '../../runtime/index.ts';
import { collect, openManager } from '../containers.ts';
import { addRuntimeRootOption } from '../options.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

interface RunFlags {
  rm?: boolean; detach?: boolean; name?: string; memory?: string; cpus?: string; env: string[]; user?: string;
  hostname?: string; workdir?: string; pidsLimit?: string; root: string;
}

/**
 * registerRun adds `gitcell run [--rm] [-d] [--name N] [--memory 64Mi] [--cpus 0.5] [--env K=V] IMAGE [-- CMD...]`:
 * like `docker run`. In the foreground it streams the container's output and exits with its exit code;
 * -d prints the container id and returns.
 */
export function registerRun(program: Command): void {
  addRuntimeRootOption(program.command('run'))
    .description('run a command in a new container (foreground: stream output, exit with its code)')
    .argument('<image>', 'image reference, e.g. busybox:latest')
    .argument('[command...]', 'command and arguments (after --), replacing the image\'s Cmd')
    .option('--rm', 'delete the container when it exits')
    .option('-d, --detach', 'start in the background and print the container id')
    .option('--name <name>', 'container name')
    .option('--memory <quantity>', 'memory limit, e.g. 64Mi')
    .option('--cpus <quantity>', 'CPU limit, e.g. 0.5 or 500m')
    .option('-e, --env <K=V>', 'environment variable (repeatable)', collect, [])
    .option('-u, --user <user>', 'user: uid, uid:gid, name or name:group')
    .option('--hostname <name>', 'hostname inside the container')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--pids-limit <n>', 'maximum number of processes')
    .action(async (image: string, command: string[], flags: RunFlags) => {
      if (flags.rm && flags.detach) throw new UsageError(ErrorCodes.Usage, '--rm and --detach cannot be combined: nobody would be there to remove it');
      if (flags.pidsLimit !== undefined && !/^\d+$/.test(flags.pidsLimit)) throw new UsageError(ErrorCodes.Usage, `--pids-limit: "${flags.pidsLimit}" is not a whole number`);
      const opts: ContainerOptions = {
        image,
        env: flags.env,
        ...(command.length ? { command } : {}),
        ...(flags.name ? { name: flags.name } : {}),
        ...(flags.memory !== undefined ? { memoryBytes: parseMemory(flags.memory) } : {}),
        ...(flags.cpus !== undefined ? { cpuMillis: parseCpu(flags.cpus) } : {}),
        ...(flags.user !== undefined ? { user: flags.user } : {}),
        ...(flags.hostname ? { hostname: flags.hostname } : {}),
        ...(flags.workdir ? { cwd: flags.workdir } : {}),
        ...(flags.pidsLimit !== undefined ? { pidsLimit: Number(flags.pidsLimit) } : {}),
      };
      const manager = openManager(flags.root);
      await ensureImage(manager, image);
      const created = await manager.create(opts);
      try {
        await manager.start(created.id);
      } catch (err) {
        if (flags.rm) await manager.delete(created.id, { force: true }).catch(() => undefined);
        manager.close();
        throw err;
      }
      if (flags.detach) {
        process.stdout.write(`${created.id}\n`);
        return;
      }
      // Ctrl-C stops the container (SIGTERM, then SIGKILL), as docker run does in the foreground.
      const onSignal = (): void => void manager.stop(created.id, { timeoutMs: 10_000 }).catch(() => undefined);
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await manager.followLogs(created.id, (l) => (l.stream === 'stdout' ? process.stdout : process.stderr).write(`${l.text}\n`));
        const exit = await manager.wait(created.id);
        if (exit.oomKilled) process.stderr.write(`gitcell: container ${created.name} was killed: out of memory (limit ${flags.memory})\n`);
        process.exitCode = exit.exitCode;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        if (flags.rm) await manager.delete(created.id, { force: true });
        manager.close(); // with no container left, its runtime state directory (a tmpfs) goes too
      }
    });
}

/** ensureImage pulls a registry image that is not stored yet, as docker run does; local names must exist. */
async function ensureImage(manager: ContainerManager, ref: string): Promise<void> {
  try {
    await manager.images.resolve(ref);
  } catch (err) {
    if (!isGitcellError(err, ErrorCodes.ImageNotFound) || parseReference(ref).domain === LOCAL_DOMAIN) throw err;
    process.stderr.write(`gitcell: pulling ${ref}\n`);
    await pullImage(manager.images, ref);
  }
}
