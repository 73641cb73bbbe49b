/**
 * The live stream (GET /api/stream?view=PATH), as server-sent events:
 *
 *   snapshot   nodes, jobs, sources, malformed records, recent events, task counts per job and node,
 *              and the first WINDOW task rows of the page in view (a job's tasks in the job page's
 *              order, a node's, one task's): what the page paints first
 *   rows       changed rows (every family), from the snapshot on: updates are never held back
 *   tasks      the other task rows, CHUNK at a time (the rest of the view's list first, in order, so
 *              what a browser holds of a list is always its head), the last one with `done: true`,
 *              once the browser asks for them (GET /api/stream/rest?id=STREAM, after it painted the
 *              snapshot) or REST_AFTER_MS after the snapshot at the latest. Sent at once, they came
 *              in the same read as the snapshot: Chromium parsed all 1.4 MB of event stream before
 *              it painted anything.
 *
 * A chunk is serialized when it is written, from the rows of that moment, and on the same response
 * as the batches: a row a batch changed or removed before the chunk is sent as it is now (or not at
 * all), so a browser applying both in order ends up with the model's rows.
 */
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ClusterEvent } from '../api/index.ts';
import type { DashboardModel, RowBatch } from './model.ts';
import { WORKLOAD_KINDS, type JobView } from './rows.ts';

/** WINDOW is how many task rows of the page in view the snapshot carries (a screen is about 35). */
export const WINDOW = 100;
/** CHUNK is how many task rows each later `tasks` message carries. */
export const CHUNK = 1000;
/** REST_AFTER_MS is how long the other tasks wait for the browser to ask for them. */
export const REST_AFTER_MS = 3000;
/** RETRY_MS is how long a browser waits before it opens a lost stream again. */
export const RETRY_MS = 500;
/** PING_MS keeps proxies from closing an idle stream. */
const PING_MS = 15_000;

/** byIndex orders a job's tasks as its page lists them: index, then id. Pure. */
export function byIndex(a: { spec: { index: number; id: string } }, b: { spec: { index: number; id: string } }): number {
  return a.spec.index - b.spec.index || a.spec.id.localeCompare(b.spec.id);
}

/** viewTasks lists the task ids a page path shows, in the page's order ([] for a page without a task list). */
export function viewTasks(m: DashboardModel, path: string): string[] {
  const [, what, a, b] = path.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  if (what === 'jobs' && a && b) {
    const job = WORKLOAD_KINDS.map((k) => m.row<JobView>('jobs', `${k}.${a}.${b}`)).find((j) => j);
    return job ? m.tasksOf(job.key).sort(byIndex).map((t) => t.spec.id) : [];
  }
  if (what === 'nodes' && a) return m.tasksOn(a).map((t) => t.spec.id).sort();
  if (what === 'tasks' && a) return [a];
  return [];
}

/** streamTo serves one browser's stream until the response closes (see the file comment). */
export async function streamTo(model: DashboardModel, res: ServerResponse, view: string, extra: Record<string, unknown>, headers: Record<string, string>): Promise<void> {
  await model.synced;
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', connection: 'keep-alive' });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const first = viewTasks(model, view);
  const inView = new Set(first);
  const all = model.taskIds();
  const rest = [...first.slice(WINDOW), ...all.filter((id) => !inView.has(id))];
  const counts = { taskTotal: all.length, taskCounts: model.taskCounts(), tasksDone: rest.length === 0 };
  const id = randomUUID();
  // A stream lost to a network change comes back after `retry` ms (browsers wait about 3 s by default).
  res.write(`retry: ${RETRY_MS}\n\n`);
  res.write(`event: snapshot\ndata: ${model.snapshotJson(first.slice(0, WINDOW), { ...extra, ...counts, streamId: id })}\n\n`);
  const off = model.subscribe({ rows: (b: RowBatch) => send('rows', b), events: (e: ClusterEvent[]) => send('events', e) });
  const ping = setInterval(() => res.write(`: ping\n\n`), PING_MS);
  let start: () => void = () => undefined;
  const asked = new Promise<void>((resolve) => (start = resolve));
  const later = setTimeout(start, REST_AFTER_MS);
  waitingRest.set(id, start);
  // The response's close, not the request's: a GET request "closes" once read, at once.
  res.once('close', () => {
    clearInterval(ping);
    clearTimeout(later);
    waitingRest.delete(id);
    start();
    off();
  });
  await asked;
  waitingRest.delete(id);
  await sendRest(model, res, rest);
}

/** waitingRest holds, per open stream whose other tasks are not sent yet, what starts them. */
const waitingRest = new Map<string, () => void>();

/** sendRestOf starts sending the other tasks of stream `id` (GET /api/stream/rest?id=); false: no such stream waits. */
export function sendRestOf(id: string): boolean {
  const start = waitingRest.get(id);
  start?.();
  return start !== undefined;
}

/** sendRest writes the remaining task rows CHUNK at a time, letting batches and other requests in between. */
async function sendRest(model: DashboardModel, res: ServerResponse, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length && !res.destroyed; i += CHUNK) {
    const rows = model.taskJson(ids.slice(i, i + CHUNK));
    const more = res.write(`event: tasks\ndata: {"rows":[${rows.join(',')}],"done":${i + CHUNK >= ids.length}}\n\n`);
    if (more) await nextTurn();
    else await new Promise<void>((resolve) => {
      const go = () => (res.off('drain', go), res.off('close', go), resolve());
      res.once('drain', go).once('close', go);
    });
  }
}
