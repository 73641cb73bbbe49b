/**
 * Resuming after a restart of the agent itself: what the previous run left half-done is finished.
 * Running containers are adopted (same process, no restart counted), half-started ones redone,
 * half-stopped ones stopped. `resumePlan` decides from the journal and the runtime's list, pure;
 * `resumeAfterRestart` carries the plan out.
 */
import type { LocalTask } from './journal.ts';
import { changed } from './transitions.ts';
import type { ContainerView, ExitInfo } from './port.ts';
import type { AgentContext } from './context.ts';
import { save, writeStatus } from './report.ts';
import { attach, markRunning, onExit, runStop } from './lifecycle.ts';

/** ResumeStep is one thing to do for one journal entry. */
export type ResumeStep =
  /** a start whose container runs but whose success was not journaled: record it running */
  | { kind: 'adopt-start'; task: LocalTask; pid: number }
  /** a start that did not get as far as a running container: start again (no restart counted) */
  | { kind: 'redo-start'; task: LocalTask; removeContainer?: string }
  /** a running container: follow it again (exit and probes) */
  | { kind: 'follow'; task: LocalTask; containerId: string }
  /** a running task whose container is gone or exited: apply the restart policy */
  | { kind: 'exited'; task: LocalTask; containerId?: string }
  /** a stop under way: finish it, following the container if it still runs */
  | { kind: 'finish-stop'; task: LocalTask; followContainer?: string };

/** resumePlan lists the steps that finish what the previous run was doing, pure. */
export function resumePlan(records: Iterable<LocalTask>, containers: ContainerView[]): ResumeStep[] {
  const byId = new Map(containers.map((c) => [c.id, c]));
  const steps: ResumeStep[] = [];
  for (const t of records) {
    const c = t.containerId ? byId.get(t.containerId) : undefined;
    const alive = !!c && c.status !== 'stopped';
    if (t.phase === 'starting') {
      if (c?.status === 'running') steps.push({ kind: 'adopt-start', task: t, pid: c.pid ?? 0 });
      else steps.push({ kind: 'redo-start', task: t, ...(c ? { removeContainer: c.id } : {}) });
    } else if (t.phase === 'running') {
      if (alive) steps.push({ kind: 'follow', task: t, containerId: c!.id });
      else steps.push({ kind: 'exited', task: t, ...(c ? { containerId: c.id } : {}) });
    } else if (t.phase === 'stopping') {
      steps.push({ kind: 'finish-stop', task: t, ...(alive ? { followContainer: c!.id } : {}) });
    }
  }
  return steps;
}

/** resumeAfterRestart carries out resumePlan, then re-reports every task the agent still has. */
export async function resumeAfterRestart(ctx: AgentContext): Promise<void> {
  const { state, locks } = ctx;
  const rt = ctx.d.runtime;
  for (const step of resumePlan(state.records.values(), await rt.list())) {
    const t = step.task;
    switch (step.kind) {
      case 'adopt-start':
        ctx.log.info({ task: t.taskId }, 'agent: adopting a container whose start was not recorded');
        await markRunning(ctx, t, step.pid, t.ip ?? (await ctx.d.network.get(t.taskId))?.ip);
        break;
      case 'redo-start':
        if (step.removeContainer) await rt.remove(step.removeContainer);
        // Redo the start on the next pass; a start that never ran is not a restart.
        await save(ctx, changed(t, { phase: 'backoff', restartAt: 0, containerId: undefined, message: 'resuming an interrupted start' }));
        break;
      case 'follow':
        attach(ctx, t, step.containerId, true);
        break;
      case 'exited': {
        const info: ExitInfo = step.containerId ? await rt.wait(step.containerId) : { exitCode: 255, oomKilled: false, signal: 'lost' };
        locks.run(t.taskId, () => onExit(ctx, t.taskId, t.containerId ?? '', info));
        break;
      }
      case 'finish-stop':
        if (step.followContainer) attach(ctx, t, step.followContainer, false);
        locks.run(t.taskId, () => runStop(ctx, t.taskId, t.stopReason ?? 'unbound'));
        break;
    }
  }
  // Re-assert what this agent knows, so readers see a fresh status from the new incarnation.
  for (const t of state.records.values()) if (t.phase === 'running' || t.phase === 'backoff' || t.phase === 'finished') await writeStatus(ctx, t);
}
