// dashboard/: the cluster and its Git history, live in a browser (`gitcell dashboard`, also started by
// `gitcell up`). Public face; README.md has the flow.
import * as fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { Server } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import git from 'isomorphic-git';
import type { Logger } from '../lib/index.ts';
import type { ClientStore } from '../cli/client.ts';
import { resolveLocalRepo } from '../reconciler/source/gitdir.ts';
import { accessPolicy } from './access.ts';
import { DashboardModel, type CommitInfo } from './model.ts';
import { startServer, type ServerDeps } from './server.ts';
import { alerts, jobMetrics } from './metrics.ts';
import { commitPage } from './commits.ts';
import { sloPage } from './slo.ts';

export { accessPolicy, decide, isLoopback, cookieValue, TOKEN_COOKIE, type AccessPolicy, type Decision, type RequestFacts } from './access.ts';
export { DashboardModel, FLUSH_MS, EVENTS_KEPT, type RowBatch, type RowKind, type Snapshot, type ModelListener, type CommitInfo } from './model.ts';
export { taskView, nodeView, jobView, type TaskView, type NodeView, type JobView, type SourceView, type MalformedView } from './rows.ts';
export { filterEvents, type EventFilter } from './pages.ts';

/** DashboardOptions: the store to read (opened read-only by the caller), where to listen, and what else to show. */
export interface DashboardOptions {
  store: ClientStore;
  /** the store's connection (the viewer's): log requests go through it */
  nc: NatsConnection;
  host: string;
  /** 0: a free port */
  port: number;
  /** required when `host` is not loopback */
  token?: string;
  /** a local clone of the cluster repository: commit authors, subjects and revert links */
  repo?: string;
  /** Prometheus base URL: job CPU and memory charts; without it the pages say monitoring is not configured */
  prometheusUrl?: string;
  /** Alertmanager base URL: which firing alerts it silences (and the alerts when Prometheus is down) */
  alertmanagerUrl?: string;
  log: Logger;
}

/** Dashboard is a running dashboard. */
export interface Dashboard {
  /** where to open it (with `?token=` when one is required) */
  url: string;
  /** the base URL, without the token */
  base: string;
  model: DashboardModel;
  server: Server;
  /** close stops the server, every open stream and the informers (the caller closes the connection) */
  close(): Promise<void>;
}

/**
 * startDashboard follows the store and serves the dashboard. It refuses (E_DASHBOARD_TOKEN_REQUIRED)
 * to listen off loopback without a token; it never writes to the store.
 */
export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  // Refused before anything starts: off loopback without a token (E_DASHBOARD_TOKEN_REQUIRED).
  const policy = accessPolicy(o.host, o.port, o.token);
  const ac = new AbortController();
  // Every bucket's follow, the events stream and each browser's log tail end with it: more than
  // Node's default 10 listeners is the design, not a leak (up printed MaxListenersExceededWarning).
  setMaxListeners(0, ac.signal);
  const commitInfo = o.repo ? repoCommits(o.repo) : undefined;
  const model = new DashboardModel(o.store, { signal: ac.signal, log: o.log, ...(commitInfo ? { commitInfo } : {}) });
  const deps: ServerDeps = {
    model,
    nc: o.nc,
    // The port is known once listening; the policy's Host list is made again below.
    policy,
    log: o.log,
    ...(commitInfo ? { commitInfo } : {}),
    ...(o.prometheusUrl ? { prometheusUrl: o.prometheusUrl } : {}),
    routes: {
      metrics: (rest, q) => jobMetrics(model, o.prometheusUrl, rest, q),
      alerts: (rest) => (rest.length ? Promise.resolve(undefined) : alerts({ ...(o.prometheusUrl ? { prometheus: o.prometheusUrl } : {}), ...(o.alertmanagerUrl ? { alertmanager: o.alertmanagerUrl } : {}) })),
      slos: (rest) => (rest.length === 2 ? sloPage(model, o.prometheusUrl, rest[0]!, rest[1]!) : Promise.resolve(undefined)),
      commits: (rest) => (rest.length === 1 ? commitPage(model, o.repo, rest[0]!, commitInfo) : Promise.resolve(undefined)),
    },
  };
  let started: Awaited<ReturnType<typeof startServer>>;
  try {
    started = await startServer(deps, o.host, o.port);
  } catch (err) {
    ac.abort();
    throw err;
  }
  const port = Number(new URL(started.url).port);
  deps.policy = accessPolicy(o.host, port, o.token);
  const close = async () => {
    ac.abort();
    started.server.closeAllConnections();
    await new Promise<void>((resolve) => started.server.close(() => resolve()));
  };
  return { url: o.token ? `${started.url}/?token=${encodeURIComponent(o.token)}` : `${started.url}/`, base: started.url, model, server: started.server, close };
}

/** repoCommits reads commits from a local clone (isomorphic-git), remembering each answer. */
function repoCommits(repo: string): CommitInfo {
  const seen = new Map<string, Awaited<ReturnType<CommitInfo>>>();
  return async (oid) => {
    if (seen.has(oid)) return seen.get(oid);
    const { gitdir } = resolveLocalRepo(repo);
    const c = (await git.readCommit({ fs, gitdir, oid }).catch(() => undefined))?.commit;
    const info = c ? { author: `${c.author.name} <${c.author.email}>`, subject: c.message.split('\n')[0] ?? '', time: new Date(c.author.timestamp * 1000).toISOString(), body: c.message } : undefined;
    if (seen.size > 1000) seen.clear();
    if (info) seen.set(oid, info); // a commit not fetched yet may be there next time
    return info;
  };
}
