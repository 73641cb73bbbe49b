import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * COMMANDS maps each subcommand to the file that registers it. Files are imported only when needed:
 * a command's module pulls in its whole part of gitcell (NATS, runtime, git), and loading all of
 * them for every invocation cost seconds. Add a line here for a new command (one file each).
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  agent: async () => (await import('./agent.ts')).registerAgent,
  commit: async () => (await import('./commit.ts')).registerCommit,
  describe: async () => (await import('./describe.ts')).registerDescribe,
  events: async () => (await import('./events.ts')).registerEvents,
  get: async () => (await import('./get.ts')).registerGet,
  image: async () => (await import('./image.ts')).registerImage,
  logs: async () => (await import('./logs.ts')).registerLogs,
  plan: async () => (await import('./plan.ts')).registerPlan,
  ps: async () => (await import('./ps.ts')).registerPs,
  reconciler: async () => (await import('./reconciler.ts')).registerReconciler,
  rm: async () => (await import('./rm.ts')).registerRm,
  rollout: async () => (await import('./rollout.ts')).registerRollout,
  run: async () => (await import('./run.ts')).registerRun,
  schedule: async () => (await import('./schedule.ts')).registerSchedule,
  scheduler: async () => (await import('./scheduler.ts')).registerScheduler,
  secret: async () => (await import('./secret.ts')).registerSecret,
  status: async () => (await import('./status.ts')).registerStatus,
  stop: async () => (await import('./stop.ts')).registerStop,
  up: async () => (await import('./up.ts')).registerUp,
  validate: async () => (await import('./validate.ts')).registerValidate,
};

/**
 * registerCommands adds the subcommand named in `argv` (every one when none is, or for help), so
 * `gitcell get tasks` loads only what `get` needs.
 */
export async function registerCommands(program: Command, argv: string[] = []): Promise<void> {
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  const names = name !== undefined && name in COMMANDS ? [name] : Object.keys(COMMANDS);
  for (const register of await Promise.all(names.map((n) => COMMANDS[n]!()))) register(program);
}
