/**
 * Task logs over NATS. Each agent answers requests on `gitcell.logs.<node>`; the client finds the
 * node from the task's binding (or its status), opens an inbox, and asks for the log:
 *
 *   client ── request {taskId, tail, follow, stream} ──► gitcell.logs.<node>
 *          ◄── reply {ok} | {ok:false, code, message}
 *          ◄── data chunks on `stream` … an empty message ends the stream
 *   (follow) client ── keepalive every 2 s ──► <stream>.alive ; 10 s without one ends the follow
 */
import { open, stat } from 'node:fs/promises';
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { GitcellError } from '../lib/index.ts';
import type { Bucket } from '../store/index.ts';
import type { Binding, TaskStatus } from '../api/index.ts';

/** logSubject is where the agent of `node` answers log requests. */
export function logSubject(node: string): string {
  return `gitcell.logs.${node}`;
}

/** LogRequest is what a client asks for. */
export interface LogRequest {
  taskId: string;
  tail?: number;
  follow?: boolean;
  stream: string;
}

const CHUNK = 64 * 1024;
const KEEPALIVE_MS = 2_000;
const FOLLOW_IDLE_MS = 10_000;
const enc = new TextEncoder();

/** tailOffset returns the byte offset where the last `lines` lines of `buf` begin. */
export function tailOffset(buf: Buffer, lines: number): number {
  if (lines <= 0) return buf.length;
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--; // a final newline does not start an empty line
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (buf[i] === 0x0a && ++seen === lines) return i + 1;
  }
  return 0;
}

/**
 * serveLogs answers log requests for this node. `resolve` maps a task to its log file (undefined
 * when this agent does not run it). Returns the subscription (unsubscribe to stop).
 */
export function serveLogs(nc: NatsConnection, node: string, resolve: (taskId: string) => string | undefined, pollMs = 200): Subscription {
  return nc.subscribe(logSubject(node), {
    callback: (err, msg) => {
      if (err) return;
      void handle(nc, msg, resolve, pollMs);
    },
  });
}

async function handle(nc: NatsConnection, msg: Msg, resolve: (taskId: string) => string | undefined, pollMs: number): Promise<void> {
  let req: LogRequest;
  try {
    req = JSON.parse(new TextDecoder().decode(msg.data)) as LogRequest;
    if (typeof req.taskId !== 'string' || typeof req.stream !== 'string') throw new Error('taskId and stream are required');
  } catch (err) {
    msg.respond(enc.encode(JSON.stringify({ ok: false, code: 'E_LOG_REQUEST', message: `bad log request: ${(err as Error).message}` })));
    return;
  }
  const file = resolve(req.taskId);
  if (!file) {
    msg.respond(enc.encode(JSON.stringify({ ok: false, code: 'E_TASK_NOT_FOUND', message: `task ${req.taskId} does not run on this node` })));
    return;
  }
  msg.respond(enc.encode(JSON.stringify({ ok: true })));
  let lastAlive = Date.now();
  const alive = req.follow ? nc.subscribe(`${req.stream}.alive`, { callback: () => { lastAlive = Date.now(); } }) : undefined;
  try {
    let offset = 0;
    const size = await stat(file).then((s) => s.size, () => 0);
    if (req.tail !== undefined && size > 0) {
      // Enough of the end of the file for N lines of ordinary length; bounded so a huge log is cheap.
      const start = Math.max(0, size - Math.max(CHUNK, req.tail * 1024));
      const fh = await open(file, 'r');
      try {
        const buf = Buffer.alloc(size - start);
        await fh.read(buf, 0, buf.length, start);
        offset = start + tailOffset(buf, req.tail);
      } finally {
        await fh.close();
      }
    }
    offset = await sendFrom(nc, req.stream, file, offset);
    while (req.follow && Date.now() - lastAlive < FOLLOW_IDLE_MS && resolve(req.taskId) === file) {
      await new Promise((r) => setTimeout(r, pollMs));
      offset = await sendFrom(nc, req.stream, file, offset);
    }
  } finally {
    alive?.unsubscribe();
    nc.publish(req.stream, new Uint8Array(0));
  }
}

async function sendFrom(nc: NatsConnection, stream: string, file: string, offset: number): Promise<number> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return offset;
  }
  try {
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, offset);
      if (bytesRead === 0) return offset;
      nc.publish(stream, buf.subarray(0, bytesRead));
      offset += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** findTaskNode says which node runs a task: its binding, else the newest status record naming it. */
export async function findTaskNode(taskId: string, bindings: Bucket<Binding>, status: Bucket<TaskStatus>): Promise<string> {
  const b = await bindings.get(taskId).catch(() => undefined);
  if (b) return b.value.node;
  const all = (await status.list()).filter((r) => r.value.taskId === taskId);
  all.sort((a, b2) => b2.revision - a.revision);
  if (all[0]) return all[0].value.node;
  throw new GitcellError('E_TASK_NOT_FOUND', `task ${taskId} is not bound to any node and has no status`, { taskId });
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
  const stream = createInbox('_GITCELL_LOGS');
  const sub = nc.subscribe(stream);
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => sub.unsubscribe();
  try {
    let reply: Msg;
    try {
      reply = await nc.request(logSubject(node), enc.encode(JSON.stringify({ ...req, stream })), { timeout: opts.timeoutMs ?? 5000 });
    } catch (err) {
      throw new GitcellError('E_AGENT_UNREACHABLE', `the agent of node ${node} did not answer a log request: ${(err as Error).message}`, { node });
    }
    const r = JSON.parse(new TextDecoder().decode(reply.data)) as { ok: boolean; code?: string; message?: string };
    if (!r.ok) throw new GitcellError(r.code ?? 'E_LOGS', r.message ?? 'log request refused', { node, taskId: req.taskId });
    if (req.follow) timer = setInterval(() => nc.publish(`${stream}.alive`), KEEPALIVE_MS);
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
