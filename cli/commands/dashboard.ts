import { componentLife, hostedLife } from '../../lib/component-life.ts';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { parseHostPort } from '../../lib/metrics-http.ts';
import { openClusterStore, waitForStore, DEFAULT_PREFIX, type InvalidRecord } from '../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import { startDashboard } from '../../dashboard/index.ts';
import { addClientOptions, connectReader, type ClientOptions } from '../client.ts';
import { exitOnStoreReset } from '../store-reset.ts';

/** DEFAULT_LISTEN is where the dashboard listens unless told otherwise: loopback only. */
export const DEFAULT_LISTEN = '127.0.0.1:9480';

interface DashboardFlags extends ClientOptions {
  listen: string;
  tokenFile?: string;
  repo?: string;
  prometheus?: string;
  alertmanager?: string;
}

/** dashboardToken reads the token: --token-file, else GITCELL_DASHBOARD_TOKEN, else none. */
function dashboardToken(f: DashboardFlags): string | undefined {
  if (f.tokenFile) {
    try {
      return readFileSync(f.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new UsageError(ErrorCodes.Usage, `--token-file ${f.tokenFile}: cannot read: ${(err as Error).message}`, { flag: '--token-file' });
    }
  }
  return process.env.GITCELL_DASHBOARD_TOKEN || undefined;
}

/**
 * registerDashboard adds `gitcell dashboard`: a web server showing the cluster live, reading the
 * store as the read-only viewer (a state dir's viewer seed, or --creds). Loopback only unless
 * --listen names another address, which needs a token.
 */
export function registerDashboard(program: Command): void {
  addClientOptions(
    program
      .command('dashboard')
      .description('serve the web dashboard: nodes, jobs, rollouts, tasks, pending reasons, events, live (read-only)')
      .option('--listen <host:port>', 'address to listen on (port 0: a free one); not loopback needs a token', DEFAULT_LISTEN)
      .option('--token-file <file>', 'file holding the access token (default: $GITCELL_DASHBOARD_TOKEN); required off loopback')
      .option('--repo <path>', 'local clone of the cluster repository: commit authors, subjects and revert links')
      .option('--prometheus <url>', 'Prometheus base URL: CPU and memory charts, SLO burn rates, alerts')
      .option('--alertmanager <url>', 'Alertmanager base URL: which alerts are silenced'),
  ).action(async (f: DashboardFlags) => {
    const { host, port } = parseHostPort(f.listen, '--listen');
    for (const [flag, url] of [['--prometheus', f.prometheus], ['--alertmanager', f.alertmanager]] as const) {
      if (url && !/^https?:\/\/\S+$/.test(url)) throw new UsageError(ErrorCodes.Usage, `${flag} "${url}": expected an http(s) URL`, { flag });
    }
    const token = dashboardToken(f);
    const log = createLogger('dashboard');
    const nc = await connectReader(f, 'dashboard');
    const prefix = f.prefix ?? DEFAULT_PREFIX;
    let report: ((r: InvalidRecord) => void) | undefined;
    try {
      const known = await waitForStore(nc, { prefix, log });
      // NATS lost its data: start over on the new buckets (up restarts us; browsers reconnect by themselves).
      await exitOnStoreReset(nc, { prefix, log, component: 'dashboard', known });
      // Bind only: the viewer may not create or change a bucket, and the dashboard never writes.
      const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix, log, bindOnly: true, onInvalid: (r) => report?.(r) });
      const d = await startDashboard({ store, nc, host, port, ...(token ? { token } : {}), ...(f.repo ? { repo: f.repo } : {}), ...(f.prometheus ? { prometheusUrl: f.prometheus } : {}), ...(f.alertmanager ? { alertmanagerUrl: f.alertmanager } : {}), log });
      report = d.model.reportInvalid;
      // Hosted in `gitcell up`'s process, the line goes to the dashboard's log, not up's output.
      if (hostedLife()) log.info({ url: d.url }, 'dashboard: serving');
      else process.stdout.write(`dashboard: ${d.url}\n`);
      await componentLife().stopping;
      await d.close();
    } finally {
      await nc.close();
    }
  });
}
