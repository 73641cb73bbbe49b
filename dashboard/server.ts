/**
 * The dashboard's HTTP server (node:http): every request passes the access decision first
 * (access.ts), then
 *
 *   /api/stream?view=PATH  server-sent events: the rows PATH paints first, changed rows and events, the other tasks (stream.ts)
 *   /api/<page>/...        the JSON of one page (pages.ts); 404 E_NOT_FOUND for an unknown object
 *   /api/tasks/ID/log      server-sent events: the task's log, followed through its node's agent
 *   /static/*, /vendor/*   the front-end (dashboard/static) and its two libraries from node_modules
 *   anything else          the page shell (index.html); 404 for a path no page has or an unknown object
 *
 * Read-only: any method but GET and HEAD is 405; the store connection is the viewer's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessage, type Logger } from '../lib/index.ts';
import { ErrorCodes } from '../lib/error-codes.ts';
import { streamLogs } from '../agent/logs.ts';
import { decide, type AccessPolicy } from './access.ts';
import type { CommitInfo, DashboardModel } from './model.ts';
import { sendRestOf, streamTo } from './stream.ts';
import { filterEvents, jobPage, nodePage, pendingPage, taskPage } from './pages.ts';

/** ServerDeps is what the routes read. */
export interface ServerDeps {
  model: DashboardModel;
  nc: NatsConnection;
  policy: AccessPolicy;
  log: Logger;
  commitInfo?: CommitInfo;
  /** Prometheus base URL, when monitoring is configured */
  prometheusUrl?: string;
  /** extra JSON routes (the commit plan, metrics), path prefix → handler(rest of the path, query) */
  routes?: Record<string, (rest: string[], q: URLSearchParams) => Promise<unknown | undefined>>;
}

const here = dirname(fileURLToPath(import.meta.url));
/** STATIC_DIR holds the front-end (scripts/build.mjs copies it beside the compiled server). */
const STATIC_DIR = join(here, 'static');
const require = createRequire(import.meta.url);

/** VENDOR maps the served library files to node_modules; bare imports are rewritten to these URLs (no import map, so the CSP needs no inline script). */
const VENDOR: Record<string, [pkg: string, file: string]> = {
  'preact.mjs': ['preact', 'dist/preact.mjs'],
  'hooks.mjs': ['preact', 'hooks/dist/hooks.mjs'],
  'htm.mjs': ['htm', 'dist/htm.mjs'],
  'uPlot.esm.js': ['uplot', 'dist/uPlot.esm.js'],
  'uPlot.min.css': ['uplot', 'dist/uPlot.min.css'],
};

/** vendorFile finds a library file beside its package.json (their `exports` do not list the files). */
function vendorFile(name: string): string | undefined {
  const v = VENDOR[name];
  const root = v && (require.resolve.paths(v[0]) ?? []).map((p) => join(p, v[0])).find((p) => existsSync(join(p, 'package.json')));
  return v && root ? join(root, v[1]) : undefined;
}

const TYPES: Record<string, string> = { js: 'text/javascript', mjs: 'text/javascript', css: 'text/css', html: 'text/html; charset=utf-8', svg: 'image/svg+xml' };

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** PAGE_PATTERNS are the paths a page answers (the front-end router has the same list). */
const PAGE_PATTERNS = [/^\/$/, /^\/jobs\/[^/]+\/[^/]+$/, /^\/tasks\/[^/]+$/, /^\/nodes\/[^/]+$/, /^\/pending$/, /^\/commits\/[^/]+$/, /^\/events$/];

/** startServer listens on host:port (0: a free port) and resolves with the server and its URL. */
export async function startServer(deps: ServerDeps, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handle(deps, req, res).catch((err) => {
      deps.log.warn({ err: errorMessage(err), url: req.url }, 'dashboard: request failed');
      if (!res.headersSent) json(res, 500, { code: ErrorCodes.Failed, message: errorMessage(err) });
      else res.destroy();
    });
  });
  // SSE streams stay open: no request timeout; headers must still come quickly.
  server.requestTimeout = 0;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as { port: number };
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}` };
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
  const verdict = decide(deps.policy, {
    ...(req.headers.host ? { host: req.headers.host } : {}),
    ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}),
    ...(url.searchParams.has('token') ? { queryToken: url.searchParams.get('token')! } : {}),
  });
  if (!verdict.allow) return json(res, verdict.status, { code: ErrorCodes.DashboardUnauthorized, message: verdict.reason });
  if (verdict.setCookie) {
    // The token leaves the address bar (and the history) at once.
    url.searchParams.delete('token');
    res.writeHead(303, { ...SECURITY_HEADERS, 'set-cookie': verdict.setCookie, location: `${url.pathname}${url.search}` });
    return void res.end();
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { code: ErrorCodes.Usage, message: 'the dashboard is read-only: GET only' });
  const path = url.pathname;
  if (path === '/api/stream/rest') return sendRestOf(url.searchParams.get('id') ?? '') ? json(res, 200, { started: true }) : json(res, 404, { code: ErrorCodes.NotFound, message: 'no stream waits for its tasks under that id' });
  if (path === '/api/stream') return streamTo(deps.model, res, url.searchParams.get('view') ?? '/', { monitoring: monitoring(deps), serverTime: Date.now() }, SECURITY_HEADERS);
  if (path.startsWith('/api/')) return api(deps, path.slice(5).split('/').map(decodeURIComponent), url.searchParams, req, res);
  if (path.startsWith('/static/') || path.startsWith('/vendor/')) return asset(res, path);
  const known = PAGE_PATTERNS.some((p) => p.test(path)) && (await pageExists(deps, path));
  res.writeHead(known ? 200 : 404, { ...SECURITY_HEADERS, 'content-type': TYPES.html! });
  res.end(readFileSync(join(STATIC_DIR, 'index.html')));
}

/** pageExists tells whether the object a deep link names exists (a page for a missing one is a 404). */
async function pageExists(deps: ServerDeps, path: string): Promise<boolean> {
  const [, what, a, b] = path.split('/').map(decodeURIComponent);
  await deps.model.synced;
  if (what === 'jobs') return deps.model.row('jobs', `Job.${a}.${b}`) !== undefined || deps.model.row('jobs', `DaemonSet.${a}.${b}`) !== undefined;
  if (what === 'tasks') return deps.model.taskRow(a!) !== undefined || deps.model.malformedOf(deps.model.tasks.name, a!) !== undefined;
  if (what === 'nodes') return deps.model.row('nodes', a!) !== undefined;
  return true;
}

/** api answers the JSON of a page; undefined from a route is 404 E_NOT_FOUND. */
async function api(deps: ServerDeps, parts: string[], q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { model } = deps;
  await model.synced;
  const [what, a, b, c] = parts;
  let body: unknown;
  if (what === 'overview') body = { ...model.snapshot(), monitoring: monitoring(deps) };
  else if (what === 'jobs' && a && b && !c) body = await jobPage(model, a, b, deps.commitInfo);
  else if (what === 'tasks' && a && b === 'log') return logStream(deps, a, req, res);
  else if (what === 'tasks' && a && !b) body = await taskPage(model, a);
  else if (what === 'nodes' && a && !b) body = nodePage(model, a);
  else if (what === 'pending' && !a) body = pendingPage(model);
  else if (what === 'events' && !a) body = filterEvents(model.recentEvents, { kind: q.get('kind') ?? '', name: q.get('name') ?? '', type: q.get('type') ?? '' });
  else if (what && deps.routes?.[what]) body = await deps.routes[what]!(parts.slice(1), q);
  if (body === undefined) return json(res, 404, { code: ErrorCodes.NotFound, message: `not found: /${parts.join('/')}` });
  json(res, 200, body);
}

/** logStream follows a task's log through its node's agent (the `gitcell logs -f` path) as server-sent events. */
async function logStream(deps: ServerDeps, id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const node = deps.model.taskRow(id)?.node;
  if (!node) return json(res, 404, { code: ErrorCodes.NotFound, message: `task ${id} is on no node: no log yet` });
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream' });
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  const dec = new TextDecoder();
  try {
    await streamLogs(deps.nc, node, { taskId: id, follow: true, tail: 200 }, (chunk) => res.write(`event: log\ndata: ${JSON.stringify(dec.decode(chunk, { stream: true }))}\n\n`), { signal: ac.signal });
    res.write(`event: end\ndata: "the log ended"\n\n`);
  } catch (err) {
    if (!ac.signal.aborted) res.write(`event: failed\ndata: ${JSON.stringify(errorMessage(err))}\n\n`);
  }
  res.end();
}

/** asset serves a front-end file or a vendored library file; names are matched, never joined from the URL. */
function asset(res: ServerResponse, path: string): void {
  const name = path.slice(path.indexOf('/', 1) + 1);
  let file: string | undefined;
  if (path.startsWith('/vendor/')) file = vendorFile(name);
  else if (path.startsWith('/static/') && /^[a-z0-9-]+\.(js|css|svg)$/.test(name)) file = join(STATIC_DIR, name);
  let body: string;
  try {
    body = file ? readFileSync(file, 'utf8') : '';
  } catch {
    file = undefined;
    body = '';
  }
  if (!file) return json(res, 404, { code: ErrorCodes.NotFound, message: `no such file: ${path}` });
  // The hooks import "preact" by its bare name: point it at the served copy.
  if (name === 'hooks.mjs') body = body.replace(/from\s*"preact"/g, 'from"/vendor/preact.mjs"');
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream' });
  res.end(body);
}

/** monitoring says where Prometheus is, null when monitoring is not configured. */
function monitoring(deps: ServerDeps): { prometheus: string } | null {
  return deps.prometheusUrl ? { prometheus: deps.prometheusUrl } : null;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
