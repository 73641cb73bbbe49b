import type { IntOrPercent, TaskState } from '../../api/index.ts';
import { sha256Hex } from '../template/index.ts';
import type { TaskView } from './types.ts';

const TERMINAL: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'stopped']);

/** isTerminal tells whether a task has ended for good (it will not run again by itself). */
export function isTerminal(t: TaskView): boolean {
  return t.status !== undefined && TERMINAL.has(t.status.state);
}

/** isReady tells whether a task is running its own template and passing readiness. */
export function isReady(t: TaskView): boolean {
  const s = t.status;
  return s !== undefined && s.state === 'running' && s.ready && s.templateHash === t.spec.templateHash;
}

/** lastError says in one line what is wrong with a task, from what its agent last reported. */
export function lastError(t: TaskView): string {
  const s = t.status;
  if (!s) return 'no status reported (not scheduled or not started)';
  const parts: string[] = [`state ${s.state}`];
  if (s.exitCode !== undefined) parts.push(`exit code ${s.exitCode}`);
  if (s.oomKilled) parts.push('OOM killed');
  if (s.restarts > 0) parts.push(`${s.restarts} restarts`);
  if (s.state === 'running' && !s.ready) parts.push('not ready');
  return s.message ? `${s.message} (${parts.join(', ')})` : parts.join(', ');
}

/** shortHash is the 10-hex-digit token that tells task generations apart in task ids. */
export function shortHash(templateHash: string, generation: number): string {
  return sha256Hex(`${templateHash}:${generation}`).slice(0, 10);
}

/**
 * taskId builds `<namespace>.<name>.<slot>-<shorthash>[-<suffix>]`: DNS-label tokens joined by dots
 * (usable as NATS KV key tokens). The short hash covers the template hash and the generation that
 * started its rollout, so a revert to an older template never reuses the ids (and stale statuses)
 * of that template's earlier tasks. `slot` is the index, or the node name for a DaemonSet.
 */
export function taskId(namespace: string, name: string, slot: string | number, hash: string, suffix?: string): string {
  return `${namespace}.${name}.${slot}-${hash}${suffix ? `-${suffix}` : ''}`;
}

/**
 * resolveIntOrPercent turns "25%" or 3 into a count of `total`; percentages round up for surge and
 * down for unavailability, as Kubernetes does. Garbage (validated manifests never have it) gives 0.
 */
export function resolveIntOrPercent(v: IntOrPercent | undefined, total: number, fallback: IntOrPercent, roundUp: boolean): number {
  const value = v ?? fallback;
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
  const m = /^(\d+)%$/.exec(value);
  if (!m) return /^\d+$/.test(value) ? Number(value) : 0;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** byIndexThenId orders tasks for stable choices: index, then id. */
export function byIndexThenId(a: TaskView, b: TaskView): number {
  return a.spec.index - b.spec.index || (a.spec.id < b.spec.id ? -1 : a.spec.id > b.spec.id ? 1 : 0);
}
