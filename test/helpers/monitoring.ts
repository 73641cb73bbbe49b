// Real Prometheus and Alertmanager (Debian's binaries) for tests and benches: each in its own temp
// dir on a free 127.0.0.1 port, waited for until it answers /-/ready, and stop() removes process
// and dir. A test registers stop with t.after.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../lib/net.ts';
import { writeFileAtomicSync } from '../../lib/atomic-write.ts';
import {
  alertmanagerArgs, alertmanagerConfig, prometheusArgs, prometheusConfig, requireAlertmanager, requirePrometheus, type PrometheusConfigOptions,
} from '../../reconciler/monitor/index.ts';
import { SIGNATURE_HEADER, signBody } from '../../reconciler/notify/index.ts';
import { waitFor } from './wait.ts';

/** MonitoringServer is a running Prometheus or Alertmanager. */
export interface MonitoringServer {
  url: string;
  dir: string;
  /** the file it reads its configuration (Alertmanager) or rules (Prometheus) from */
  file: string;
  /** the last lines of its log, for failure messages */
  log(): string;
  stop(): Promise<void>;
}

async function run(name: string, bin: string, args: (dir: string, listen: string) => string[], dir: string): Promise<Omit<MonitoringServer, 'file'>> {
  const listen = `127.0.0.1:${await freePort()}`;
  const child = spawn(bin, args(dir, listen), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-6000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://${listen}`;
  await waitFor(`${name} ready`, async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok, 60_000).catch(async (err: Error) => {
    await stop();
    throw new Error(`${err.message}\n${log}`);
  });
  return { url, dir, log: () => log, stop };
}

/**
 * startPrometheus runs Prometheus fed by gitcell's configuration (prometheus.ts) with an (initially
 * empty) rule file it reloads on POST /-/reload, or with a prometheus.yml text of the test's own.
 */
export async function startPrometheus(o: Omit<PrometheusConfigOptions, 'ruleFiles'> | string): Promise<MonitoringServer> {
  const bin = requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-prom-'));
  const file = join(dir, 'rules.yml');
  writeFileSync(file, 'groups: []\n');
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, typeof o === 'string' ? o : prometheusConfig({ ...o, ruleFiles: [file] }));
  const s = await run('prometheus', bin, (d, listen) => prometheusArgs({ configFile, dir: d, listen }), dir);
  return { ...s, file };
}

/** startAlertmanager runs Alertmanager with a configuration routing nothing yet (mode 0600, as gitcell writes it). */
export async function startAlertmanager(): Promise<MonitoringServer> {
  const bin = requireAlertmanager();
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-am-'));
  const file = join(dir, 'alertmanager.yml');
  writeFileAtomicSync(file, alertmanagerConfig([]), { mode: 0o600 });
  const s = await run('alertmanager', bin, (d, listen) => alertmanagerArgs({ configFile: file, dir: d, listen }), dir);
  return { ...s, file };
}

/** AmWebhookPost is Alertmanager's webhook JSON (the parts tests read) and when it arrived. */
export interface AmWebhookPost {
  status: string;
  alerts: { status: string; labels: Record<string, string>; startsAt: string }[];
  /** Date.now() at arrival */
  receivedAt: number;
}

/** AlertHook is a webhook receiver on 127.0.0.1: the posts carrying the expected bearer key, and the refused ones' headers. */
export interface AlertHook {
  url: string;
  posts: AmWebhookPost[];
  /** gitcell's own commit-status notifications (the same Receiver), signed with the key */
  commitEvents: { revision: string; state: string }[];
  refused: string[];
}

/**
 * alertHook serves a webhook Receiver on 127.0.0.1: Alertmanager's posts with `Authorization:
 * Bearer <key>` and gitcell's commit-status events signed with the key (HMAC-SHA256) are recorded,
 * any other gets 401 (and is kept, so a test can assert none came).
 * Closed by t.after.
 */
export async function alertHook(t: { after(fn: () => Promise<void>): void }, key: string): Promise<AlertHook> {
  const posts: AmWebhookPost[] = [];
  const commitEvents: AlertHook['commitEvents'] = [];
  const refused: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers['x-gitcell-event'] === 'commit-status') {
        if (req.headers[SIGNATURE_HEADER.toLowerCase()] !== signBody(key, body)) {
          refused.push(`bad signature ${String(req.headers[SIGNATURE_HEADER.toLowerCase()])}`);
          return void res.writeHead(401).end();
        }
        commitEvents.push(JSON.parse(body) as { revision: string; state: string });
        return void res.writeHead(200).end();
      }
      if (req.headers.authorization !== `Bearer ${key}`) {
        refused.push(String(req.headers.authorization));
        return void res.writeHead(401).end();
      }
      posts.push({ ...(JSON.parse(body) as Omit<AmWebhookPost, 'receivedAt'>), receivedAt: Date.now() });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, posts, commitEvents, refused };
}
