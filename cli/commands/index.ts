import { Help, type Command } from 'commander';

type Register = (program: Command) => void;

/** CommandEntry is one subcommand: how the top-level help lists it, and the file that registers it. */
export interface CommandEntry {
  /** the command's line in the top-level help, as commander writes it (name, [options], arguments) */
  term: string;
  /** its description in the top-level help */
  summary: string;
  load: () => Promise<Register>;
}

/**
 * COMMANDS maps each subcommand to the file that registers it. Files are imported only when needed:
 * a command's module pulls in its whole part of gitcell (NATS, runtime, git), and loading all of
 * them for every invocation cost seconds. `gitcell --help` lists them from `term` and `summary`
 * without loading any (test/unit/cli/commands.test.ts checks both against the real commands).
 * Add an entry here for a new command (one file each).
 */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  agent: {
    term: 'agent [options]',
    summary: 'run the node agent: register this node, run the tasks bound to it, report their status',
    load: async () => (await import('./agent.ts')).registerAgent,
  },
  completion: {
    term: 'completion <shell>',
    summary: 'print a shell completion script: bash, zsh or fish',
    load: async () => (await import('./completion.ts')).registerCompletion,
  },
  commit: {
    term: 'commit [options] <container> <ref>',
    summary: 'make a new image from a container\'s changes, on top of its image',
    load: async () => (await import('./commit.ts')).registerCommit,
  },
  dashboard: {
    term: 'dashboard [options]',
    summary: 'serve the web dashboard: nodes, jobs, rollouts, tasks, pending reasons, events, live (read-only)',
    load: async () => (await import('./dashboard.ts')).registerDashboard,
  },
  describe: {
    term: 'describe [options] <kind> <name>',
    summary: 'show one object: summary, conditions, tasks and recent events',
    load: async () => (await import('./describe.ts')).registerDescribe,
  },
  events: {
    term: 'events [options]',
    summary: 'print recent cluster events; -w keeps following new ones',
    load: async () => (await import('./events.ts')).registerEvents,
  },
  get: {
    term: 'get [options] <kind> [names...]',
    summary: 'list objects of a kind: jobs, tasks, nodes, daemonsets, cronjobs, secrets, services, customresourcedefinitions, a user kind (CRD), or alerts (from Prometheus)',
    load: async () => (await import('./get.ts')).registerGet,
  },
  hollow: {
    term: 'hollow [options]',
    summary: 'run many hollow nodes in one process: the real agent over an in-memory runtime (scale tests)',
    load: async () => (await import('./hollow.ts')).registerHollow,
  },
  image: {
    term: 'image',
    summary: 'manage container images: import, ls, rm, pull, push, gc',
    load: async () => (await import('./image.ts')).registerImage,
  },
  logs: {
    term: 'logs [options] [task]',
    summary: 'print the log of a task (or of every task of job/NAME, or of -l SELECTOR), fetched through NATS from the agents that run them',
    load: async () => (await import('./logs.ts')).registerLogs,
  },
  plan: {
    term: 'plan [options]',
    summary: 'show what merging a revision would do: creates, field-level changes, prunes, rollout steps, scheduling preview',
    load: async () => (await import('./plan.ts')).registerPlan,
  },
  ps: {
    term: 'ps [options]',
    summary: 'list containers (running and stopped)',
    load: async () => (await import('./ps.ts')).registerPs,
  },
  reconcile: {
    term: 'reconcile [options]',
    summary: 'reconcile a source now and wait for the result (--with-source: fetch it first); exit 1 if it did not apply',
    load: async () => (await import('./source.ts')).registerReconcile,
  },
  reconciler: {
    term: 'reconciler [options]',
    summary: 'follow a Git repository and reconcile it into the cluster (leader-elected; run several for HA)',
    load: async () => (await import('./reconciler.ts')).registerReconciler,
  },
  resume: {
    term: 'resume [options]',
    summary: 'apply new revisions of a suspended source again (the tip at once)',
    load: async () => (await import('./source.ts')).registerResume,
  },
  rm: {
    term: 'rm [options] <containers...>',
    summary: 'remove containers (running ones only with -f)',
    load: async () => (await import('./rm.ts')).registerRm,
  },
  rollout: {
    term: 'rollout',
    summary: 'rollouts of a Job or DaemonSet: history, status (wait, for CI), undo (a revert commit)',
    load: async () => (await import('./rollout.ts')).registerRollout,
  },
  run: {
    term: 'run [options] <image> [command...]',
    summary: 'run a command in a new container (foreground: stream output, exit with its code)',
    load: async () => (await import('./run.ts')).registerRun,
  },
  schedule: {
    term: 'schedule [options]',
    summary: 'preview placements (never binds): where tasks would land, and why others would wait',
    load: async () => (await import('./schedule.ts')).registerSchedule,
  },
  scheduler: {
    term: 'scheduler [options]',
    summary: 'run the scheduler service: bind pending tasks to nodes (one active replica, by leader election)',
    load: async () => (await import('./scheduler.ts')).registerScheduler,
  },
  secret: {
    term: 'secret',
    summary: 'seal Secret values so only the cluster can read them',
    load: async () => (await import('./secret.ts')).registerSecret,
  },
  status: {
    term: 'status [options]',
    summary: 'show each Git source: applied and attempted revision, conditions, recent reconciles, failed rollouts',
    load: async () => (await import('./status.ts')).registerStatus,
  },
  stop: {
    term: 'stop [options] <containers...>',
    summary: 'stop running containers (SIGTERM, then SIGKILL after the timeout)',
    load: async () => (await import('./stop.ts')).registerStop,
  },
  suspend: {
    term: 'suspend [options]',
    summary: 'stop applying new revisions of a source (the cluster keeps the last applied one) until `gitcell resume`',
    load: async () => (await import('./source.ts')).registerSuspend,
  },
  up: {
    term: 'up [options]',
    summary: 'run the whole cluster on this machine, following a Git repository',
    load: async () => (await import('./up.ts')).registerUp,
  },
  validate: {
    term: 'validate [options] [dir]',
    summary: 'check the manifests under DIR (or, with --ref, as committed at REF); one line per problem: FILE:LINE:COL: KIND/NAME: FIELD.PATH: message',
    load: async () => (await import('./validate.ts')).registerValidate,
  },
};

/**
 * registerCommands adds the subcommand named in `argv` (`gitcell help NAME` too), so `gitcell get
 * tasks` loads only what `get` needs. With none named (top-level help, no arguments, an unknown
 * command) every command is listed by its help line alone; `all` registers every real command.
 */
export async function registerCommands(program: Command, argv: string[] = [], all = false): Promise<void> {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  if (all || (name !== undefined && name in COMMANDS)) {
    const names = all ? Object.keys(COMMANDS) : [name!];
    for (const register of await Promise.all(names.map((n) => COMMANDS[n]!.load()))) register(program);
    return;
  }
  for (const [n, c] of Object.entries(COMMANDS)) program.command(n).description(c.summary);
  const help = new Help();
  program.configureHelp({ subcommandTerm: (cmd) => COMMANDS[cmd.name()]?.term ?? help.subcommandTerm(cmd) });
}
