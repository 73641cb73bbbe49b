/**
 * The agent's convergence decision, pure (like Nomad's AllocReconciler.compute): from the tasks
 * bound to this node, the containers the runtime reports and the agent's own task records, list
 * the actions that move the node towards the desired state. Restarts after an exit are not decided
 * here but by the task's lifecycle (backoff.ts); this only places, stops, replaces and cleans up.
 *
 * Invariant: never two instances of one task. `start` is only proposed for a task with no running
 * container at all; a replacement first stops the old container and starts on a later pass.
 */
import { compareCodeUnits } from '../lib/compare.ts';

/** DesiredTask is a task bound to this node, with the template revision it must run. */
export interface DesiredTask {
  taskId: string;
  templateHash: string;
}

/** ObservedContainer is one container of this node as the runtime lists it. */
export interface ObservedContainer {
  id: string;
  taskId: string;
  templateHash: string;
  running: boolean;
  /** creation order (epoch ms or attempt number): the newest wins among duplicates */
  createdAt: number;
}

/** TaskRecord is the agent's own record of a task it has taken on (journal on disk). */
export interface TaskRecord {
  taskId: string;
  templateHash: string;
}

/** StopReason says why a container is stopped; it becomes the status message. */
export type StopReason = 'unbound' | 'draining' | 'replaced' | 'duplicate';

/** Action is one step convergence asks for. */
export type Action =
  | { type: 'start'; taskId: string; templateHash: string; replacing: boolean }
  | { type: 'stop'; taskId: string; containerId: string; reason: StopReason }
  | { type: 'removeContainer'; taskId: string; containerId: string }
  | { type: 'adopt'; taskId: string; containerId: string }
  | { type: 'forget'; taskId: string; containerIds: string[] };

/** ConvergeInput is everything the decision looks at. */
export interface ConvergeInput {
  desired: DesiredTask[];
  containers: ObservedContainer[];
  records: TaskRecord[];
  /** node draining: nothing is desired here any more */
  draining: boolean;
  /** tasks with an operation in flight: left alone this pass */
  busy?: ReadonlySet<string>;
}

const NONE: readonly ObservedContainer[] = [];

/** settled tells whether every container is of template `hash` and at most one of them runs, pure. */
function settled(cs: readonly ObservedContainer[], hash: string): boolean {
  let running = 0;
  for (const c of cs) {
    if (c.templateHash !== hash) return false;
    if (c.running) running++;
  }
  return running <= 1;
}

/** converge computes the actions of one pass: start, stop, replace, adopt or clean up, never a second instance of a task. */
export function converge(input: ConvergeInput): Action[] {
  const desired = new Map<string, DesiredTask>();
  for (const d of input.desired) desired.set(d.taskId, d);
  const records = new Map<string, TaskRecord>();
  for (const r of input.records) records.set(r.taskId, r);
  const byTask = new Map<string, ObservedContainer[]>();
  for (const c of input.containers) {
    const list = byTask.get(c.taskId);
    if (list) list.push(c);
    else byTask.set(c.taskId, [c]);
  }
  const idSet = new Set(desired.keys());
  for (const id of records.keys()) idSet.add(id);
  for (const id of byTask.keys()) idSet.add(id);
  const ids = Array.from(idSet).sort();
  const actions: Action[] = [];
  for (const taskId of ids) {
    if (input.busy?.has(taskId)) continue;
    const d = input.draining ? undefined : desired.get(taskId);
    const r = records.get(taskId);
    const list = byTask.get(taskId) ?? NONE;
    // Most tasks of a pass over the whole node: owned by their lifecycle, nothing to decide (the
    // rules below decide nothing for them too); no copies made for them.
    if (d && r && r.templateHash === d.templateHash && settled(list, d.templateHash)) continue;
    const cs = list.length > 1 ? [...list].sort((a, b) => b.createdAt - a.createdAt || compareCodeUnits(a.id, b.id)) : list;
    const running = cs.filter((c) => c.running);

    if (!d) {
      const reason: StopReason = input.draining && desired.has(taskId) ? 'draining' : 'unbound';
      for (const c of running) actions.push({ type: 'stop', taskId, containerId: c.id, reason });
      if (running.length === 0 && (r || cs.length)) actions.push({ type: 'forget', taskId, containerIds: cs.map((c) => c.id) });
      continue;
    }

    const stale = cs.filter((c) => c.templateHash !== d.templateHash);
    const staleRunning = stale.filter((c) => c.running);
    for (const c of staleRunning) actions.push({ type: 'stop', taskId, containerId: c.id, reason: 'replaced' });
    for (const c of stale.filter((c) => !c.running)) actions.push({ type: 'removeContainer', taskId, containerId: c.id });

    const currentRunning = running.filter((c) => c.templateHash === d.templateHash);
    for (const c of currentRunning.slice(1)) actions.push({ type: 'stop', taskId, containerId: c.id, reason: 'duplicate' });

    if (staleRunning.length > 0) continue; // the replacement starts once the old instance is gone
    const startFresh = (replacing: boolean) => {
      // Exited leftovers of this revision go first, so a start never leaves an orphan behind.
      for (const c of cs.filter((c) => !c.running && c.templateHash === d.templateHash)) {
        actions.push({ type: 'removeContainer', taskId, containerId: c.id });
      }
      actions.push({ type: 'start', taskId, templateHash: d.templateHash, replacing });
    };
    if (r && r.templateHash !== d.templateHash) {
      if (currentRunning[0]) actions.push({ type: 'adopt', taskId, containerId: currentRunning[0].id });
      else startFresh(true);
    } else if (!r) {
      if (currentRunning[0]) actions.push({ type: 'adopt', taskId, containerId: currentRunning[0].id });
      else startFresh(false);
    }
    // A record with the right revision: the task's lifecycle owns it (running, backoff, finished).
  }
  return actions;
}
