import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage, GitError } from '../../lib/errors.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** MAX_WEBHOOK_BODY bounds a push payload; GitHub caps deliveries at 25 MB, real pushes are far smaller. */
export const MAX_WEBHOOK_BODY = 5 * 1024 * 1024;

/** signPayload computes GitHub's `X-Hub-Signature-256` value: "sha256=" + hex HMAC-SHA256 of the raw body. */
export function signPayload(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * verifySignature checks a `X-Hub-Signature-256` header against the raw body with a constant-time
 * compare, so the time taken leaks nothing about how much of a forged signature was right.
 */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(signPayload(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** WebhookOptions: where to listen ("127.0.0.1:PORT", port 0 picks one), the secret, what to do on a push. */
export interface WebhookOptions {
  listen: string;
  secret: string;
  /** branch: pushes to other refs are acknowledged and ignored. */
  branch: string;
  /** onPush is called (not awaited) for every verified push to the branch. */
  onPush: () => Promise<unknown>;
  log?: Logger;
}

/** WebhookServer is a listening push endpoint. */
export interface WebhookServer {
  /** url is `http://HOST:PORT/` (any path is accepted). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** parseListen splits "HOST:PORT" (or ":PORT", "PORT") with a clear error. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d+)$/.exec(listen.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new GitError(ErrorCodes.BadListen, `--webhook-listen "${listen}": expected HOST:PORT, e.g. 127.0.0.1:9292`, { listen });
  }
  return { host: m[1] && m[1] !== '' ? m[1].replace(/^\[(.*)\]$/, '$1') : '127.0.0.1', port };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_WEBHOOK_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** pushedRef reads `ref` from a JSON or form-encoded (`payload=`) push payload; undefined if absent. */
export function pushedRef(body: Buffer, contentType: string | undefined): string | undefined {
  try {
    let text = body.toString('utf8');
    if ((contentType ?? '').startsWith('application/x-www-form-urlencoded')) {
      text = new URLSearchParams(text).get('payload') ?? '';
    }
    const doc = JSON.parse(text) as { ref?: unknown };
    return typeof doc.ref === 'string' ? doc.ref : undefined;
  } catch {
    return undefined;
  }
}

/**
 * startWebhookServer serves a GitHub-style push webhook: POST with `X-Hub-Signature-256` over the
 * raw body. 401 on a missing or wrong signature, 200 on `ping`, 202 once a fetch is started.
 */
export async function startWebhookServer(options: WebhookOptions): Promise<WebhookServer> {
  const log = options.log ?? createLogger('webhook');
  const { host, port } = parseListen(options.listen);
  const server: Server = createServer((req, res) => {
    const reply = (status: number, text: string): void => {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(`${text}\n`);
    };
    if (req.method !== 'POST') return reply(405, 'POST only');
    readBody(req)
      .then((body) => {
        if (body === undefined) return reply(413, 'payload too large');
        const sig = req.headers['x-hub-signature-256'];
        if (!verifySignature(options.secret, body, Array.isArray(sig) ? sig[0] : sig)) {
          log.warn({ remote: req.socket.remoteAddress }, 'webhook rejected: bad signature');
          return reply(401, 'bad signature');
        }
        const event = req.headers['x-github-event'];
        if (event === 'ping') return reply(200, 'pong');
        const ref = pushedRef(body, req.headers['content-type']);
        if (ref !== undefined && ref !== `refs/heads/${options.branch}`) return reply(202, `ignored: ${ref} is not the watched branch`);
        options.onPush().catch((err) => log.warn({ err: errorMessage(err) }, 'fetch after webhook failed'));
        return reply(202, 'fetching');
      })
      .catch((err) => reply(400, errorMessage(err)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new GitError(ErrorCodes.BadListen, `webhook cannot listen on ${options.listen}: ${errorMessage(err)}`, { listen: options.listen })));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  log.info({ listen: `${shownHost}:${addr.port}` }, 'webhook listening');
  return {
    url: `http://${shownHost}:${addr.port}/`,
    port: addr.port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
