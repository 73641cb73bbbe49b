import type { RolloutResult } from '../../api/index.ts';

/** GITCELL_AUTHOR is who signs the commits gitcell makes itself (reverts). */
export const GITCELL_AUTHOR = { name: 'gitcell', email: 'gitcell@localhost' } as const;

/** REVERTS_TRAILER names, in a revert's message, the commit it reverts (machine-readable). */
export const REVERTS_TRAILER = 'Gitcell-Reverts';

/** MAX_TASKS_IN_MESSAGE bounds the task list of a revert message; a 500-replica job stays readable. */
export const MAX_TASKS_IN_MESSAGE = 10;

/**
 * revertMessage writes the message of an auto-rollback revert of `commit` (first line of its
 * message `subject`): git's own `Revert "..."` shape, then each failed rollout with its reason and
 * the tasks that were not ready with their last errors, then a `Gitcell-Reverts:` trailer. Pure.
 */
export function revertMessage(commit: string, subject: string, rollouts: readonly RolloutResult[]): string {
  const lines = [`Revert "${subject}"`, '', `This reverts commit ${commit}.`, ''];
  for (const r of rollouts) {
    const o = r.object;
    lines.push(`gitcell rolled back the failed rollout of ${o.kind} ${o.namespace}/${o.name} (generation ${r.generation}, template ${r.templateHash.slice(0, 12)}): ${r.reason}: ${oneLine(r.message)}`);
    const tasks = r.tasks.slice(0, MAX_TASKS_IN_MESSAGE);
    if (tasks.length) lines.push('', 'Tasks not ready:');
    for (const t of tasks) {
      const where = t.node ? ` on ${t.node}` : ' (unscheduled)';
      const state = t.state ? `, ${t.state}` : '';
      const restarts = t.restarts ? `, ${t.restarts} restarts` : '';
      lines.push(`- ${t.id}${where}${state}${restarts}: ${oneLine(t.lastError) || 'no error reported'}`);
    }
    if (r.tasks.length > tasks.length) lines.push(`- ... and ${r.tasks.length - tasks.length} more`);
    lines.push('');
  }
  lines.push(`${REVERTS_TRAILER}: ${commit}`);
  return `${lines.join('\n')}\n`;
}

/**
 * revertedCommitOf reads the commit a revert reverts: gitcell's trailer, or git's own
 * "This reverts commit SHA." line (so a user's `git revert` is recognised too). Pure.
 */
export function revertedCommitOf(message: string): string | undefined {
  const trailer = new RegExp(`^${REVERTS_TRAILER}:\\s*([0-9a-f]{40})\\s*$`, 'm').exec(message);
  if (trailer) return trailer[1];
  return /This reverts commit ([0-9a-f]{40})/.exec(message)?.[1];
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300);
}
