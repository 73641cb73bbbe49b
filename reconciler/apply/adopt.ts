/**
 * adoptReported: after NATS lost its data, the controllers re-create every task from Git, while
 * agents still run the old instances and report them as unclaimed (TaskStatus.unclaimed). A task
 * about to be created for the same slot (job and index, or DaemonSet and node) with the same
 * template takes the reported task's id and names its node (TaskSpec.runningOn), so the scheduler
 * binds it back there and the agent keeps its running process. Task ids carry a hash of the
 * generation that started their rollout, which the rebuilt store does not remember: matching on the
 * slot and the template hash is what makes the old instance recognisable. Pure.
 */
import type { TaskSpec, TaskStatus } from '../../api/index.ts';

const ID_TAIL = /^[0-9a-f]{10}(?:-[a-z0-9]+)?$/;

/** slotPrefix is the part of a task id before its hash: `<namespace>.<name>.<slot>-`. */
function slotPrefix(t: TaskSpec): string {
  const slot = t.owner.kind === 'DaemonSet' && t.nodeName ? t.nodeName : String(t.index);
  return `${t.namespace}.${t.owner.name}.${slot}-`;
}

const RANK: Partial<Record<TaskStatus['state'], number>> = { running: 0, succeeded: 1, backoff: 2, starting: 3, pending: 3 };

/**
 * adoptReported returns `create` with each task that matches an unclaimed report renamed to the
 * reported id and pointed at its node. `tasks` are the existing task specs (a report of an existing
 * task is claimed already). A report is adopted at most once; running ones are preferred.
 */
export function adoptReported(create: TaskSpec[], tasks: ReadonlyMap<string, TaskSpec>, statuses: Iterable<TaskStatus>): TaskSpec[] {
  // Runs on every controller pass: nothing to create (the common case) costs no scan of the statuses.
  if (create.length === 0) return create;
  const candidates: TaskStatus[] = [];
  for (const s of statuses) if (s.unclaimed && !tasks.has(s.taskId) && RANK[s.state] !== undefined) candidates.push(s);
  if (candidates.length === 0) return create;
  candidates.sort((a, b) => RANK[a.state]! - RANK[b.state]! || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  const taken = new Set<string>();
  const adopted: TaskSpec[] = [];
  const fresh: TaskSpec[] = [];
  for (const t of create) {
    const prefix = slotPrefix(t);
    const match = candidates.find((s) => !taken.has(s.taskId) && s.templateHash === t.templateHash && s.taskId.startsWith(prefix) && ID_TAIL.test(s.taskId.slice(prefix.length)));
    if (!match) {
      fresh.push(t);
      continue;
    }
    taken.add(match.taskId);
    adopted.push({ ...t, id: match.taskId, runningOn: match.node });
  }
  // Adopted first: written first, so the scheduler counts their room as taken before placing others.
  return [...adopted, ...fresh];
}
