// `npm run bench -- monitoring` (issue 15): with 1,000 running tasks exporting a `metrics` port,
// how long the reconciler's Prometheus service discovery takes to answer (target: < 1 s), what being
// scraped costs an agent with 110 tasks in CPU (target: < 2 % at up's 5 s scrape interval), and how
// long an SLO breach takes to reach a webhook through real Prometheus and Alertmanager with test
// windows (1 s scrape and evaluation, 3 s shortest burn window, 1 s group wait). Last line:
// {"sd_targets", "sd_refresh_ms", "scrape_overhead_cpu_pct", "alert_latency_s"}.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { writeFile } from 'node:fs/promises';
import { Histogram, Registry } from 'prom-client';
import { statusKey, type SLO, type TaskSpec, type TaskStatus } from '../api/index.ts';
import { serveMonitoring, silentLogger } from '../lib/index.ts';
import { connect, openClusterStore } from '../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../reconciler/index.ts';
import { ReconcilerMetrics, SD_PATH, alertmanagerConfig, discoverTargets, sloRulesFile, startReconcilerMonitoring } from '../reconciler/monitor/index.ts';
import { startNatsServer } from '../test/helpers/nats.ts';
import { startAlertmanager, startPrometheus } from '../test/helpers/monitoring.ts';
import { waitFor } from '../test/helpers/wait.ts';

const TASKS = 1000;
const log = silentLogger();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function task(i: number, port: number): TaskSpec {
  const id = `bench.web-${i % 20}.${i}-abcdef`;
  return {
    id, namespace: 'bench', owner: { kind: 'Job', name: `web-${i % 20}` }, jobKey: `Job/bench/web-${i % 20}`, index: i, priority: 500, type: 'service', templateHash: 'abcdef', generation: 1, createdAt: new Date().toISOString(),
    template: { image: 'web:1', env: [], resources: { requests: { cpuMillis: 10, memoryBytes: 1 << 20 }, limits: {} }, ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }], probes: {}, secretMounts: [], nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 5 },
  };
}
const running = (t: TaskSpec, node: string): TaskStatus => ({ taskId: t.id, node, templateHash: t.templateHash, state: 'running', ready: true, restarts: 0, ip: '127.0.0.1', updatedAt: new Date().toISOString() });

/** serviceDiscovery: 1,000 running tasks in the store; /sd answered from the informers. */
async function serviceDiscovery(): Promise<{ targets: number; ms: number }> {
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const ac = new AbortController();
  try {
    const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: `bmon${randomBytes(3).toString('hex')}_`, log });
    for (let i = 0; i < TASKS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => {
        const t = task(i + j, 20000 + i + j);
        return Promise.all([store.tasks.put(t.id, t), store.status.put(statusKey(`n${(i + j) % 10}`, t.id), running(t, `n${(i + j) % 10}`))]);
      }));
    }
    const mon = await startReconcilerMonitoring({ host: '127.0.0.1', port: 0, metrics: new ReconcilerMetrics(), health: () => undefined, store, signal: ac.signal, log });
    try {
      const sd = async () => (await (await fetch(`${mon.url}${SD_PATH}`)).json()) as unknown[];
      await waitFor('every task discovered', async () => (await sd()).length === TASKS + 1, 60_000);
      const times: number[] = [];
      let targets = 0;
      for (let r = 0; r < 9; r++) {
        const t0 = performance.now();
        targets = (await sd()).length - 1; // less the reconciler itself
        times.push(performance.now() - t0);
      }
      return { targets, ms: median(times) };
    } finally {
      await mon.close();
    }
  } finally {
    ac.abort();
    await nc.close();
    await server.stop();
  }
}

function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 100 Hz ticks
}

/** scrapeOverhead: an agent process with 110 tasks' series, scraped 300 times; its CPU per scrape over up's 5 s interval. */
async function scrapeOverhead(): Promise<{ perScrapeMs: number; pct5s: number; pct1s: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/monitoring-agent.ts', '--tasks', '110'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the agent endpoint did not start within 60 s')), 60_000);
      createInterface({ input: child.stdout! }).once('line', (l) => { clearTimeout(timer); resolve(l.trim()); });
    });
    for (let i = 0; i < 20; i++) await (await fetch(`${url}/metrics`)).text(); // warm up
    const rounds: number[] = [];
    for (let r = 0; r < 3; r++) {
      const before = cpuMsOf(child.pid!);
      for (let i = 0; i < 100; i++) await (await fetch(`${url}/metrics`)).text();
      rounds.push((cpuMsOf(child.pid!) - before) / 100);
    }
    const perScrapeMs = median(rounds);
    return { perScrapeMs, pct5s: (perScrapeMs / 5000) * 100, pct1s: (perScrapeMs / 1000) * 100 };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** alertLatency: a task turns slow; seconds until its SLO's burn-rate alert reaches a webhook (2 rounds, median). */
async function alertLatency(): Promise<number> {
  const registry = new Registry();
  const h = new Histogram({ name: 'http_request_duration_seconds', help: 'latency', buckets: [0.1, 0.3, 1], registers: [registry] });
  let latency = 0.05;
  const traffic = setInterval(() => { for (let i = 0; i < 10; i++) h.observe(latency); }, 100);
  const app = await serveMonitoring({ registry, health: () => undefined, host: '127.0.0.1', port: 0 });
  const t = task(0, Number(new URL(app.url).port));
  const t2: TaskSpec = { ...t, namespace: 'default', owner: { kind: 'Job', name: 'web' } };
  const sd = await serveMonitoring({ registry: new Registry(), health: () => undefined, host: '127.0.0.1', port: 0, routes: { '/sd': async () => discoverTargets({ controlPlane: [], nodes: [], tasks: [t2], statuses: [running(t2, 'n1')] }) } });
  const posts: { at: number; status: string }[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => { posts.push({ at: Date.now(), status: (JSON.parse(body) as { status: string }).status }); res.writeHead(200).end(); });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const am = await startAlertmanager();
  const prom = await startPrometheus({ sdUrl: `${sd.url}/sd`, scrapeIntervalSeconds: 1, sdRefreshSeconds: 1, alertmanagers: [new URL(am.url).host] });
  try {
    const slo: SLO = { apiVersion: 'gitcell.io/v1', kind: 'SLO', metadata: { name: 'web' }, spec: { job: 'web', objective: 99, window: '1h', indicator: { latency: { histogram: 'http_request_duration_seconds', threshold: 0.3 } } } };
    await writeFile(prom.file, sloRulesFile([slo], { minWindowSeconds: 3, evaluationIntervalSeconds: 1 }));
    const receiver = { apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'hook' }, spec: { type: 'webhook', address: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, alerts: true } } as const;
    await writeFile(am.file, alertmanagerConfig([{ receiver, secret: 'k' }], { groupWaitSeconds: 1, groupIntervalSeconds: 2 }), { mode: 0o600 });
    for (const u of [prom.url, am.url]) if (!(await fetch(`${u}/-/reload`, { method: 'POST' })).ok) throw new Error(`reload of ${u} failed`);
    const rounds: number[] = [];
    for (let r = 0; r < 2; r++) {
      latency = 0.05;
      await waitFor('evaluated and quiet', async () => {
        const res = await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent('max(gitcell_slo:error_ratio{window="3s"})')}`)).json() as { data: { result: { value: [number, string] }[] } };
        const alerts = await (await fetch(`${prom.url}/api/v1/alerts`)).json() as { data: { alerts: unknown[] } };
        return res.data.result.length > 0 && Number(res.data.result[0]!.value[1]) === 0 && alerts.data.alerts.length === 0;
      }, 120_000);
      const seen = posts.length;
      const t0 = Date.now();
      latency = 2;
      const fired = await waitFor('the alert at the webhook', () => posts.slice(seen).find((p) => p.status === 'firing'), 120_000);
      rounds.push((fired.at - t0) / 1000);
    }
    return median(rounds);
  } finally {
    clearInterval(traffic);
    await prom.stop();
    await am.stop();
    await Promise.all([app.close(), sd.close()]);
    hook.closeAllConnections();
    await new Promise<void>((r) => hook.close(() => r()));
  }
}

const sd = await serviceDiscovery();
console.log(`service discovery: ${sd.targets} task targets, /sd answered in ${sd.ms.toFixed(1)} ms (median of 9)`);
const scrape = await scrapeOverhead();
console.log(`agent with 110 tasks: ${scrape.perScrapeMs.toFixed(2)} ms CPU per scrape = ${scrape.pct5s.toFixed(3)} % at a 5 s interval (${scrape.pct1s.toFixed(2)} % at 1 s)`);
const alert = await alertLatency();
console.log(`SLO breach to webhook: ${alert.toFixed(1)} s (1 s scrape and evaluation, 3 s shortest window, 1 s group wait)`);
console.log(JSON.stringify({ sd_targets: sd.targets, sd_refresh_ms: Math.round(sd.ms * 10) / 10, scrape_overhead_cpu_pct: Math.round(scrape.pct5s * 1000) / 1000, alert_latency_s: Math.round(alert * 10) / 10 }));
process.exit(0);
