/**
 * The HTTP endpoint every gitcell component serves for monitoring: `/metrics` (Prometheus text from
 * a prom-client registry), `/healthz` (200 "ok" or 503 with the reason) and any extra read-only
 * JSON routes (the reconciler's Prometheus service discovery). One implementation for the agent,
 * the reconciler and the scheduler.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { UsageError } from './errors.ts';
import { ErrorCodes } from './error-codes.ts';

/** HealthCheck answers /healthz: undefined when healthy, else the reason. */
export type HealthCheck = () => string | undefined;

/** JsonRoute answers one GET path with a JSON document. */
export type JsonRoute = () => Promise<unknown>;

/** MonitoringEndpoint is a running endpoint; close() stops it. */
export interface MonitoringEndpoint {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** parseHostPort reads `host:port` (port 0: any free port); E_USAGE naming the flag otherwise. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !host || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(ErrorCodes.Usage, `${flag} "${value}": expected host:port, e.g. 127.0.0.1:9470`, { flag });
  }
  return { host, port };
}

/** serveMonitoring listens on host:port and serves /metrics, /healthz and `routes`. */
export async function serveMonitoring(opts: { registry: Registry; health: HealthCheck; host: string; port: number; routes?: Record<string, JsonRoute> }): Promise<MonitoringEndpoint> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = opts.routes?.[path];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/healthz') {
      const problem = opts.health();
      res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' }).end(problem ?? 'ok');
    } else if (path === '/metrics') {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (route) {
      route().then(
        (doc) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc)),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
      );
    } else {
      res.writeHead(404).end(`not found: try /healthz, /metrics${Object.keys(opts.routes ?? {}).map((r) => `, ${r}`).join('')}`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
