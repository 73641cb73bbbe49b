import type { Command } from 'commander';
import { registerAgent } from './agent.ts';
import { registerCommit } from './commit.ts';
import { registerImage } from './image.ts';
import { registerLogs } from './logs.ts';
import { registerPlan } from './plan.ts';
import { registerPs } from './ps.ts';
import { registerReconciler } from './reconciler.ts';
import { registerRm } from './rm.ts';
import { registerRun } from './run.ts';
import { registerStop } from './stop.ts';
import { registerSecret } from './secret.ts';
import { registerUp } from './up.ts';

/**
 * registerCommands adds every subcommand. Each command lives in its own file exporting one
 * `registerXxx(program)` function, so parts of gitcell add commands without touching each other.
 */
export function registerCommands(program: Command): void {
  registerAgent(program);
  registerCommit(program);
  registerImage(program);
  registerLogs(program);
  registerPlan(program);
  registerPs(program);
  registerReconciler(program);
  registerRm(program);
  registerRun(program);
  registerStop(program);
  registerSecret(program);
  registerUp(program);
}
