/**
 * SLOs end to end on the real `gitcell up` (an agent running runc + CNI, the embedded NATS, the
 * reconciler's /sd, Debian's Prometheus and Alertmanager as up starts them): a `lat` Job whose
 * busybox task serves a latency histogram on its port named `metrics` (its own client times each
 * request to a CGI that sleeps $DELAY seconds, slo-app.ts); Prometheus finds the task through
 * gitcell's HTTP service discovery. A commit sets its latency SLO and a webhook Receiver (sealed key)
 * taking alerts; a commit setting DELAY=1 makes the task slow, and SLOBurnRateFast reaches the
 * webhook (a real HTTP server of this test on 127.0.0.1) within the rule's `for` of the burn
 * starting; the revert resolves it. Windows are shortened through GITCELL_SLO_MIN_WINDOW (30 s).
 * The steps run in order in one test: a failed step stops the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { Keyring, sealValue } from '../../../secrets/index.ts';
import { waitFor } from '../../helpers/wait.ts';
import { alertHook } from '../../helpers/monitoring.ts';
import { git, gitcell, interruptUp, leftovers, logTails, startUp, reserveSubnetBase } from '../../helpers/up.ts';
import { latencyJob, latencySlo, PromClient } from './slo-app.ts';

const UP_TIMEOUT = 300_000;
const ALERT_TIMEOUT = 300_000;
const MIN_WINDOW_S = 30;
const KEY = 'slo-e2e-bearer-key';

test('SLO end to end under gitcell up: a slow commit fires the burn-rate alert at a webhook within its `for`, the revert resolves it', { timeout: 20 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-slo-'));
  const manifests = join(stateDir, 'manifests');
  const repo = join(stateDir, 'repo');
  mkdirSync(join(manifests, 'jobs'), { recursive: true });
  writeFileSync(join(manifests, 'jobs', 'lat.yaml'), dump(latencyJob('0')));
  const hook = await alertHook(t, KEY);
  const up = startUp(t, stateDir, ['--repo', manifests, '--nodes', '1', '--subnet-base', reserveSubnetBase(t, 150, 50)], { GITCELL_SLO_MIN_WINDOW: String(MIN_WINDOW_S) });
  let prom: PromClient | undefined;
  const fail = async (err: unknown): Promise<never> => {
    const alerts = await prom?.alerts().catch((e: Error) => e.message);
    throw new Error(`${(err as Error).message}\nprometheus alerts: ${JSON.stringify(alerts)}\nhook: ${JSON.stringify(hook.posts.map((p) => ({ status: p.status, alerts: p.alerts.map((a) => `${a.labels.alertname}/${a.status}`) })))} refused ${JSON.stringify(hook.refused)}\n${logTails(stateDir, up.output())}`);
  };
  await waitFor('gitcell up ready', () => up.output().includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT).catch(fail);
  prom = new PromClient(/^ {2}prometheus {3}(http:\/\/127\.0\.0\.1:\d+)/m.exec(up.output())![1]!);

  // Step 1: the task's port named `metrics` is discovered through gitcell's /sd and scraped.
  const target = await waitFor('the lat task discovered and scraped', async () => (await prom!.targets()).find((x) => x.labels.component === 'task' && x.labels.job === 'lat' && x.health === 'up'), UP_TIMEOUT).catch(fail);
  assert.equal(target.labels.namespace, 'default');
  assert.match(target.labels.task ?? '', /lat/);
  assert.ok(target.labels.node && target.labels.template, JSON.stringify(target.labels));
  assert.ok((await prom.query('http_request_duration_seconds_count{job="lat",namespace="default"}')).length > 0, 'the histogram is scraped with the task\'s labels');

  // Step 2: a commit sets the SLO and a webhook Receiver taking alerts (its key sealed with the cluster's key).
  const keyring = await Keyring.open(stateDir);
  writeFileSync(join(repo, 'jobs', 'lat-slo.yaml'), [
    dump(latencySlo()),
    dump({ apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'oncall-hook' }, spec: { encryptedData: { hmac: sealValue(keyring.publicKeyPem(), { namespace: 'default', name: 'oncall-hook', key: 'hmac' }, KEY) } } }),
    dump({ apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'oncall' }, spec: { type: 'webhook', address: hook.url, secretRef: { name: 'oncall-hook' }, alerts: true } }),
  ].join('---\n'));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'lat: latency SLO, oncall receiver');
  await waitFor('the SLO\'s rules loaded and evaluated on the task\'s histogram', async () => (await prom!.query('gitcell_slo:error_ratio{slo="lat-latency"}')).length > 0, ALERT_TIMEOUT).catch(fail);
  const rule = await prom.rule('SLOBurnRateFast');
  assert.equal(rule?.duration, MIN_WINDOW_S, `the fast burn alert's for: ${JSON.stringify(rule)}`);
  assert.deepEqual((await prom.alerts()).filter((a) => a.labels.alertname === 'SLOBurnRateFast'), [], 'a fast task burns nothing');

  // Step 3: a commit makes the task slow: the alert reaches the webhook within its `for` of the burn starting.
  writeFileSync(join(repo, 'jobs', 'lat.yaml'), dump(latencyJob('1')));
  git(repo, 'commit', '-qam', 'lat: slow (DELAY=1)');
  const pushedAt = Date.now();
  let activeAt: number | undefined;
  const fired = await waitFor('SLOBurnRateFast at the webhook', async () => {
    activeAt ??= (await prom!.alerts().catch(() => [])).filter((a) => a.labels.alertname === 'SLOBurnRateFast').map((a) => Date.parse(a.activeAt)).find(Number.isFinite);
    return hook.posts.find((p) => p.status === 'firing' && p.alerts.some((a) => a.labels.alertname === 'SLOBurnRateFast'));
  }, { timeoutMs: ALERT_TIMEOUT, intervalMs: 500 }).catch(fail);
  const alert = fired.alerts.find((a) => a.labels.alertname === 'SLOBurnRateFast')!;
  assert.deepEqual({ slo: alert.labels.slo, namespace: alert.labels.namespace, job: alert.labels.job, severity: alert.labels.severity }, { slo: 'lat-latency', namespace: 'default', job: 'lat', severity: 'page' });
  assert.ok(activeAt, 'Prometheus showed the alert pending or firing before the webhook heard of it');
  // The alert is pending from activeAt, fires `for` later (at an evaluation) and Alertmanager sends it after group_wait (1 s).
  const evaluation = Math.floor(MIN_WINDOW_S / 4);
  const delayS = (fired.receivedAt - activeAt) / 1000;
  process.stderr.write(`e2e slo: burn began ${((activeAt - pushedAt) / 1000).toFixed(1)} s after the slow commit; at the webhook ${delayS.toFixed(1)} s after the burn began (for ${MIN_WINDOW_S} s, evaluation ${evaluation} s), ${((fired.receivedAt - pushedAt) / 1000).toFixed(1)} s after the commit\n`);
  assert.ok(delayS >= MIN_WINDOW_S - 1, `fired before its for: ${delayS} s`);
  assert.ok(delayS <= MIN_WINDOW_S + 2 * evaluation + 1 + 10, `at the webhook ${delayS} s after the burn began: more than for (${MIN_WINDOW_S} s) + two evaluations + group_wait + 10 s`);
  assert.match(gitcell('get', 'alerts', '--cluster-dir', stateDir), /SLOBurnRateFast/);
  // status reads Prometheus' own state, apart from the webhook's: waited for, as an evaluation on a
  // loaded machine can find a window short of samples and put the alert back to pending for a `for`.
  type Monitoring = { degraded: boolean; alerts: { name: string; state: string; labels: Record<string, string> }[] };
  let monitoring: Monitoring | undefined;
  await waitFor('status -o json lists it firing', () => {
    monitoring = (JSON.parse(gitcell('status', '-o', 'json', '--cluster-dir', stateDir)) as { monitoring: Monitoring }).monitoring;
    return !monitoring.degraded && monitoring.alerts.some((a) => a.name === 'SLOBurnRateFast' && a.state === 'firing' && a.labels.slo === 'lat-latency');
  }, { timeoutMs: 2 * MIN_WINDOW_S * 1000, intervalMs: 1000 }).catch((err: Error) => fail(new Error(`${err.message}: status -o json: ${JSON.stringify(monitoring)}`)));

  // Step 4: the revert resolves it.
  git(repo, 'revert', '--no-edit', 'HEAD');
  await waitFor('the revert resolves it at the webhook', () => hook.posts.some((p) => p.receivedAt > fired.receivedAt && p.alerts.some((a) => a.labels.alertname === 'SLOBurnRateFast' && a.status === 'resolved')), { timeoutMs: ALERT_TIMEOUT, intervalMs: 500 }).catch(fail);
  assert.deepEqual(hook.refused, [], 'every post carried the sealed key (alerts as bearer, commit events as HMAC)');

  // Step 5: SIGINT stops everything, Prometheus and Alertmanager included.
  assert.equal(await interruptUp(up.child), 0, logTails(stateDir, up.output()));
  assert.deepEqual(leftovers(stateDir), []);
});
