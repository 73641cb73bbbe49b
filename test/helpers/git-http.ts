/**
 * Test helper: a real `git http-backend` (Git's own smart-HTTP CGI program) behind a tiny node HTTP
 * server on 127.0.0.1, serving bare repositories from a temp directory. Pushes work
 * (`http.receivepack` is enabled), so tests can watch gitcell push revert commits to a real remote.
 * Optional HTTP basic auth checks the credentials gitcell sends.
 *
 *   client (isomorphic-git, git CLI) --HTTP--> node server --CGI env + stdin--> git-http-backend
 */
import { spawn, execFile, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

/** GIT_HTTP_BACKEND is where Debian's git package installs the CGI program. */
export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/** GitHttpServerOptions: require HTTP basic auth with these credentials when set. */
export interface GitHttpServerOptions {
  auth?: { username: string; password: string };
}

/** GitHttpServer is a running git http-backend; `close()` stops it and removes its repositories. */
export interface GitHttpServer {
  /** root is GIT_PROJECT_ROOT: bare repositories live in `${root}/${name}.git`. */
  root: string;
  /** baseUrl is `http://127.0.0.1:PORT`. */
  baseUrl: string;
  /** requests counts HTTP requests served, per PATH_INFO suffix ("info/refs", "git-upload-pack", ...). */
  requests: Map<string, number>;
  /** createBareRepo makes `${name}.git` and returns its clone URL. */
  createBareRepo(name: string): string;
  /** url of an existing repository `${name}.git`. */
  url(name: string): string;
  close(): Promise<void>;
}

/** gitEnv is the environment for git child processes in tests: no user config, fixed identity. */
export function gitEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test User',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test User',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    GIT_TERMINAL_PROMPT: '0',
  };
}

/** git runs the git CLI in `cwd` and returns trimmed stdout; it throws with stderr on failure. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * gitAsync runs the git CLI without blocking the event loop: needed whenever git talks to a server
 * living in this same process (the git http-backend helper), which a sync call would starve.
 */
export function gitAsync(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env: gitEnv(), encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout.trim());
    });
  });
}

/** startGitHttpServer starts the server on a free port of 127.0.0.1. Fails clearly without git-http-backend. */
export async function startGitHttpServer(options: GitHttpServerOptions = {}): Promise<GitHttpServer> {
  if (!existsSync(GIT_HTTP_BACKEND)) {
    throw new Error(`${GIT_HTTP_BACKEND} is missing: install the Debian package "git" (scripts/bootstrap.sh does)`);
  }
  const root = mkdtempSync(join(tmpdir(), 'gitcell-git-http-'));
  const requests = new Map<string, number>();
  const expectedAuth = options.auth
    ? `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`
    : undefined;

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const kind = url.pathname.split('/').slice(2).join('/') || url.pathname;
    requests.set(kind, (requests.get(kind) ?? 0) + 1);
    if (expectedAuth && req.headers.authorization !== expectedAuth) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
      res.end('unauthorized\n');
      return;
    }
    const child = spawn(GIT_HTTP_BACKEND, [], { env: cgiEnv(req, url, root, options), stdio: ['pipe', 'pipe', 'pipe'] });
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    relayCgiResponse(child, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    root,
    baseUrl,
    requests,
    createBareRepo(name) {
      execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', join(root, `${name}.git`)], { env: gitEnv() });
      return `${baseUrl}/${name}.git`;
    },
    url: (name) => `${baseUrl}/${name}.git`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** cgiEnv is git-http-backend's CGI environment for one request (receive-pack enabled: tests push). */
function cgiEnv(req: IncomingMessage, url: URL, root: string, options: GitHttpServerOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    // Anonymous pushes are refused unless receive-pack is enabled explicitly.
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: 'true',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: options.auth?.username ?? 'anonymous',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
  };
  if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
  if (req.headers['content-encoding'] !== undefined) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol'] !== undefined) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  return env;
}

/** relayCgiResponse turns CGI output (header lines, an empty line, then the body) into the HTTP response. */
function relayCgiResponse(child: ChildProcessWithoutNullStreams, res: ServerResponse): void {
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) { res.write(chunk); return; }
    head = Buffer.concat([head, chunk]);
    let end = head.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (end < 0) { end = head.indexOf('\n\n'); sepLen = 2; }
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + sepLen));
  });
  child.on('close', (code) => {
    if (!headersDone) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`git-http-backend exited ${code}: ${stderr}`);
      return;
    }
    res.end();
  });
}
