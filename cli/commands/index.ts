import type { Command } from 'commander';
import { registerAgent } from './agent.ts';
import { registerCommit } from './commit.ts';
import { registerDescribe } from './describe.ts';
import { registerEvents } from './events.ts';
import { registerGet } from './get.ts';
import { registerImage } from './image.ts';
import { registerLogs } from './logs.ts';
import { registerPlan } from './plan.ts';
import { registerPs } from './ps.ts';
import { registerReconciler } from './reconciler.ts';
import { registerRm } from './rm.ts';
import { registerRollout } from './rollout.ts';
import { registerRun } from './run.ts';
import { registerSecret } from './secret.ts';
import { registerStatus } from './status.ts';
import { registerStop } from './stop.ts';
import { registerUp } from './up.ts';
import { registerValidate } from './validate.ts';
import { registerSchedule } from './schedule.ts';
import { registerScheduler } from './scheduler.ts';

/**
 * registerCommands adds every subcommand. Each command lives in its own file exporting one
 * `registerXxx(program)` function, so parts of gitcell add commands without touching each other.
 */
export function registerCommands(program: Command): void {
  registerAgent(program);
  registerCommit(program);
  registerDescribe(program);
  registerEvents(program);
  registerGet(program);
  registerImage(program);
  registerLogs(program);
  registerPlan(program);
  registerPs(program);
  registerReconciler(program);
  registerRm(program);
  registerRollout(program);
  registerRun(program);
  registerSecret(program);
  registerStatus(program);
  registerStop(program);
  registerSchedule(program);
  registerScheduler(program);
  registerUp(program);
  registerValidate(program);
}
