/**
 * The options many commands share, defined once so each means one thing everywhere:
 *
 *   --cluster-dir  the directory of a `gitcell up` cluster on this machine (NATS data, credentials,
 *                  repository, images, logs); GITCELL_CLUSTER_DIR; default .gitcell
 *   --node-dir     one node agent's own state (journal, containers, network, secrets); agent, hollow
 *   --root         the container runtime's root (containers, images, snapshots); run, ps, image, ...
 *   --nats, --creds, --prefix   how a command reaches the cluster's store
 *
 * `--state-dir` once meant each of the first three, depending on the command. It is still accepted,
 * hidden, with a warning naming the option that replaces it here.
 */
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { DEFAULT_PREFIX } from '../store/index.ts';
// The scheduler's option table only: its index would load the whole scheduler (and prom-client)
// into every client command.
import { SCHEDULING_MODES, type SchedulingMode } from '../scheduler/options.ts';
import { UsageError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** CLUSTER_DIR_DEFAULT is --cluster-dir when not given: GITCELL_CLUSTER_DIR, else .gitcell. */
export const CLUSTER_DIR_DEFAULT = process.env.GITCELL_CLUSTER_DIR ?? process.env.GITCELL_STATE_DIR ?? '.gitcell';

/** RUNTIME_ROOT_DEFAULT is --root when not given: GITCELL_ROOT, else <cluster dir>/runtime. */
export const RUNTIME_ROOT_DEFAULT = process.env.GITCELL_ROOT ?? join(CLUSTER_DIR_DEFAULT, 'runtime');

/** ClusterOptionsHelp overrides the help text (and the --cluster-dir default) for one command. */
export interface ClusterOptionsHelp {
  nats?: string;
  /** false: --nats has no default (gitcell up starts its own server unless told) */
  natsFromEnv?: boolean;
  creds?: string;
  /** undefined: no default (client commands look for a cluster themselves) */
  clusterDir?: string | undefined;
  clusterDirHelp?: string;
  /** false: --state-dir is not an alias of --cluster-dir here (it was the node's own dir: agent, hollow) */
  stateDirAlias?: boolean;
}

/** addClusterOptions adds --nats, --cluster-dir, --creds and --prefix (and the deprecated --state-dir). */
export function addClusterOptions(cmd: Command, help: ClusterOptionsHelp = { clusterDir: CLUSTER_DIR_DEFAULT }): Command {
  cmd
    .option('--nats <urls>', help.nats ?? 'NATS server(s) of the cluster, comma-separated (default: the embedded server of --cluster-dir)', help.natsFromEnv === false ? undefined : process.env.GITCELL_NATS)
    .option('--creds <file>', help.creds ?? 'NATS credentials file (.creds or nkey seed)')
    .option('--prefix <prefix>', 'bucket name prefix', DEFAULT_PREFIX);
  const dirHelp = help.clusterDirHelp ?? 'directory of a `gitcell up` cluster on this machine (or GITCELL_CLUSTER_DIR)';
  if (help.stateDirAlias === false) return cmd.option('--cluster-dir <dir>', dirHelp, help.clusterDir);
  return addClusterDirOption(cmd, dirHelp, help.clusterDir);
}

/** addClusterDirOption adds --cluster-dir alone (commands that only read the cluster's files), with the deprecated --state-dir. */
export function addClusterDirOption(cmd: Command, help: string, dflt: string | undefined = CLUSTER_DIR_DEFAULT): Command {
  cmd.option('--cluster-dir <dir>', help, dflt);
  return deprecatedStateDir(cmd, 'clusterDir', '--cluster-dir');
}

/** addNodeDirOption adds --node-dir (a node's own state) with the deprecated --state-dir. */
export function addNodeDirOption(cmd: Command, help: string): Command {
  cmd.option('--node-dir <dir>', help);
  return deprecatedStateDir(cmd, 'nodeDir', '--node-dir');
}

/** addRuntimeRootOption adds --root (the container runtime's root) with the deprecated --state-dir (<dir>/runtime). */
export function addRuntimeRootOption(cmd: Command): Command {
  cmd.option('--root <dir>', 'root of the container runtime: containers, images, snapshots (or GITCELL_ROOT)', RUNTIME_ROOT_DEFAULT);
  return deprecatedStateDir(cmd, 'root', '--root', (dir) => join(dir, 'runtime'));
}

/**
 * deprecatedStateDir accepts `--state-dir` (hidden) as the option that replaced it on this command,
 * with a warning on stderr; given both, the new one wins.
 */
function deprecatedStateDir(cmd: Command, attribute: string, replacement: string, map: (dir: string) => string = (d) => d): Command {
  cmd.addOption(new Option('--state-dir <dir>', `deprecated: use ${replacement}`).hideHelp());
  return cmd.hook('preAction', (self) => {
    const old = self.getOptionValue('stateDir') as string | undefined;
    if (old === undefined) return;
    process.stderr.write(`gitcell ${self.name()}: --state-dir is deprecated; use ${replacement}\n`);
    if (self.getOptionValueSource(attribute) !== 'cli') self.setOptionValueWithSource(attribute, map(old), 'cli');
  });
}

/** addModeOption adds --mode, the scheduler's placement mode (scheduler, schedule --dry-run). */
export function addModeOption(cmd: Command): Command {
  return cmd.option('--mode <mode>', `placement mode: ${Object.keys(SCHEDULING_MODES).join(', ')}`, 'hybrid');
}

/** parseMode checks --mode; E_USAGE naming the modes otherwise. */
export function parseMode(mode: string): SchedulingMode {
  if (!(mode in SCHEDULING_MODES)) throw new UsageError(ErrorCodes.Usage, `--mode: "${mode}" is not one of ${Object.keys(SCHEDULING_MODES).join(', ')}`, { flag: '--mode' });
  return mode as SchedulingMode;
}
