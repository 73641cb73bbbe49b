// A real HTTP proxy in front of a real registry that misbehaves on purpose: it can corrupt blob
// bodies (same length, one byte flipped) or cut a blob download after some bytes, and it records
// every request so tests can see Range headers.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** ProxyMode chooses the misbehaviour for blob GETs. */
export interface ProxyMode {
  /** corrupt flips one byte of every blob body whose digest is listed (or of every blob with '*'). */
  corrupt?: string[];
  /** cutAfter sends only this many bytes of the first GET of each blob, then drops the connection. */
  cutAfter?: number;
  /** stall: with cutAfter, keep the connection open and silent instead of dropping it. */
  stall?: boolean;
  /** extend appends bytes to every blob body (a registry sending more than the descriptor says). */
  extend?: boolean;
  /** corruptManifests adds a space to every manifest body (its digest no longer matches). */
  corruptManifests?: boolean;
  /** delayMs holds every blob GET this long before forwarding it (to make overlap observable). */
  delayMs?: number;
}

/** TestProxy is a running misbehaving proxy. */
export interface TestProxy {
  domain: string;
  mode: ProxyMode;
  requests: { method: string; path: string; range: string | undefined }[];
  /** peakBlobGets is the most blob GETs that were in flight at once. */
  peakBlobGets: number;
  stop(): Promise<void>;
}

/** startProxy forwards 127.0.0.1:<free port> to `target` (host:port). */
export async function startProxy(target: string, mode: ProxyMode = {}): Promise<TestProxy> {
  const [host, port] = target.split(':');
  const requests: TestProxy['requests'] = [];
  const cutDone = new Set<string>();
  let inflight = 0;
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, range: req.headers.range });
    const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path.split('?')[0]!)?.[1];
    if (req.method === 'GET' && blob) {
      inflight++;
      proxy.peakBlobGets = Math.max(proxy.peakBlobGets, inflight);
      res.on('close', () => { inflight--; });
    }
    const forward = (): void => {
    const up = httpRequest({ host, port: Number(port), method: req.method, path, headers: { ...req.headers, host: target } }, (upRes: IncomingMessage) => {
      const headers = { ...upRes.headers };
      // Rewrite absolute Location headers so upload sessions keep going through the proxy.
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${target}`, `http://${proxy.domain}`);
      const isManifest = /\/manifests\/[^/]+$/.test(path.split('?')[0]!);
      if (req.method === 'GET' && ((blob && mode.extend) || (isManifest && mode.corruptManifests)) && upRes.statusCode === 200) {
        const parts: Buffer[] = [];
        upRes.on('data', (c: Buffer) => parts.push(c));
        upRes.on('end', () => {
          const body = Buffer.concat([...parts, Buffer.from(isManifest ? ' ' : 'trailing garbage')]);
          res.writeHead(200, { ...headers, 'content-length': String(body.length) }).end(body);
        });
        return;
      }
      if (req.method === 'GET' && blob && (upRes.statusCode === 200 || upRes.statusCode === 206)) {
        if (mode.corrupt && (mode.corrupt.includes('*') || mode.corrupt.includes(blob))) {
          const parts: Buffer[] = [];
          upRes.on('data', (c: Buffer) => parts.push(c));
          upRes.on('end', () => {
            const body = Buffer.concat(parts);
            if (body.length > 0) body[body.length - 1] = body[body.length - 1]! ^ 0xff;
            res.writeHead(upRes.statusCode!, headers).end(body);
          });
          return;
        }
        if (mode.cutAfter !== undefined && !cutDone.has(blob)) {
          cutDone.add(blob);
          res.writeHead(upRes.statusCode!, headers);
          let sent = 0;
          upRes.on('data', (c: Buffer) => {
            if (sent >= mode.cutAfter!) return;
            const part = c.subarray(0, mode.cutAfter! - sent);
            sent += part.length;
            res.write(part);
            if (sent >= mode.cutAfter!) {
              upRes.destroy();
              // let the bytes leave, then drop the connection mid-body (or just go silent)
              if (!mode.stall) setImmediate(() => res.socket?.destroy());
            }
          });
          // a blob shorter than the cut goes through whole
          upRes.on('end', () => { if (sent < mode.cutAfter!) res.end(); });
          return;
        }
      }
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
    };
    if (req.method === 'GET' && blob && mode.delayMs) setTimeout(forward, mode.delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: TestProxy = {
    domain: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    mode,
    requests,
    peakBlobGets: 0,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  return proxy;
}
