/**
 * `gitcell up --prometheus URL --prometheus-rules FILE --alertmanager URL --alertmanager-config FILE`:
 * up starts neither server and uses the ones given (here Debian's, started by the test as an
 * operator would run them). The reconciler writes the SLOs in Git into the rule file that
 * Prometheus reads and reloads it, writes the Receivers into Alertmanager's file and reloads it;
 * up writes external.yml, the scrape job the operator adds to that Prometheus; `status -o json`
 * names the external servers; `plan` of a commit changing the SLO shows its compiled rules; stopping
 * up leaves the servers running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { waitFor } from '../../helpers/wait.ts';
import { startAlertmanager, startPrometheus } from '../../helpers/monitoring.ts';
import { git, gitcell, interruptUp, leftovers, logTails, startUp, reserveSubnetBase } from '../../helpers/up.ts';
import { latencySlo, PromClient } from './slo-app.ts';

const UP_TIMEOUT = 300_000;

test('up with an existing Prometheus and Alertmanager: starts neither, writes and reloads their SLO rules and receivers', { timeout: 15 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-extmon-'));
  const rulesDir = join(stateDir, 'operator-rules');
  mkdirSync(rulesDir);
  // The operator's Prometheus reads every rule file of a directory (a glob: none yet is no error) and has its lifecycle API on.
  const prom = await startPrometheus(dump({ global: { scrape_interval: '5s', evaluation_interval: '5s' }, rule_files: [join(rulesDir, '*.yml')] }));
  t.after(() => prom.stop());
  const am = await startAlertmanager();
  t.after(() => am.stop());
  const manifests = join(stateDir, 'manifests');
  mkdirSync(join(manifests, 'monitoring'), { recursive: true });
  writeFileSync(join(manifests, 'monitoring', 'slo.yaml'), dump(latencySlo()));
  // up re-seals every Secret value with the cluster's key (random values): the placeholder only has to be there.
  writeFileSync(join(manifests, 'monitoring', 'oncall.yaml'), [
    dump({ apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'oncall-hook' }, spec: { encryptedData: { hmac: 'placeholder-resealed-by-up' } } }),
    dump({ apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'oncall' }, spec: { type: 'webhook', address: 'http://127.0.0.1:9/alerts', secretRef: { name: 'oncall-hook' }, alerts: true } }),
  ].join('---\n'));
  const rulesFile = join(rulesDir, 'gitcell-slo.yml');
  const up = startUp(t, stateDir, ['--repo', manifests, '--nodes', '1', '--subnet-base', reserveSubnetBase(t, 150, 50),
    '--prometheus', prom.url, '--prometheus-rules', rulesFile, '--alertmanager', am.url, '--alertmanager-config', am.file]);
  const fail = (err: unknown): never => {
    throw new Error(`${(err as Error).message}\nprometheus: ${prom.log().slice(-1500)}\nalertmanager: ${am.log().slice(-1500)}\n${logTails(stateDir, up.output())}`);
  };
  await waitFor('gitcell up ready', () => up.output().includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT).catch(fail);
  assert.match(up.output(), new RegExp(`^ {2}prometheus {3}${prom.url} {3}\\(external: add ${join(stateDir, 'prometheus', 'external.yml')}`, 'm'));
  assert.match(up.output(), new RegExp(`^ {2}alertmanager ${am.url} {3}\\(external;`, 'm'));
  assert.ok(!existsSync(join(stateDir, 'logs', 'prometheus.log')) && !existsSync(join(stateDir, 'logs', 'alertmanager.log')), 'up started neither server');
  assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'monitoring.json'), 'utf8')), { prometheus: prom.url, alertmanager: am.url });

  // The SLO from Git reaches the operator's Prometheus: written where it reads rules, then reloaded.
  const client = new PromClient(prom.url);
  await waitFor('the SLO\'s rules loaded by the external Prometheus', async () => (await client.rule('SLOBurnRateFast')) !== undefined, UP_TIMEOUT).catch(fail);
  assert.match(readFileSync(rulesFile, 'utf8'), /name: gitcell-slo\/default\/lat-latency/);
  // The Receiver reaches the external Alertmanager: its file rewritten (0600) and reloaded.
  await waitFor('the Receiver loaded by the external Alertmanager', async () => JSON.stringify(await (await fetch(`${am.url}/api/v2/status`)).json()).includes('default/oncall'), UP_TIMEOUT).catch(fail);
  assert.equal((statSync(am.file).mode & 0o777).toString(8), '600');
  // What the operator adds to the Prometheus: the scrape job on up's /sd, the rule file, the Alertmanager.
  const ext = load(readFileSync(join(stateDir, 'prometheus', 'external.yml'), 'utf8')) as { rule_files: string[]; alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] }; scrape_configs: { http_sd_configs: { url: string }[] }[] };
  assert.deepEqual(ext.rule_files, [rulesFile]);
  assert.deepEqual(ext.alerting.alertmanagers[0]!.static_configs[0]!.targets, [new URL(am.url).host]);
  assert.match(ext.scrape_configs[0]!.http_sd_configs[0]!.url, /^http:\/\/127\.0\.0\.1:\d+\/sd$/);
  const status = JSON.parse(gitcell('status', '-o', 'json', '--cluster-dir', stateDir)) as { sources: unknown[]; monitoring: { prometheus: string; alertmanager: string; degraded: boolean } };
  assert.deepEqual([status.monitoring.prometheus, status.monitoring.alertmanager, status.monitoring.degraded], [prom.url, am.url, false]);
  assert.equal(status.sources.length, 1);

  // plan of a commit changing the SLO shows its compiled rules (against the live cluster).
  const clone = join(stateDir, 'clone');
  execFileSync('git', ['clone', '-q', join(stateDir, 'repo'), clone]);
  writeFileSync(join(clone, 'monitoring', 'slo.yaml'), dump({ ...latencySlo(), spec: { ...latencySlo().spec, objective: 99 } }));
  git(clone, 'commit', '-qam', 'lat: 99%');
  const planned = gitcell('plan', '--repo', clone, '--cluster-dir', stateDir);
  assert.match(planned, /^slo rules \(Prometheus\):\n {2}~ SLO\/default\/lat-latency: Job lat: 99% good over 1h, bad = requests slower than 0\.5s \(http_request_duration_seconds\)\n {6}record gitcell_slo:error_ratio over /m);
  assert.match(planned, /alert SLOBurnRateFast \(page\) when 1m and 1m > 14\.4x budget \(0\.144\)/);

  // Stopping up stops what it started, and only that.
  assert.equal(await interruptUp(up.child), 0, logTails(stateDir, up.output()));
  assert.deepEqual(leftovers(stateDir), []);
  assert.ok((await fetch(`${prom.url}/-/ready`)).ok && (await fetch(`${am.url}/-/ready`)).ok, 'the external servers still run');
});
