// SLOs in Git end to end with real Prometheus and Alertmanager: a commit sets a latency SLO on a
// Job whose task exports a histogram; the reconciler's leader writes the burn-rate rules and
// Alertmanager's configuration (a webhook Receiver with a sealed key) and reloads both; a commit
// that makes the task slow fires SLOBurnRateFast, which reaches the webhook (a real HTTP server
// here) with its bearer key; reverting resolves it. `get alerts` reads the same, and status says
// "monitoring degraded" once Alertmanager is gone. Windows are shortened (a 1h SLO, 6 s floor: six
// scrapes a second apart, so a scrape or evaluation late on a loaded machine leaves a rate still
// defined; with a 3 s floor one late scrape emptied the window and the alert flapped to resolved).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { Histogram, Registry } from 'prom-client';
import type { Job, SLO, TaskSpec } from '../../../api/index.ts';
import { serveMonitoring, silentLogger } from '../../../lib/index.ts';
import { Keyring, openSecret, sealValue } from '../../../secrets/index.ts';
import { createSource } from '../../../reconciler/source/index.ts';
import { startReconcilerService } from '../../../reconciler/service/index.ts';
import { ReconcilerMetrics, SD_PATH, runMonitoringConfig, startReconcilerMonitoring } from '../../../reconciler/monitor/index.ts';
import { readMonitoring } from '../../../cli/monitoring-endpoints.ts';
import { makeRemoteRepo } from '../../helpers/git-cli-repo.ts';
import { alertHook, startAlertmanager, startPrometheus } from '../../helpers/monitoring.ts';
import { openTestStore } from '../../helpers/store.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startSim } from '../reconciler/sim.ts';

const log = silentLogger();
const KEY = 'alert-hook-key';
/** MIN_WINDOW_S floors the burn-rate windows: the fast alert's `for`, and six scrapes. */
const MIN_WINDOW_S = 6;

const job = (port: number, latency: string): string => dump({
  apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web', namespace: 'default' },
  spec: { type: 'service', replicas: 1, template: { image: 'web:1', env: [{ name: 'LATENCY', value: latency }], ports: [{ name: 'metrics', containerPort: port }] } },
} satisfies Job);

const slo: SLO = {
  apiVersion: 'gitcell.io/v1', kind: 'SLO', metadata: { name: 'web-latency', namespace: 'default' },
  spec: { job: 'web', objective: 99, window: '1h', indicator: { latency: { histogram: 'http_request_duration_seconds', threshold: 0.3 } }, labels: { team: 'web' } },
};

// An SLO on a metric no task exports: it says "no data" rather than firing or staying silent.
const ghost: SLO = {
  apiVersion: 'gitcell.io/v1', kind: 'SLO', metadata: { name: 'web-errors', namespace: 'default' },
  spec: { job: 'web', objective: 99.9, window: '1h', indicator: { ratio: { errors: 'http_requests_total{code="500"}', total: 'http_requests_total' } } },
};

/**
 * app stands for the task's process: it serves a latency histogram on the metrics port and answers
 * requests as slow as the LATENCY env of the task's current template says (the sim runs no process).
 */
async function app(t: TestContext, store: Awaited<ReturnType<typeof openTestStore>>['store']) {
  const registry = new Registry();
  const h = new Histogram({ name: 'http_request_duration_seconds', help: 'request latency', buckets: [0.1, 0.3, 1, 5], registers: [registry] });
  const e = await serveMonitoring({ registry, health: () => undefined, host: '127.0.0.1', port: 0 });
  let latency = 0.05;
  const traffic = setInterval(() => {
    void store.tasks.list().then((ts) => {
      const spec = ts.map((r) => r.value as TaskSpec).find((s) => s.owner.name === 'web');
      latency = Number(spec?.template.env.find((v) => v.name === 'LATENCY')?.value ?? latency);
    }, () => undefined);
    for (let i = 0; i < 10; i++) h.observe(latency);
  }, 200);
  t.after(async () => {
    clearInterval(traffic);
    await e.close();
  });
  return Number(new URL(e.url).port);
}

test('an SLO in Git: a slow commit fires the burn-rate alert at a webhook, the revert resolves it', async (t) => {
  const { store } = await openTestStore(t, { tag: 'a', log });
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-alerts-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const keyring = await Keyring.open(stateDir, { modulusLength: 2048 });
  const receiver = await alertHook(t, KEY);
  const port = await app(t, store);

  const ac = new AbortController();
  t.after(() => ac.abort());
  const mon = await startReconcilerMonitoring({ host: '127.0.0.1', port: 0, metrics: new ReconcilerMetrics(), health: () => undefined, store, signal: ac.signal, log });
  t.after(() => mon.close());
  const am = await startAlertmanager();
  t.after(() => am.stop());
  const prom = await startPrometheus({ sdUrl: `${mon.url}${SD_PATH}`, scrapeIntervalSeconds: 1, sdRefreshSeconds: 1, alertmanagers: [new URL(am.url).host] });
  t.after(() => prom.stop());

  const secret = dump({
    apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'hook', namespace: 'default' },
    spec: { encryptedData: { hmac: sealValue(keyring.publicKeyPem(), { namespace: 'default', name: 'hook', key: 'hmac' }, KEY) } },
  });
  const rec = dump({ apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'oncall' }, spec: { type: 'webhook', address: receiver.url, secretRef: { name: 'hook' }, alerts: true } });
  const { url, work } = await makeRemoteRepo(t);
  work.commit({ 'apps/web.yaml': job(port, '0.05'), 'monitoring/slo.yaml': `${dump(slo)}---\n${dump(ghost)}`, 'monitoring/oncall.yaml': rec, 'monitoring/hook.yaml': secret }, 'web with its SLO');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const source = createSource({ repo: url, stateDir, pollIntervalMs: 300 }, log);
  const sim = await startSim(store, { nodes: ['n1'], ip: '127.0.0.1' });
  const applied: string[] = [];
  const svc = await startReconcilerService({
    store, source, leaseMs: 1500, log, sealingKeys: (id) => keyring.privateKey(id),
    whileLeading: (ctx) => runMonitoringConfig({
      store, openSecret: (s) => openSecret(s, { privateKeyFor: (id) => keyring.privateKey(id) }), signal: ctx.signal, log,
      rules: { file: prom.file, url: prom.url, minWindowSeconds: MIN_WINDOW_S, evaluationIntervalSeconds: 1 },
      alertmanager: { file: am.file, url: am.url, routing: { groupWaitSeconds: 1, groupIntervalSeconds: 2, repeatIntervalSeconds: 3600 } },
      onApplied: (what) => applied.push(what),
    }).done,
  });
  t.after(async () => {
    await svc.stop();
    await sim.stop();
    // after hooks run in order: the source wrote its git cache again while the first rm had run
    rmSync(stateDir, { recursive: true, force: true });
  });
  const context = () => `applied ${JSON.stringify(applied)}; hook ${JSON.stringify(receiver.posts)} refused ${JSON.stringify(receiver.refused)}\nprometheus: ${prom.log().slice(-1500)}\nalertmanager: ${am.log().slice(-1500)}`;
  const promAlerts = async () => (await readMonitoring({ prometheus: prom.url, alertmanager: am.url })).alerts;
  const query = async (expr: string) => {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => undefined);
    return res?.ok ? ((await res.json()) as { data: { result: { value: [number, string] }[] } }).data.result : [];
  };
  await waitFor('rules loaded and the SLO evaluated from the task\'s histogram', async () => (await query(`gitcell_slo:error_ratio{slo="web-latency",window="${MIN_WINDOW_S}s"}`)).length > 0, 180_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${context()}`); });
  assert.equal((statSync(am.file).mode & 0o777).toString(8), '600', 'Alertmanager\'s file holds the key: owner only');
  assert.deepEqual((await promAlerts()).filter((a) => a.state === 'firing' && a.name !== 'SLONoData'), [], 'fast: nothing fires');
  await waitFor('the SLO on a metric nobody exports says "no data"', async () => (await promAlerts()).some((a) => a.name === 'SLONoData' && a.labels.slo === 'web-errors' && a.state === 'firing'), 180_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${context()}`); });
  assert.ok(!(await promAlerts()).some((a) => a.labels.slo === 'web-errors' && a.name.startsWith('SLOBurnRate')), 'no data is not a burn');

  const slow = work.commit({ 'apps/web.yaml': job(port, '2') }, 'web: slow');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const t0 = Date.now();
  const fired = await waitFor('the burn-rate alert at the webhook', () => receiver.posts.find((p) => p.status === 'firing' && p.alerts.some((a) => a.labels.alertname === 'SLOBurnRateFast')), 180_000)
    .catch((err: Error) => { throw new Error(`${err.message} (slow commit ${slow}): ${context()}`); });
  const alert = fired.alerts.find((a) => a.labels.alertname === 'SLOBurnRateFast')!;
  assert.deepEqual({ slo: alert.labels.slo, namespace: alert.labels.namespace, job: alert.labels.job, severity: alert.labels.severity, team: alert.labels.team }, { slo: 'web-latency', namespace: 'default', job: 'web', severity: 'page', team: 'web' });
  t.diagnostic(`alert at the webhook ${((Date.now() - t0) / 1000).toFixed(1)} s after the slow commit was pushed`);
  // Prometheus' own view lists it firing too. A wait, not a snapshot: on a loaded machine an
  // evaluation can still find a window short of samples, and the alert is pending again for a `for`.
  await waitFor('`get alerts` lists it firing', async () => (await promAlerts()).some((a) => a.name === 'SLOBurnRateFast' && a.state === 'firing'), 60_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${context()}`); });

  work.git('revert', '--no-edit', 'HEAD');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const revertedAt = Date.now();
  await waitFor('the revert resolves it at the webhook', () => receiver.posts.some((p) => p.receivedAt > revertedAt && p.status === 'resolved' && p.alerts.some((a) => a.labels.alertname === 'SLOBurnRateFast')), 180_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${context()}`); });
  assert.deepEqual(receiver.refused, [], 'every post carried the sealed key');

  // Alertmanager down: the cluster runs on, and the CLI says monitoring is degraded.
  await am.stop();
  const report = await readMonitoring({ prometheus: prom.url, alertmanager: am.url });
  assert.equal(report.degraded.length, 1);
  assert.match(report.degraded[0]!, /^Alertmanager http:\/\/127\.0\.0\.1:\d+: /);
});
