// Shared by the container commands in cli/commands/ (run, ps, stop, rm, commit): where the runtime
// repeated flags are collected. Not a command itself.
import { join, resolve } from 'node:path';
import { ContainerManager } from '../runtime/index.ts';

/** STATE_DIR_DEFAULT is the state directory when neither --state-dir nor GITCELL_STATE_DIR is given. */
export const STATE_DIR_DEFAULT = process.env.GITCELL_STATE_DIR ?? '.gitcell';

/** openManager returns the ContainerManager of `<stateDir>/runtime` (the layout in RUNTIME-CONTRACT.md). */
export function openManager(stateDir: string): ContainerManager {
  return new ContainerManager({ root: resolve(join(stateDir, 'runtime')), cgroupParent: 'gitcell/cli' });
}

/** collect accumulates a repeatable flag (--env A=1 --env B=2). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
