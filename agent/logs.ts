/**
 * Task logs over NATS. Each agent answers requests on `gitcell.logs.<node>`; the client finds the
 * node from the task's binding (or its status), subscribes to the stream's subjects, and asks:
 *
 *   client ── publish {taskId, tail, follow, since, timestamps, previous, stream: <id>} ──► gitcell.logs.<node>
 *          ◄── answer {ok} | {ok:false, code, message} on gitcell.logs.<node>.out.<id>.reply
 *          ◄── log text (stdout and stderr by time) on gitcell.logs.<node>.out.<id> … an empty message ends it
 *   (follow) client ── keepalive every 2 s ──► gitcell.logs.<node>.alive.<id> ; 10 s without one ends the follow
 *
 * A task's log is its container's while the agent keeps one, else its newest archived attempt
 * (log-archive.ts: finished tasks, within a retention); `previous` asks for the attempt before.
 * `{archived: JOB_KEY_PREFIX, stream: <id>}` asks which tasks of such jobs have archived logs:
 * answer {ok, tasks}.
 *
 * The answer and the log flow on subjects under the node's name, never on the client's inbox: NATS
 * permissions let an agent publish only for its own node and let nobody subscribe to another's
 * inbox, and an agent needs no `allow_responses` (store/permissions.ts logReplySubject: what that
 * cost nats-server at 10,000 nodes). A request without a valid stream id cannot be answered.
 */
import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { AgentError, GitcellError, isErrorCode, ErrorCodes } from '../lib/index.ts';
import { logAliveSubject, logReplySubject, logRequestSubject, logStreamSubject, type RoBucket } from '../store/index.ts';
import type { Binding, TaskStatus } from '../api/index.ts';
import { logFiles, logFollowers, readLogFile, type LogFollower, type LogLine } from '../runtime/index.ts';

/** logSubject is where the agent of `node` answers log requests. */
export const logSubject = logRequestSubject;

/** A log stream id: one subject token. */
const STREAM_ID = /^[A-Za-z0-9]{1,64}$/;

/** LogRequest is what a client asks for. */
export interface LogRequest {
  taskId: string;
  tail?: number;
  follow?: boolean;
  /** only lines written at or after this time (ISO 8601) */
  since?: string;
  /** lead each line with the time it was written */
  timestamps?: boolean;
  /** the attempt before the current (or last) one: the log of the container a restart replaced */
  previous?: boolean;
  /** id of the log stream (one token): the log comes on `logStreamSubject(node, stream)` */
  stream: string;
}

const CHUNK = 64 * 1024;
const KEEPALIVE_MS = 2_000;
const FOLLOW_IDLE_MS = 10_000;
const enc = new TextEncoder();

/** LogSource is where a task's log lives on this node and whether more may still come. */
export interface LogSource {
  /** the container's log directory (runtime/container's rotated stdout.log / stderr.log) */
  dir: string;
  /** false once the container has exited: a follow ends after draining */
  live(): boolean;
}

/** LogSources is what serveLogs asks the agent: a task's log (or its previous attempt's), and archived tasks by job. */
export interface LogSources {
  /** undefined when this node has no such log */
  source(taskId: string, previous: boolean): LogSource | undefined;
  archived(jobKeyPrefix: string): { taskId: string; jobKey: string }[];
}

/** serveLogs answers log requests for this node. Returns the subscription (unsubscribe to stop). */
export function serveLogs(nc: NatsConnection, node: string, sources: LogSources, pollMs = 200): Subscription {
  return nc.subscribe(logSubject(node), {
    callback: (err, msg) => {
      if (err) return;
      void handle(nc, node, msg, sources, pollMs);
    },
  });
}

/** snapshotLines reads a log directory: rotated files, then what the followers see now, in time order. */
function snapshotLines(dir: string, followers: LogFollower[], final: boolean): LogLine[] {
  const lines: LogLine[] = [];
  for (const f of followers) {
    for (const file of logFiles(dir, f.stream).filter((p) => !p.endsWith('.log'))) lines.push(...readLogFile(file, f.stream));
    lines.push(...f.poll(final));
  }
  // Stable: lines of one stream keep their order; the streams interleave by their timestamps.
  return lines.map((l, i) => ({ l, i })).sort((a, b) => (a.l.time < b.l.time ? -1 : a.l.time > b.l.time ? 1 : a.i - b.i)).map((x) => x.l);
}

/** answerTo is how the agent answers the request in `msg`: on its stream's reply subject, if it names a valid one. */
function answerTo(nc: NatsConnection, node: string, msg: Msg): { req: unknown; answer: (body: unknown) => void } {
  let req: unknown;
  try {
    req = JSON.parse(new TextDecoder().decode(msg.data));
  } catch {
    req = undefined;
  }
  const stream = (req as { stream?: unknown } | undefined)?.stream;
  const subject = typeof stream === 'string' && STREAM_ID.test(stream) ? logReplySubject(node, stream) : undefined;
  return { req, answer: (body) => (subject ? nc.publish(subject, enc.encode(JSON.stringify(body))) : undefined) };
}

async function handle(nc: NatsConnection, node: string, msg: Msg, sources: LogSources, pollMs: number): Promise<void> {
  const { req: raw, answer } = answerTo(nc, node, msg);
  let req: LogRequest;
  try {
    if (typeof raw !== 'object' || raw === null) throw new Error('not a JSON object');
    req = raw as LogRequest;
    if (typeof req.stream !== 'string' || !STREAM_ID.test(req.stream)) throw new Error('stream must be an id of 1 to 64 letters and digits');
    const archived = (req as { archived?: unknown }).archived;
    if (typeof archived === 'string') {
      answer({ ok: true, tasks: sources.archived(archived) });
      return;
    }
    if (typeof req.taskId !== 'string') throw new Error('taskId is required');
    if (req.tail !== undefined && (!Number.isSafeInteger(req.tail) || req.tail < 0)) throw new Error('tail must be a whole number');
    if (req.since !== undefined && !Number.isFinite(Date.parse(req.since))) throw new Error('since must be a time');
  } catch (err) {
    answer({ ok: false, code: ErrorCodes.LogRequest, message: `bad log request: ${(err as Error).message}` });
    return;
  }
  const previous = req.previous === true;
  const resolve = (taskId: string) => sources.source(taskId, previous);
  const src = resolve(req.taskId);
  if (!src) {
    const what = previous ? `no previous attempt of task ${req.taskId} has a log on this node` : `task ${req.taskId} has no log on this node (not running here, nor kept after it finished)`;
    answer({ ok: false, code: ErrorCodes.TaskNotFound, message: what });
    return;
  }
  answer({ ok: true });
  let lastAlive = Date.now();
  const out = logStreamSubject(node, req.stream);
  const alive = req.follow ? nc.subscribe(logAliveSubject(node, req.stream), { callback: () => { lastAlive = Date.now(); } }) : undefined;
  const followers = logFollowers(src.dir);
  try {
    const since = req.since !== undefined ? new Date(req.since).toISOString() : undefined;
    const keep = (ls: LogLine[]) => (since === undefined ? ls : ls.filter((l) => l.time >= since));
    let lines = keep(snapshotLines(src.dir, followers, !src.live()));
    if (req.tail !== undefined) lines = req.tail === 0 ? [] : lines.slice(-req.tail);
    send(nc, out, lines, req.timestamps === true);
    while (req.follow && Date.now() - lastAlive < FOLLOW_IDLE_MS && resolve(req.taskId)?.dir === src.dir) {
      const wasLive = src.live();
      await new Promise((r) => setTimeout(r, pollMs));
      send(nc, out, keep(followers.flatMap((f) => f.poll(!wasLive))), req.timestamps === true);
      if (!wasLive) break; // exited before this last drain: nothing more will come
    }
  } finally {
    for (const f of followers) f.close();
    alive?.unsubscribe();
    nc.publish(out, new Uint8Array(0));
  }
}

function send(nc: NatsConnection, stream: string, lines: LogLine[], timestamps = false): void {
  let buf = '';
  for (const l of lines) {
    buf += timestamps ? `${l.time} ${l.text}\n` : `${l.text}\n`;
    if (buf.length >= CHUNK) {
      nc.publish(stream, enc.encode(buf));
      buf = '';
    }
  }
  if (buf) nc.publish(stream, enc.encode(buf));
}

/**
 * ask publishes a log request (its `stream` a fresh id) to the agent of `node` and resolves with
 * the agent's answer from the stream's reply subject, subscribed before the request leaves; an agent
 * that does not answer within `timeoutMs` (down, or no such node) is E_AGENT_UNREACHABLE.
 */
function ask(nc: NatsConnection, node: string, body: { stream: string } & Record<string, unknown>, timeoutMs: number): Promise<unknown> {
  const unreachable = (why: string) => new AgentError(ErrorCodes.AgentUnreachable, `the agent of node ${node} did not answer a log request: ${why}`, { node });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(unreachable(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const sub = nc.subscribe(logReplySubject(node, body.stream), {
      max: 1,
      callback: (err, m) => {
        clearTimeout(timer);
        if (err) return reject(unreachable(err.message));
        try {
          resolve(JSON.parse(new TextDecoder().decode(m.data)));
        } catch {
          reject(unreachable('its answer is not JSON'));
        }
      },
    });
    nc.publish(logSubject(node), enc.encode(JSON.stringify(body)));
  });
}

/** findTaskNode says which node runs a task: its binding, else the newest status record naming it. */
export async function findTaskNode(taskId: string, bindings: RoBucket<Binding>, status: RoBucket<TaskStatus>): Promise<string> {
  const b = await bindings.get(taskId).catch(() => undefined);
  if (b) return b.value.node;
  const all = (await status.list()).filter((r) => r.value.taskId === taskId);
  all.sort((a, b2) => b2.revision - a.revision);
  if (all[0]) return all[0].value.node;
  throw new AgentError(ErrorCodes.TaskNotFound, `task ${taskId} is not bound to any node and has no status`, { taskId });
}

/**
 * streamLogs fetches a task's log from `node` and hands each chunk to `write`; it resolves when the
 * stream ends (at once without follow; with follow when the task's log goes away or `signal` aborts).
 */
export async function streamLogs(
  nc: NatsConnection,
  node: string,
  req: Omit<LogRequest, 'stream'>,
  write: (chunk: Uint8Array) => void,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  const stream = randomBytes(12).toString('hex');
  const sub = nc.subscribe(logStreamSubject(node, stream));
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => sub.unsubscribe();
  try {
    const r = (await ask(nc, node, { ...req, stream }, opts.timeoutMs ?? 5000)) as { ok: boolean; code?: string; message?: string };
    if (!r.ok) throw new GitcellError(isErrorCode(r.code) ? r.code : ErrorCodes.Logs, r.message ?? 'log request refused', { node, taskId: req.taskId });
    if (req.follow) timer = setInterval(() => nc.publish(logAliveSubject(node, stream)), KEEPALIVE_MS);
    opts.signal?.addEventListener('abort', onAbort);
    for await (const m of sub) {
      if (m.data.length === 0) break;
      write(m.data);
    }
  } finally {
    if (timer) clearInterval(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    sub.unsubscribe();
  }
}

/** archivedTasks asks the agent of `node` which tasks of jobs whose key starts with `jobKeyPrefix` have kept logs. */
export async function archivedTasks(nc: NatsConnection, node: string, jobKeyPrefix: string, timeoutMs = 5000): Promise<{ taskId: string; jobKey: string }[]> {
  const stream = randomBytes(12).toString('hex');
  const r = (await ask(nc, node, { archived: jobKeyPrefix, stream }, timeoutMs)) as { ok: boolean; tasks?: { taskId: string; jobKey: string }[]; code?: string; message?: string };
  if (!r.ok || !Array.isArray(r.tasks)) throw new GitcellError(isErrorCode(r.code) ? r.code : ErrorCodes.Logs, r.message ?? 'log request refused', { node });
  return r.tasks;
}
