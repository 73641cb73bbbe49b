import type { TaskView } from './types.ts';

/** rank: how much the job would miss a task, lowest first: unplaced or unreported, not running, running but unready, ready. */
function rank(t: TaskView): number {
  const s = t.status;
  if (!s) return 0;
  if (s.state !== 'running') return 1;
  return s.ready && s.templateHash === t.spec.templateHash ? 3 : 2;
}

/**
 * scaleDownOrder sorts the tasks a scale-down may remove so that the ones the job would miss least
 * come first, as Kubernetes' ReplicaSet controller ranks pods (ActivePodsWithRanks): a task not
 * placed or not reported yet, then one not running (pending, starting, backing off), then one
 * running but unready, then ready ones; among equals, a task on the node running the most tasks of
 * this job (removing it keeps the job spread across nodes), then the most restarts, then the newest
 * slot (highest index). Pure and deterministic.
 */
export function scaleDownOrder(tasks: readonly TaskView[]): TaskView[] {
  const perNode = new Map<string, number>();
  for (const t of tasks) if (t.status?.node) perNode.set(t.status.node, (perNode.get(t.status.node) ?? 0) + 1);
  const crowd = (t: TaskView) => (t.status?.node ? (perNode.get(t.status.node) ?? 0) : 0);
  return [...tasks].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      crowd(b) - crowd(a) ||
      (b.status?.restarts ?? 0) - (a.status?.restarts ?? 0) ||
      b.spec.index - a.spec.index ||
      (a.spec.id < b.spec.id ? 1 : a.spec.id > b.spec.id ? -1 : 0),
  );
}
