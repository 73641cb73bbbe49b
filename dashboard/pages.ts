/**
 * The JSON of each page (GET /api/...): what the live rows do not carry, computed by the cores the
 * CLI uses: `rollout history` (rolloutHistory), `schedule --dry-run` (buildSnapshot +
 * previewPlacement), `events --for`. Every function returns undefined for an object that does not
 * exist (the server answers 404 with E_NOT_FOUND).
 */
import type { ClusterEvent, TaskSpec } from '../api/index.ts';
import { buildSnapshot, modeOptions, previewPlacement, type Unplaced } from '../scheduler/index.ts';
import { rolloutHistory, type RolloutHistoryEntry } from '../cli/commands/rollout.ts';
import type { CommitInfo, DashboardModel } from './model.ts';
import { taskView, WORKLOAD_KINDS, type JobView, type MalformedView, type NodeView, type TaskView } from './rows.ts';

/**
 * JobPage is a job, how many tasks it has and its rollout history (with commit authors and subjects
 * when the repository is readable). The task rows themselves come on the live stream: 10,000 of
 * them here would be read twice.
 */
export interface JobPage {
  job: JobView;
  taskCount: number;
  history: (RolloutHistoryEntry & { reverts?: string })[];
}

/** jobPage finds a Job (or else a DaemonSet) by namespace and name. */
export async function jobPage(m: DashboardModel, namespace: string, name: string, commitInfo?: CommitInfo): Promise<JobPage | undefined> {
  for (const kind of WORKLOAD_KINDS) {
    const job = m.row<JobView>('jobs', `${kind}.${namespace}.${name}`);
    if (!job) continue;
    const events = (await m.store.events.recent({ limit: 10_000, prefix: `${kind}.${namespace}.${name}` })).map((e) => e.value);
    const history = await Promise.all(rolloutHistory(events).map(async (h) => {
      const c = h.commit && commitInfo ? await commitInfo(h.commit).catch(() => undefined) : undefined;
      // A revert commit names the commit it reverts ("This reverts commit <sha>."): link both ways.
      const reverts = c?.body ? /This reverts commit ([0-9a-f]{7,40})/.exec(c.body)?.[1] : undefined;
      return { ...h, ...(c ? { author: c.author, subject: c.subject } : {}), ...(reverts ? { reverts } : {}) };
    }));
    return { job, taskCount: m.tasksOf(job.key).length, history };
  }
  return undefined;
}

/** TaskPage is one task: its row, spec (probes, resources), events and where the scheduler put it or why not. */
export interface TaskPage {
  task?: TaskView;
  /** the record the store refused, when it is malformed */
  malformed?: MalformedView;
  spec?: TaskSpec;
  binding?: { node: string; boundAt: string; schedulerTerm: number };
  events: ClusterEvent[];
  /** why it waits: the scheduler's per-filter reasons (as `schedule --dry-run` explains) */
  unplaced?: Unplaced;
}

/** taskPage reads one task (undefined when neither a task nor a malformed record has that id). */
export async function taskPage(m: DashboardModel, id: string): Promise<TaskPage | undefined> {
  const row = m.taskRow(id);
  const malformed = m.malformedOf(m.tasks.name, id);
  if (!row && !malformed) return undefined;
  const events = row ? (await m.store.events.recent({ limit: 200, prefix: `Task.${row.spec.namespace}.${id}` })).map((e) => e.value) : [];
  const binding = m.bindings.get(id);
  const unplaced = row && !binding && !row.spec.nodeName ? pending(m, [row.spec])[0] : undefined;
  return {
    ...(row ? { task: taskView(row), spec: row.spec } : {}),
    ...(malformed ? { malformed } : {}),
    ...(binding ? { binding: { node: binding.node, boundAt: binding.boundAt, schedulerTerm: binding.schedulerTerm } } : {}),
    events,
    ...(unplaced ? { unplaced } : {}),
  };
}

/** NodePage is a node and the tasks on it. */
export interface NodePage {
  node: NodeView;
  tasks: TaskView[];
}

/** nodePage reads one node. */
export function nodePage(m: DashboardModel, name: string): NodePage | undefined {
  const node = m.row<NodeView>('nodes', name);
  return node ? { node, tasks: m.tasksOn(name).map(taskView) } : undefined;
}

/** PendingPage lists every task no node takes now, with the per-filter reasons. */
export interface PendingPage {
  nodes: number;
  pending: (Unplaced & { task?: TaskView })[];
  /** pending tasks the preview would place (the scheduler has not got to them yet) */
  placeable: number;
}

/**
 * pending runs the scheduler's own core on the model's copy, as `gitcell schedule --dry-run` does on
 * the store: which of `tasks` (default: every unbound one) would wait, and why.
 */
function pending(m: DashboardModel, tasks?: TaskSpec[]): Unplaced[] {
  const view = {
    nodes: m.nodes.values(),
    nodeSpecs: m.nodespec.entries.size ? new Map([...m.nodespec.entries].map(([k, e]) => [k, e.value])) : new Map(),
    tasks: m.tasks.values(),
    bindings: new Map([...m.bindings.entries].map(([k, e]) => [k, e.value])),
  };
  const { snapshot, pending: waiting } = buildSnapshot(view, Date.now(), m.liveness.current().graceMs);
  return previewPlacement(snapshot, tasks ?? waiting, modeOptions('hybrid', { seed: 'preview' })).unplaced;
}

/** pendingPage is the Pending page. */
export function pendingPage(m: DashboardModel): PendingPage {
  const unbound = m.tasks.values().filter((t) => !m.bindings.get(t.id));
  const unplaced = pending(m);
  return {
    nodes: m.nodes.entries.size,
    pending: unplaced.map((u) => {
      const row = m.taskRow(u.taskId);
      return { ...u, ...(row ? { task: taskView(row) } : {}) };
    }),
    placeable: unbound.length - unplaced.length,
  };
}

/** EventFilter narrows the events page: object kind, name (substring), type. */
export interface EventFilter {
  kind?: string;
  name?: string;
  type?: string;
}

/** filterEvents applies an EventFilter. Pure. */
export function filterEvents(events: readonly ClusterEvent[], f: EventFilter): ClusterEvent[] {
  return events.filter((e) => (!f.kind || e.object.kind === f.kind) && (!f.type || e.type === f.type) && (!f.name || e.object.name.includes(f.name)));
}
