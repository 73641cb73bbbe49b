/**
 * End to end, autoscaling on a Prometheus task metric up to the cluster's capacity, on the real
 * `gitcell up` (one agent running runc + CNI whose capacity fits 4 of the Job's tasks; the
 * Prometheus up starts, scraping each task's port named "metrics" found through the reconciler's
 * /sd, which labels every series with its task id). Each `web` task's busybox httpd serves
 * `app_requests_per_second 30`: for a target of 10 per task the formula wants ceil(2 × 30 / 10) = 6
 * from 2, then ceil(4 × 30 / 10) = 12 (8 at most), more than fit. Asserted: a scale-up decision's
 * inputs (the Prometheus value per task, ready/missing/unready) and output (the formula within the
 * default rate policy); then the hold: the tasks beyond capacity wait with the scheduler's
 * FailedScheduling, an AutoscaleHeld event quotes it, and the live count, the placed tasks and the
 * decision stay the same over five further evaluations (no thrashing). Last, a commit removing
 * `autoscale:` returns the Job to its Git replicas through the controllers' scale-down ranking.
 * Sync period 3 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { silentLogger } from '../../../lib/index.ts';
import { connectFromOptions, openClusterStore } from '../../../store/index.ts';
import type { AutoscaleDecision, AutoscaleRecord } from '../../../api/index.ts';
import type { DesiredRecord, SyncRecord } from '../../../reconciler/index.ts';
import { waitFor } from '../../helpers/agent.ts';
import { git, gitcell, interruptUp, leftovers, logTails, startUp, tasksOf, type UpStore, reserveSubnetBase } from '../../helpers/up.ts';

const UP_TIMEOUT = 300_000;
const SCALE_TIMEOUT = 240_000;
const PER_TASK = 30;
const TARGET = 10;
const MAX = 8;
/** FIT: tasks of 100m the node's 400m hold. */
const FIT = 4;
const QUERY = 'app_requests_per_second';

const webJob = {
  apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web' },
  spec: {
    type: 'service', replicas: 2, priority: 'production',
    autoscale: { minReplicas: 2, maxReplicas: MAX, metrics: [{ prometheus: { query: QUERY }, targetAverageValue: TARGET }] },
    template: {
      labels: { app: 'web' }, image: 'localhost/busybox:latest', command: ['sh', '-c'],
      args: [`mkdir -p /www && printf '# TYPE ${QUERY} gauge\\n${QUERY} ${PER_TASK}\\n' > /www/metrics && exec httpd -f -p 9100 -h /www`],
      resources: { requests: { cpu: '100m', memory: '16Mi' }, limits: { cpu: '200m', memory: '32Mi' } },
      ports: [{ name: 'metrics', containerPort: 9100 }],
      readinessProbe: { httpGet: { path: '/metrics', port: 'metrics' }, periodSeconds: 2 },
      restartPolicy: 'Always', terminationGracePeriodSeconds: 1,
    },
  },
};

const recordOf = async (s: UpStore): Promise<AutoscaleRecord | undefined> => (await s.autoscale.get('default.web'))?.value;

/** placement: the web tasks, and how many of them the scheduler bound. */
async function placement(s: UpStore): Promise<{ tasks: number; bound: number }> {
  const tasks = await tasksOf(s, 'Job/default/web');
  const bound = new Set((await s.bindings.list()).map((b) => b.key));
  return { tasks: tasks.length, bound: tasks.filter((t) => bound.has(t.spec.id)).length };
}

/** checkFormula: a scale-up's proposal is ceil(ready × value / target) on its own inputs (unready and missing tasks count 0 on a scale-up), its output the default rate policy within maxReplicas. */
function checkFormula(d: AutoscaleDecision): void {
  const m = d.metrics[0]!;
  assert.equal(m.metric, `prometheus:${QUERY}`);
  assert.equal(m.target, TARGET);
  assert.equal(m.current, PER_TASK, `every measured task reports ${PER_TASK}: ${JSON.stringify(m)}`);
  assert.equal(m.proposal, Math.ceil((m.ready * PER_TASK) / TARGET), JSON.stringify(m));
  assert.equal(d.proposal, m.proposal);
  assert.equal(d.desired, Math.min(d.proposal, MAX, Math.max(2 * d.current, d.current + 4)), JSON.stringify(d));
}

test('autoscaling on a Prometheus task metric stops at the cluster capacity with the scheduler\'s reason, and holds', { timeout: 20 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-autoscale-cap-'));
  const manifests = join(stateDir, 'manifests');
  const repo = join(stateDir, 'repo');
  mkdirSync(join(manifests, 'jobs'), { recursive: true });
  writeFileSync(join(manifests, 'jobs', 'web.yaml'), dump(webJob));
  const up = startUp(t, stateDir, ['--repo', manifests, '--nodes', '1', '--capacity', `cpu=${FIT * 100}m,memory=1Gi`, '--subnet-base', reserveSubnetBase(t, 150, 50)], { GITCELL_AUTOSCALE_SYNC: '3s' });
  let s: UpStore | undefined;
  const fail = async (err: unknown): Promise<never> => {
    const rec = s ? await recordOf(s).catch(() => undefined) : undefined;
    throw new Error(`${(err as Error).message}\nrecord: ${JSON.stringify(rec?.decisions.slice(-3))}\n${logTails(stateDir, up.output())}`);
  };
  await waitFor('gitcell up ready', () => up.output().includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT).catch(fail);
  const nc = await waitFor('a connection to the cluster', () => connectFromOptions({ stateDir, name: 'e2e-autoscale-capacity' }).catch(() => undefined), 60_000);
  s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
  up.onStop(() => nc.close());

  // every step's failure carries the autoscale record and the components' log tails
  await (async () => {
    // Step 1: the Prometheus metric scales the Job up by the formula on the decision's own inputs
    const rec = await waitFor('a scale-up decision', async () => {
      const r = await recordOf(s);
      return r?.decisions.some((d) => d.desired > d.current) ? r : undefined;
    }, UP_TIMEOUT + SCALE_TIMEOUT);
    const first = rec.decisions.find((d) => d.desired > d.current)!;
    assert.equal(first.current, 2);
    checkFormula(first);
    process.stderr.write(`e2e autoscale capacity: scale-up ${JSON.stringify(first)}\n`);

    // Step 2: the count stops where the node is full, held with the scheduler's reason
    const held = await waitFor('a CapacityLimited decision', async () => {
      const r = await recordOf(s);
      return r?.decisions.find((d) => d.reason === 'CapacityLimited');
    }, SCALE_TIMEOUT);
    process.stderr.write(`e2e autoscale capacity: held ${JSON.stringify(held)}\n`);
    assert.equal(held.desired, held.current);
    assert.ok(held.current > FIT && held.current <= MAX, JSON.stringify(held));
    assert.ok(held.proposal > held.current, `the formula wanted more: ${JSON.stringify(held)}`);
    const m = held.metrics[0]!;
    // Only placed tasks are measured; one placed a moment ago may not be scraped yet (missing), and
    // a held decision is recorded once (the record keeps notable decisions only), so it may be that one.
    assert.ok(m.ready >= 1 && m.ready <= FIT, `only the ${FIT} placed tasks can be measured: ${JSON.stringify(m)}`);
    assert.equal(m.ready + m.unready + m.missing, held.current, JSON.stringify(m));
    assert.ok(m.unready + m.missing >= held.current - FIT, `the tasks waiting for a node are not measured: ${JSON.stringify(m)}`);
    assert.match(held.message, /wait for a node: \S+: 0\/1 nodes fit: 1 insufficient cpu/);
    const events = () => gitcell('events', '-o', 'json', '--cluster-dir', stateDir).trim().split('\n').map((l) => JSON.parse(l) as { reason: string; message: string; object: { kind: string; name: string } });
    const evs = events();
    const scheduling = evs.filter((e) => e.reason === 'FailedScheduling' && e.object.kind === 'Task').map((e) => e.message);
    assert.ok(scheduling.length > 0, 'the scheduler said why the tasks wait');
    assert.ok(evs.some((e) => e.reason === 'AutoscaleHeld' && e.message.includes('CapacityLimited') && scheduling.some((msg) => e.message.includes(msg))), JSON.stringify(evs.filter((e) => e.reason.startsWith('Autoscale'))));

    // Step 3: no thrashing: five more evaluations keep the count, the placed tasks and the decision
    const count = held.current;
    const seen = new Set<string>();
    const moved: string[] = [];
    await waitFor('five more evaluations', async () => {
      const r = (await recordOf(s))!;
      const p = await placement(s);
      if (r.updatedAt <= held.at) return false;
      if (r.replicas !== count || p.tasks !== count || p.bound !== FIT || r.decisions.at(-1)!.reason !== 'CapacityLimited') moved.push(`${r.updatedAt}: count ${r.replicas}, tasks ${p.tasks}, bound ${p.bound}, last ${r.decisions.at(-1)!.reason}`);
      seen.add(r.updatedAt);
      return seen.size >= 5;
    }, SCALE_TIMEOUT);
    assert.deepEqual(moved, [], 'the held count moved');
    const after = (await recordOf(s))!;
    assert.equal(after.decisions.filter((d) => d.desired !== d.current && Date.parse(d.at) > Date.parse(held.at)).length, 0, JSON.stringify(after.decisions));
    assert.match(gitcell('describe', 'job', 'web', '--cluster-dir', stateDir), /CapacityLimited/);

    // Step 4: a commit removing autoscale: returns the Job to its Git replicas (3) by the controllers'
    // scale-down ranking: the tasks still waiting for a node go first, then the newest placed one;
    // never fewer than 3 ready on the way
    const before = await tasksOf(s, 'Job/default/web');
    const bound = new Set((await s.bindings.list()).map((b) => b.key));
    const placed = before.filter((x) => bound.has(x.spec.id)).map((x) => x.spec.id);
    const { autoscale: _, ...fixed } = webJob.spec;
    writeFileSync(join(repo, 'jobs', 'web.yaml'), dump({ ...webJob, spec: { ...fixed, replicas: 3 } }));
    git(repo, 'commit', '-qam', 'web: no autoscale, 3 replicas');
    let fewest = Infinity;
    const kept = await waitFor('3 web tasks ready and the record gone', async () => {
      const now = await tasksOf(s, 'Job/default/web');
      const ready = now.filter((x) => x.status?.state === 'running' && x.status.ready).length;
      fewest = Math.min(fewest, ready);
      return now.length === 3 && ready === 3 && (await recordOf(s)) === undefined ? now.map((x) => x.spec.id) : undefined;
    }, SCALE_TIMEOUT);
    assert.ok(fewest >= 3, `only ${fewest} web tasks ready on the way back to 3`);
    const byIndex = [...placed].sort((a, b) => before.find((x) => x.spec.id === a)!.spec.index - before.find((x) => x.spec.id === b)!.spec.index);
    assert.deepEqual([...kept].sort(), byIndex.slice(0, 3).sort(), `kept the three oldest placed tasks of ${JSON.stringify(byIndex)}`);
    const back = events().filter((e) => e.object.name === 'web');
    assert.ok(back.some((e) => e.reason === 'AutoscaleRemoved'), 'the autoscaler let go of the Job');
    assert.ok(back.some((e) => e.reason === 'Scaled' && e.message.startsWith(`scaled from ${count} to 3 tasks: ${count - 3} removed`)), JSON.stringify(back.filter((e) => e.reason === 'Scaled')));
  })().catch(fail);

  // SIGINT stops everything
  await nc.close();
  assert.equal(await interruptUp(up.child), 0, logTails(stateDir, up.output()));
  assert.deepEqual(leftovers(stateDir), []);
});
