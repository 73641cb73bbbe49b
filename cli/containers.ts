// Shared by the container commands in cli/commands/ (run, ps, stop, rm, commit): where the runtime
// repeated flags are collected. Not a command itself.
import { resolve } from 'node:path';
import { ContainerManager } from '../runtime/index.ts';

/** openManager returns the ContainerManager of the runtime root `root` (--root; the layout in RUNTIME-CONTRACT.md). */
export function openManager(root: string): ContainerManager {
  return new ContainerManager({ root: resolve(root), cgroupParent: 'gitcell/cli' });
}

/** collect accumulates a repeatable flag (--env A=1 --env B=2). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
