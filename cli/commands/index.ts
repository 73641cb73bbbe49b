import type { Command } from 'commander';
import { registerLogs } from './logs.ts';
import { registerSecret } from './secret.ts';
import { registerUp } from './up.ts';

/**
 * registerCommands adds every subcommand. Each command lives in its own file exporting one
 * `registerXxx(program)` function, so parts of gitcell add commands without touching each other.
 */
export function registerCommands(program: Command): void {
  registerLogs(program);
  registerSecret(program);
  registerUp(program);
}
