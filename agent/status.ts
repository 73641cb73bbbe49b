/** Building the TaskStatus record from the agent's journal entry and live observations, pure. */
import type { Resources, TaskState, TaskStatus } from '../api/index.ts';
import type { LocalTask } from './journal.ts';

/** stateOf maps the agent's phase to the reported state. */
export function stateOf(t: LocalTask): TaskState {
  if (t.state) return t.state;
  switch (t.phase) {
    case 'starting':
      return t.attempt > 1 ? 'starting' : 'pending';
    case 'running':
      return 'running';
    case 'backoff':
      return 'backoff';
    case 'stopping':
      return 'stopping';
    case 'stopped':
      return 'stopped';
    case 'finished':
      return t.exitCode === 0 ? 'succeeded' : 'failed';
  }
}

/** buildStatus is the `status` record of a task on `node` at time `now`. */
export function buildStatus(node: string, t: LocalTask, live: { ready: boolean; usage?: Resources }, now: number): TaskStatus {
  return {
    taskId: t.taskId,
    node,
    templateHash: t.templateHash,
    state: stateOf(t),
    ready: t.phase === 'running' && live.ready,
    restarts: t.restarts,
    ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
    ...(t.oomKilled !== undefined ? { oomKilled: t.oomKilled } : {}),
    ...(t.startedAt ? { startedAt: t.startedAt } : {}),
    ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
    ...(t.ip ? { ip: t.ip } : {}),
    ...(t.containerId ? { containerId: t.containerId } : {}),
    ...(t.pid !== undefined && t.phase === 'running' ? { pid: t.pid } : {}),
    ...(t.message ? { message: t.message } : {}),
    ...(live.usage && t.phase === 'running' ? { usage: live.usage } : {}),
    updatedAt: new Date(now).toISOString(),
  };
}
