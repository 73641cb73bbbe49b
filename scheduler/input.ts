/**
 * Reading a snapshot and tasks from files (for `gitcell schedule --dry-run --snapshot F --tasks F`):
 * JSON or YAML, checked at the boundary with errors naming the file, the field and the reason.
 */
import { load } from 'js-yaml';
import { SchedulerError, ErrorCodes } from '../lib/index.ts';
import type { ClusterSnapshot, RunningTask, SchedTask, SnapshotNode } from './types.ts';

/** E_SCHEDULE_INPUT is the code of every error about an input file. */
export const E_SCHEDULE_INPUT = ErrorCodes.ScheduleInput;

function fail(file: string, field: string, reason: string): never {
  throw new SchedulerError(E_SCHEDULE_INPUT, `${file}: ${field}: ${reason}`, { file, field, reason });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** parseDocument parses JSON or YAML text, naming the file on a syntax error. */
export function parseDocument(text: string, file: string): unknown {
  try {
    return load(text);
  } catch (err) {
    fail(file, '(document)', `not valid JSON or YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

function checkTask(t: unknown, file: string, at: string): SchedTask {
  if (!isObject(t)) fail(file, at, 'must be an object');
  if (typeof t.id !== 'string' || !t.id) fail(file, `${at}.id`, 'must be a non-empty string');
  if (typeof t.jobKey !== 'string' || !t.jobKey) fail(file, `${at}.jobKey`, 'must be a non-empty string');
  if (!Number.isInteger(t.priority)) fail(file, `${at}.priority`, 'must be an integer 0..1000');
  if (!isObject(t.template)) fail(file, `${at}.template`, 'must be an object');
  const req = (t.template.resources as { requests?: Record<string, unknown> } | undefined)?.requests;
  if (!isObject(req)) fail(file, `${at}.template.resources.requests`, 'must be an object');
  for (const k of ['cpuMillis', 'memoryBytes']) {
    if (typeof req[k] !== 'number' || !(req[k] >= 0)) fail(file, `${at}.template.resources.requests.${k}`, 'must be a number >= 0');
  }
  const tmpl = t.template;
  return {
    ...(t as unknown as SchedTask),
    templateHash: typeof t.templateHash === 'string' ? t.templateHash : '',
    template: {
      ...(tmpl as unknown as SchedTask['template']),
      image: typeof tmpl.image === 'string' ? tmpl.image : '',
      nodeSelector: isObject(tmpl.nodeSelector) ? (tmpl.nodeSelector as Record<string, string>) : {},
      tolerations: Array.isArray(tmpl.tolerations) ? (tmpl.tolerations as SchedTask['template']['tolerations']) : [],
    },
  };
}

/** parseTasks reads a list of tasks (TaskSpec or its scheduling subset) from a document. */
export function parseTasks(doc: unknown, file: string): SchedTask[] {
  const list = isObject(doc) && Array.isArray(doc.tasks) ? doc.tasks : doc;
  if (!Array.isArray(list)) fail(file, '(document)', 'must be a list of tasks or an object with a "tasks" list');
  return list.map((t, i) => checkTask(t, file, `tasks[${i}]`));
}

/** parseSnapshot reads a ClusterSnapshot ({nodes, running}) from a document. */
export function parseSnapshot(doc: unknown, file: string): ClusterSnapshot {
  if (!isObject(doc)) fail(file, '(document)', 'must be an object with "nodes" and optionally "running"');
  if (!Array.isArray(doc.nodes)) fail(file, 'nodes', 'must be a list');
  const names = new Set<string>();
  const nodes: SnapshotNode[] = doc.nodes.map((n, i) => {
    const at = `nodes[${i}]`;
    if (!isObject(n)) fail(file, at, 'must be an object');
    if (typeof n.name !== 'string' || !n.name) fail(file, `${at}.name`, 'must be a non-empty string');
    if (names.has(n.name)) fail(file, `${at}.name`, `duplicate node name "${n.name}"`);
    names.add(n.name);
    if (!isObject(n.allocatable)) fail(file, `${at}.allocatable`, 'must be an object');
    for (const k of ['cpuMillis', 'memoryBytes']) {
      const v = n.allocatable[k];
      if (typeof v !== 'number' || !(v >= 0)) fail(file, `${at}.allocatable.${k}`, 'must be a number >= 0');
    }
    if (n.taints !== undefined && !Array.isArray(n.taints)) fail(file, `${at}.taints`, 'must be a list');
    if (n.labels !== undefined && !isObject(n.labels)) fail(file, `${at}.labels`, 'must be a map');
    return {
      name: n.name,
      allocatable: n.allocatable as unknown as SnapshotNode["allocatable"],
      labels: (n.labels as Record<string, string>) ?? {},
      taints: (n.taints as SnapshotNode['taints']) ?? [],
      ready: n.ready === undefined ? true : n.ready === true,
      cordoned: n.cordoned === true,
      images: Array.isArray(n.images) ? (n.images as string[]) : [],
    };
  });
  const runningDoc = doc.running ?? [];
  if (!Array.isArray(runningDoc)) fail(file, 'running', 'must be a list');
  const running: RunningTask[] = runningDoc.map((r, i) => {
    const at = `running[${i}]`;
    if (!isObject(r)) fail(file, at, 'must be an object with "task" and "node"');
    if (typeof r.node !== 'string' || !names.has(r.node)) fail(file, `${at}.node`, `must name a node of "nodes"`);
    return { task: checkTask(r.task, file, `${at}.task`), node: r.node };
  });
  return { nodes, running };
}
