/**
 * The dashboard in a real browser (Debian's Chromium, headless, through puppeteer-core) on a real
 * `gitcell up` of sample-repo with three nodes, driven by real `git` commits. One cluster, in order:
 *   1. the overview shows the three nodes and every sample Job and DaemonSet; an unknown object is a not-found page;
 *   2. a commit to jobs/web.yaml: the job page, never reloaded, shows each step of the rollout
 *      within 2 s of the store recording it;
 *   3. a broken commit (an image tag that does not exist): the job page shows the rollout failing,
 *      then gitcell's revert commit rolling back, in its history too;
 *   3b. deep links: a node, the events filtered by object, a commit with its plan;
 *   4. a Job too big for any node: the pending page shows its per-filter reasons;
 *   4b. the job page shows the sample SLO's burn rate (Prometheus) and, once `autoscale:` is
 *      committed, the autoscaler's decisions; the overview shows SLONoData firing for an SLO whose
 *      indicator no task exports (committed after the rollouts: its `for` runs meanwhile), as `get alerts` lists it;
 *   5. a malformed store record shows as such; the dashboard killed: a banner, then it reconnects.
 * Screenshots of each page go to SCREENSHOT_DIR. Chromium, its profile and `up` are removed after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { silentLogger } from '../../../lib/index.ts';
import { bucketName, connectFromOptions, Informer, openClusterStore, type ClusterStore } from '../../../store/index.ts';
import type { DesiredRecord, SyncRecord, WorkloadStatus } from '../../../reconciler/index.ts';
import { waitFor } from '../../helpers/wait.ts';
import { BIN, crashComponent, git, interruptUp, leftovers, logTails, unmountBelow, webSettled, reserveSubnetBase } from '../../helpers/up.ts';
import { attrs, failFirstLoad, gone, launchChromium, openUrl, recordRollout, screenshot, shownRollouts, SCREENSHOT_DIR, type Chromium, type RolloutShown } from './browser-helpers.ts';

const UP_TIMEOUT = 300_000;
const ROLLOUT_TIMEOUT = 300_000;
/** STEP_MS is the issue's bound: each rollout step on screen within 2 s of the store. */
const STEP_MS = 2000;
/** SLO_MIN_WINDOW_S shortens the SLO windows (GITCELL_SLO_MIN_WINDOW, handed down by up). */
const SLO_MIN_WINDOW_S = 20;
/** NO_DATA_SLO targets web with counters no task exports: Prometheus fires SLONoData. */
const NO_DATA_SLO = 'apiVersion: gitcell.io/v1\nkind: SLO\nmetadata:\n  name: web-requests\nspec:\n  job: web\n  objective: 99\n  window: 1h\n  indicator:\n    ratio:\n      errors: web_http_errors_total\n      total: web_http_requests_total\n';

type Step = Omit<RolloutShown, 'at'> & { at: number };

/** stepOf is what the rollout panel shows of a workload status (the same fields, as strings). */
function stepOf(w: WorkloadStatus, at: number): Step | undefined {
  const r = w.rollout;
  return r ? { at, revision: r.revision, phase: r.phase, updated: String(w.updated), ready: String(w.ready), newReady: String(r.bestNewReady), old: String(r.fewestOld) } : undefined;
}

const same = (a: Omit<Step, 'at'>, b: Omit<Step, 'at'>) => a.revision === b.revision && a.phase === b.phase && a.updated === b.updated && a.ready === b.ready && a.newReady === b.newReady && a.old === b.old;

/** lateSteps lists each store step of `revision` the page did not show (it or a later step) within STEP_MS. */
function lateSteps(steps: Step[], shown: RolloutShown[], revision: string): string[] {
  const mine = steps.filter((s) => s.revision === revision).filter((s, i, all) => i === 0 || !same(s, all[i - 1]!));
  const late: string[] = [];
  mine.forEach((s, i) => {
    const seen = shown.find((p) => p.at >= s.at - 50 && mine.slice(i).some((later) => same(later, p)));
    const delay = seen ? seen.at - s.at : Infinity;
    if (delay > STEP_MS) late.push(`${JSON.stringify(s)}: ${seen ? `${delay} ms` : 'never shown'}`);
  });
  return late;
}

test('dashboard in Chromium: overview, live rollout, failed rollout and revert, pending reasons, bad input', { timeout: 30 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (gitcell up runs containers)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-dashboard-'));
  const repo = join(stateDir, 'repo');
  let up: ChildProcess | undefined;
  let chromium: Chromium | undefined;
  let output = '';
  const stops: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await chromium?.close();
    if (up) await interruptUp(up);
    const left = leftovers(stateDir);
    if (left.length) process.stderr.write(`dashboard e2e: left behind:\n${left.join('\n')}\n`);
    unmountBelow(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  });
  const dump = () => logTails(stateDir, output);
  const fail = (err: unknown): never => {
    throw new Error(`${(err as Error).message}\n${dump()}`);
  };

  // Short SLO windows (and `for`s): an alert fires within a test's time.
  up = spawn(process.execPath, [BIN, 'up', '--cluster-dir', stateDir, '--nodes', '3', '--subnet-base', reserveSubnetBase(t, 150, 50)], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GITCELL_SLO_MIN_WINDOW: String(SLO_MIN_WINDOW_S) },
  });
  up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor('gitcell up to print where things are', () => /^ {2}dashboard {4}(http:\/\/127\.0\.0\.1:\d+)\//m.exec(output)?.[1], UP_TIMEOUT).catch(fail);
  const base = /^ {2}dashboard {4}(http:\/\/127\.0\.0\.1:\d+)\//m.exec(output)![1]!;
  const nc = await connectFromOptions({ stateDir, name: 'dashboard e2e' });
  stops.push(() => nc.close());
  const store: ClusterStore<DesiredRecord, SyncRecord> = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
  await waitFor('web 3/3 running and ready', () => webSettled(store, 3), UP_TIMEOUT).catch(fail);
  chromium = await launchChromium();
  const page: Page = await chromium.browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  const open = (path: string) => openUrl(page, `${base}${path}`);
  const pageText = () => page.$eval('body', (e) => (e.textContent ?? '').slice(0, 3000)).catch((e: unknown) => `(no page text: ${(e as Error).message})`);
  /**
   * onPage waits for `selector` on a freshly opened page. A page whose stream never delivered (seen
   * intermittently: CI and 3 of 8 runs here, cause not found yet) is reported on stderr with what it
   * showed and loaded once more, as a user would; a second miss fails with both texts and the logs.
   */
  const onPage = async (selector: string) => {
    const first = await page.waitForSelector(selector, { timeout: 30_000 }).then(() => undefined, async (err: unknown) => `${(err as Error).message}\n${page.url()} showed:\n${await pageText()}`);
    if (first === undefined) return;
    process.stderr.write(`dashboard e2e: NOT SHOWN, reloading once: ${first}\n`);
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForSelector(selector, { timeout: 30_000 }).catch(async (err: unknown) => fail(new Error(`${first}\nafter a reload: ${(err as Error).message}\n${await pageText()}`)));
  };

  await t.test('overview: three nodes with capacity bars and every sample job; unknown objects are not found', async () => {
    const workloads = (await store.desired.list()).map((r) => r.value.object).filter((o) => o.kind === 'Job' || o.kind === 'DaemonSet').map((o) => `${o.kind}/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`);
    assert.ok(workloads.includes('Job/default/web') && workloads.includes('DaemonSet/default/node-logger'), workloads.join(', '));
    const t0 = Date.now();
    await open('/');
    await onPage('[data-node="node-3"] [role="meter"]');
    process.stderr.write(`dashboard e2e: overview painted ${Date.now() - t0} ms after navigation\n`);
    const nodes = await attrs(page, '[data-node]', 'data-node');
    assert.deepEqual(nodes, ['node-1', 'node-2', 'node-3']);
    await waitFor('every sample job on the overview', async () => {
      const shown = await attrs(page, 'tr[data-job]', 'data-job');
      return workloads.every((w) => shown.includes(w));
    }, 30_000);
    assert.match(await page.$eval('[data-source]', (e) => e.textContent ?? ''), /applied [0-9a-f]{12}/);
    await screenshot(page, 'overview');
    const res = await open('/jobs/default/no-such-job');
    assert.equal(res?.status(), 404);
    await onPage('[data-page="not-found"]');
    await screenshot(page, 'not-found');
  });

  await t.test('a front-end file lost to a network change: the page loads again by itself', async () => {
    // As Chromium does to every request in flight when a container's veth comes or goes on the machine.
    const other = await chromium!.browser.newPage();
    stops.push(() => other.close());
    const warnings: string[] = [];
    other.on('console', (m) => void (m.type() === 'warn' && warnings.push(m.text())));
    await failFirstLoad(other, '/static/pages.js');
    await openUrl(other, `${base}/pending`);
    await other.waitForSelector('[data-page="pending"]', { timeout: 30_000 }).catch(fail);
    assert.ok(warnings.some((w) => /app\.js failed to load; loading the page again/.test(w)), warnings.join('\n'));
    await other.close();
    // A tab behind another gets no animation frames (headless too): the main page comes to the front.
    await page.bringToFront();
  });

  const history: Step[] = [];
  const ac = new AbortController();
  stops.push(async () => ac.abort());
  const jobStatus = new Informer<SyncRecord>(store.sync, {
    signal: ac.signal,
    key: 'object.Job.default.web',
    log: silentLogger(),
    onChange: (c) => {
      const s = c?.next ? stepOf(c.next as unknown as WorkloadStatus, Date.now()) : undefined;
      if (s) history.push(s);
    },
  });
  await jobStatus.synced;

  await t.test('a commit to jobs/web.yaml: each rollout step on the job page within 2 s, without a reload', async () => {
    await open('/jobs/default/web');
    await onPage('[data-rollout-phase]');
    await recordRollout(page);
    const file = join(repo, 'jobs', 'web.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('value: production', 'value: staging'));
    git(repo, 'commit', '-qam', 'web: MODE=staging');
    const commit = git(repo, 'rev-parse', 'HEAD');
    await page.waitForSelector(`[data-rollout-revision="${commit}"][data-rollout-phase="Complete"]`, { timeout: ROLLOUT_TIMEOUT }).catch(fail);
    const { shown, reloaded } = await shownRollouts(page);
    assert.equal(reloaded, false, 'the page was never reloaded');
    const steps = history.filter((s) => s.revision === commit);
    assert.ok(steps.length >= 3, `the store recorded the rollout's steps: ${JSON.stringify(steps)}`);
    assert.deepEqual(lateSteps(history, shown, commit), [], `late steps; page saw ${JSON.stringify(shown)}`);
    process.stderr.write(`dashboard e2e: ${steps.length} rollout steps in the store, ${shown.length} states on the page\n`);
    await screenshot(page, 'job-rollout');
  });

  await t.test('a broken commit: the failed rollout, then the revert, on the job page', async () => {
    const file = join(repo, 'jobs', 'web.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('image: localhost/busybox:latest', 'image: localhost/busybox:no-such-tag').replace('progressDeadlineSeconds: 120', 'progressDeadlineSeconds: 20'));
    git(repo, 'commit', '-qam', 'web: a tag that does not exist');
    const broken = git(repo, 'rev-parse', 'HEAD');
    await page.waitForSelector(`[data-rollout-revision="${broken}"][data-rollout-phase="Failed"]`, { timeout: ROLLOUT_TIMEOUT }).catch(fail);
    await screenshot(page, 'job-rollout-failed');
    await page.waitForSelector(`tr[data-history-commit="${broken}"][data-history-result="Failed"]`, { timeout: 60_000 }).catch(fail);
    const revert = await waitFor('the revert commit', () => git(repo, 'log', '--format=%H %s', '-n', '5').split('\n').find((l) => l.includes('Revert "web: a tag that does not exist"'))?.split(' ')[0], ROLLOUT_TIMEOUT).catch(fail);
    await page.waitForSelector(`[data-rollout-revision="${revert}"][data-rollout-phase="Complete"]`, { timeout: ROLLOUT_TIMEOUT }).catch(fail);
    await page.waitForSelector(`tr[data-history-commit="${revert}"]`, { timeout: 60_000 }).catch(fail);
    const row = await page.$eval(`tr[data-history-commit="${revert}"]`, (e) => e.textContent ?? '');
    assert.match(row, /Revert "web: a tag that does not exist"/);
    assert.match(row, new RegExp(`reverts ${broken.slice(0, 12)}`));
    assert.equal((await shownRollouts(page)).reloaded, false);
    await screenshot(page, 'job-reverted');
    // Monitoring is configured (up's Prometheus); the charts themselves are not checked: see dashboard/README.md.
    await page.waitForSelector('[data-metrics="configured"]', { timeout: 60_000 }).catch(fail);
  });

  // After the rollouts (whose timing it would disturb), before the pages that do not mind: its `for` runs meanwhile.
  writeFileSync(join(repo, 'monitoring', 'web-requests.yaml'), NO_DATA_SLO);
  git(repo, 'add', 'monitoring/web-requests.yaml');
  git(repo, 'commit', '-qm', 'web-requests SLO: counters no task exports yet');

  await t.test('deep links: a node, the events filtered by object, a commit with its plan', async () => {
    await open('/nodes/node-2');
    await onPage('[data-page="node"] tr[data-key]');
    await screenshot(page, 'node');
    await open('/events?kind=Job&name=web');
    await onPage('[data-page="events"] tr[data-key]');
    const kinds = await page.$$eval('[data-page="events"] tr[data-key] td:nth-child(4)', (els) => els.map((e) => e.textContent ?? ''));
    assert.ok(kinds.length > 0 && kinds.every((k) => k.startsWith('Job/default/web')), kinds.join(', '));
    await screenshot(page, 'events');
    const head = git(repo, 'rev-parse', 'HEAD');
    await open(`/commits/${head}`);
    await page.waitForSelector(`[data-page="commit"][data-commit="${head}"] [data-plan]`, { timeout: 60_000 }).catch(fail);
    assert.match(await page.$eval('[data-plan]', (e) => e.textContent ?? ''), /\S/);
    await screenshot(page, 'commit');
  });

  await t.test('pending: a Job too big for any node shows its per-filter reasons', async () => {
    writeFileSync(join(repo, 'jobs', 'huge.yaml'), 'apiVersion: gitcell.io/v1\nkind: Job\nmetadata:\n  name: huge\nspec:\n  type: service\n  replicas: 1\n  template:\n    image: localhost/busybox:latest\n    command: ["sleep", "3600"]\n    resources:\n      requests: {cpu: "4", memory: 64Mi}\n');
    git(repo, 'add', 'jobs/huge.yaml');
    git(repo, 'commit', '-qm', 'huge: more CPU than any node has');
    await open('/pending');
    const huge = '[data-unplaced-job="Job/default/huge"]';
    await page.waitForSelector(`${huge} [data-reason]`, { timeout: ROLLOUT_TIMEOUT }).catch(fail);
    const text = await page.$eval(huge, (e) => e.textContent ?? '');
    assert.match(text, /0\/3 nodes/);
    assert.match(text, /cpu/i);
    await screenshot(page, 'pending');
    const id = (await attrs(page, `${huge} [data-unplaced]`, 'data-unplaced'))[0]!;
    await open(`/tasks/${id}`);
    await onPage('[data-page="task"] [data-unplaced]');
    await screenshot(page, 'task-pending');
  });

  await t.test('job page: SLO burn rates and the autoscaler\'s decisions; overview: a firing alert, as get alerts lists it', async () => {
    await open('/jobs/default/web');
    await page.waitForSelector('[data-slo="web-availability"][data-burn="data"] tr[data-window]', { timeout: 180_000 }).catch(fail);
    assert.match(await page.$eval('[data-slo="web-availability"]', (e) => e.textContent ?? ''), /99\.5% over 30d.*error budget 0\.500%/s);
    await page.waitForSelector('[data-slo="web-requests"] [data-slo-note]', { timeout: 60_000 }).catch(fail);
    assert.match(await page.$eval('[data-slo="web-requests"]', (e) => e.textContent ?? ''), /no data/);
    assert.ok(await page.$('[data-autoscale="none"]'), 'web is not autoscaled yet');
    const file = join(repo, 'jobs', 'web.yaml');
    // Bounds that keep web at 3 (idle, it would go to the minimum): the decisions say why.
    writeFileSync(file, readFileSync(file, 'utf8').replace('  replicas: 3\n', '  replicas: 3\n  autoscale:\n    minReplicas: 3\n    maxReplicas: 4\n    metrics:\n      - {resource: cpu, targetAverageUtilization: 80}\n'));
    git(repo, 'commit', '-qam', 'web: autoscale 3..4 on CPU');
    await page.waitForSelector('[data-autoscale="3"][data-git-replicas="3"] tr[data-decision]', { timeout: 120_000 }).catch(fail);
    assert.match(await page.$eval('tr[data-decision]', (e) => e.textContent ?? ''), /cpu \S+\/80 \(\d+ ready|cpu: /, 'the decision shows what it read');
    await screenshot(page, 'job-slo-autoscale');
    await open('/');
    await page.waitForSelector('tr[data-alert="SLONoData"][data-alert-state="firing"]', { timeout: 180_000 }).catch(fail);
    assert.match(await page.$eval('tr[data-alert="SLONoData"]', (e) => e.textContent ?? ''), /default\/web SLO web-requests/);
    const cli = spawnSync(process.execPath, [BIN, 'get', 'alerts', '--cluster-dir', stateDir], { encoding: 'utf8', timeout: 60_000 });
    assert.match(cli.stdout, /SLONoData/, `get alerts lists it too: ${cli.stdout}${cli.stderr}`);
    await screenshot(page, 'overview-alerts');
  });

  await t.test('bad input: a malformed record shows as such; a lost server shows a banner, then the page reconnects', async () => {
    nc.publish(`$KV.${bucketName('tasks')}.bogus-0`, new TextEncoder().encode('{"schema": 1, "data"'));
    await open('/');
    await page.waitForSelector('[data-malformed]', { timeout: 30_000 });
    assert.match(await page.$eval('[data-malformed]', (e) => e.textContent ?? ''), /bogus-0/);
    await screenshot(page, 'malformed');
    await store.tasks.delete('bogus-0');
    await page.waitForFunction(gone('[data-malformed]'), { timeout: 30_000 });
    // up hosts the dashboard in its own process: crash it there, as kill -9 of a process of its own did
    crashComponent(stateDir, 'dashboard');
    await page.waitForSelector('[data-banner="disconnected"]', { timeout: 30_000 });
    await screenshot(page, 'disconnected');
    await page.waitForFunction(gone('[data-banner]'), { timeout: 60_000 });
    await page.waitForSelector('[data-node="node-1"]', { timeout: 30_000 });
  });
  process.stderr.write(`dashboard e2e: screenshots in ${SCREENSHOT_DIR}\n`);
});
