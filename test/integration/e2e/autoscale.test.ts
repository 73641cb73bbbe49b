/**
 * End to end, horizontal autoscaling on the real `gitcell up` (two agents running runc + CNI, the
 * reconciler leader's autoscaler reading the agents' cgroup samples): a `burner` Job whose busybox
 * httpd answers each request with a CGI script that spins the CPU, behind a Service with a pinned
 * virtual IP, and a `load` Job calling it through that IP in a loop (busybox `nc`: its static `wget`
 * segfaults in tasks). The burner's CPU follows the load: it scales from 2 to what the HPA formula
 * gives on the decision's own inputs; the load's Job leaves Git and, after the (test-shortened, 20 s)
 * scale-down stabilization window, it comes back to 2. Last, a commit removing `autoscale:` returns
 * the Job to its Git replicas. Sync period 3 s (GITCELL_AUTOSCALE_SYNC), one cluster of 2 nodes. The
 * steps run in order in one test: a failed step stops the rest (each would wait minutes for nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { dump } from 'js-yaml';
import { silentLogger } from '../../../lib/index.ts';
import { connectFromOptions, openClusterStore } from '../../../store/index.ts';
import type { AutoscaleDecision, AutoscaleRecord } from '../../../api/index.ts';
import type { DesiredRecord, SyncRecord } from '../../../reconciler/index.ts';
import { waitFor } from '../../helpers/agent.ts';
import { git, gitcell, interruptUp, leftovers, logTails, startUp, tasksOf, type UpStore, reserveSubnetBase } from '../../helpers/up.ts';

const UP_TIMEOUT = 300_000;
const SCALE_TIMEOUT = 240_000;
const DOWN_WINDOW_S = 20;
/**
 * TARGET: the CPU utilization the burner is held at, low on purpose: on the shared 2-core machine
 * (load 20-40 from other work) three clients drove the burners to only 40-50 % of their 100m
 * request, so a 50 % target never saw a scale-up; idle, a burner uses ~1 %.
 */
const TARGET = 20;

/** burner: httpd whose /cgi-bin/burn spins 4,000 shell iterations per request: CPU in proportion to the requests it serves. */
function burnerJob(autoscale: boolean, replicas = 2): object {
  return {
    apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'burner' },
    spec: {
      type: 'service', replicas, priority: 'production',
      ...(autoscale ? { autoscale: { minReplicas: 2, maxReplicas: 5, metrics: [{ resource: 'cpu', targetAverageUtilization: TARGET }], behavior: { scaleDown: { stabilizationWindowSeconds: DOWN_WINDOW_S } } } } : {}),
      template: {
        labels: { app: 'burner' }, image: 'localhost/busybox:latest', command: ['sh', '-c'],
        args: [
          "mkdir -p /www/cgi-bin && echo ok > /www/index.html && { echo '#!/bin/sh'; echo 'i=0; while [ $i -lt 4000 ]; do i=$((i+1)); done'; "
            + "echo 'printf \"Content-Type: text/plain\\r\\n\\r\\n\"; hostname'; } > /www/cgi-bin/burn && chmod +x /www/cgi-bin/burn && exec httpd -f -p 8080 -h /www",
        ],
        resources: { requests: { cpu: '100m', memory: '16Mi' }, limits: { cpu: '500m', memory: '64Mi' } },
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 2 },
        restartPolicy: 'Always', terminationGracePeriodSeconds: 2,
      },
    },
  };
}

function loadJob(vip: string): object {
  return {
    apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'load' },
    spec: {
      type: 'service', replicas: 1, priority: 'batch',
      template: {
        image: 'localhost/busybox:latest', command: ['sh', '-c'],
        // Three clients at once, each calling again as soon as it has its answer (plus 50 ms): on a shared
        // 2-core machine, where a request's wall time is many times its CPU time, one client kept the
        // burners at a quarter of their request and nothing scaled.
        args: [`for c in 1 2 3; do (while true; do printf 'GET /cgi-bin/burn HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${vip} 8080 | tail -1 || echo request failed; usleep 50000; done) & done; wait`],
        resources: { requests: { cpu: '10m', memory: '8Mi' }, limits: { memory: '32Mi' } },
        restartPolicy: 'Always', terminationGracePeriodSeconds: 1,
      },
    },
  };
}

const autoscaleOf = async (s: UpStore): Promise<AutoscaleRecord | undefined> => (await s.autoscale.get('default.burner'))?.value;
const readyCount = async (s: UpStore): Promise<number> => (await tasksOf(s, 'Job/default/burner')).filter((x) => x.status?.state === 'running' && x.status.ready).length;

/** checkFormula: a scale-up decision's desired count is the HPA formula on its own recorded inputs, within the bounds and the default rate policy. */
function checkFormula(d: AutoscaleDecision): void {
  const m = d.metrics[0]!;
  assert.equal(m.metric, 'cpu');
  assert.equal(m.target, TARGET);
  // Every task is counted; one can be unready at that moment (a burning task's readiness probe can
  // miss its deadline on a loaded node): on a scale-up it counts 0, as the HPA does.
  assert.ok(m.ready >= 1 && m.ready + m.unready + m.missing === d.current, `every task counted: ${JSON.stringify(m)}`);
  // desired = ceil(current × metric / target) over the ready tasks (recorded value rounded to 0.01 %).
  const formula = Math.ceil((m.ready * m.current!) / m.target - 1e-6);
  assert.ok(Math.abs(m.proposal! - formula) <= 1 && m.proposal === d.proposal, `proposal ${m.proposal} vs ceil(${m.ready} × ${m.current} / ${m.target}) = ${formula}`);
  // Default scale-up policy: at most max(2 × current, current + 4) at once; maxReplicas 5.
  assert.equal(d.desired, Math.min(d.proposal, 5, Math.max(2 * d.current, d.current + 4)), JSON.stringify(d));
}

test('autoscaling end to end: CPU load through a Service scales a Job up by the HPA formula and back down after the window', { timeout: 20 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-autoscale-'));
  const manifests = join(stateDir, 'manifests');
  const repo = join(stateDir, 'repo');
  const vip = `10.${96 + randomInt(8)}.${randomInt(1, 255)}.${randomInt(2, 250)}`;
  mkdirSync(join(manifests, 'jobs'), { recursive: true });
  writeFileSync(join(manifests, 'jobs', 'burner.yaml'), dump(burnerJob(true)));
  writeFileSync(join(manifests, 'jobs', 'load.yaml'), dump(loadJob(vip)));
  writeFileSync(join(manifests, 'service.yaml'), dump({ apiVersion: 'gitcell.io/v1', kind: 'Service', metadata: { name: 'burner' }, spec: { selector: { app: 'burner' }, clusterIP: vip, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] } }));
  const up = startUp(t, stateDir, ['--repo', manifests, '--nodes', '2', '--subnet-base', reserveSubnetBase(t, 150, 50)], { GITCELL_AUTOSCALE_SYNC: '3s' });
  const dump_ = () => logTails(stateDir, up.output());
  let s: UpStore | undefined;
  /** fail adds what the autoscaler saw (its record, the burner's usage) and the load's output to a timeout. */
  const fail = async (err: unknown): Promise<never> => {
    const rec = s ? await autoscaleOf(s).catch(() => undefined) : undefined;
    const usage = s ? (await tasksOf(s, 'Job/default/burner').catch(() => [])).map((x) => `${x.spec.id} ${x.status?.state}/${x.status?.ready} ${JSON.stringify(x.status?.usage)}`) : [];
    let load = '';
    try {
      load = gitcell('logs', 'job/load', '--tail', '5', '--cluster-dir', stateDir);
    } catch (e) {
      load = (e as Error).message;
    }
    throw new Error(`${(err as Error).message}\nrecord: ${JSON.stringify(rec?.decisions.slice(-3))}\nburner: ${usage.join('; ')}\nload: ${load.slice(-600)}\n${dump_()}`);
  };
  await waitFor('gitcell up ready', () => up.output().includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT).catch(fail);
  // A loaded machine can miss one dial's deadline: try until one connects.
  const nc = await waitFor('a connection to the cluster', () => connectFromOptions({ stateDir, name: 'e2e-autoscale' }).catch(() => undefined), 60_000);
  s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
  up.onStop(() => nc.close());

  // Step 1: the load makes the burner scale up to what the formula gives on the decision's inputs
  {
    await waitFor('burner 2/2 ready and the load running', async () => (await readyCount(s)) >= 2 && (await tasksOf(s, 'Job/default/load')).some((x) => x.status?.state === 'running'), UP_TIMEOUT).catch(fail);
    const rec = await waitFor('a scale-up decision', async () => {
      const r = await autoscaleOf(s);
      return r?.decisions.some((d) => d.desired > d.current) ? r : undefined;
    }, SCALE_TIMEOUT).catch(fail);
    const up1 = rec.decisions.find((d) => d.desired > d.current)!;
    assert.equal(up1.current, 2);
    checkFormula(up1);
    process.stderr.write(`e2e autoscale: scale-up ${JSON.stringify(up1)}\n`);
    // The controllers follow the live count: that many tasks, ready, while Git still says 2.
    await waitFor(`${up1.desired} burner tasks ready`, async () => (await readyCount(s)) >= up1.desired, SCALE_TIMEOUT).catch(fail);
    const git2 = (await s.desired.get('Job.default.burner'))?.value.object as { spec: { replicas: number } };
    assert.equal(git2.spec.replicas, 2, 'the desired object (Git) is never rewritten');
    const events = gitcell('events', '-o', 'json', '--cluster-dir', stateDir).trim().split('\n').map((l) => JSON.parse(l) as { reason: string; message: string });
    assert.ok(events.some((e) => e.reason === 'Autoscaled' && /2 -> \d/.test(e.message) && new RegExp(`cpu [\\d.]+ \\(target ${TARGET}\\)`).test(e.message)), JSON.stringify(events.filter((e) => e.reason.startsWith('Autoscale'))));
    const jobs = gitcell('get', 'jobs', '--cluster-dir', stateDir);
    assert.match(jobs, /^burner\s+service\s+\S+\s+\S+\s+\S+\s+2\s+\d+\s+\d \(2-5\)/m);
    assert.match(gitcell('describe', 'job', 'burner', '--cluster-dir', stateDir), /Decisions \(newest first\):[\s\S]*2 -> \d/);
  }

  // Step 2: without load, it returns to minReplicas, not before the scale-down window
  {
    rmSync(join(repo, 'jobs', 'load.yaml'));
    git(repo, 'commit', '-qam', 'load: stop');
    const stoppedAt = Date.now();
    const rec = await waitFor('back to 2', async () => {
      const r = await autoscaleOf(s);
      return r && r.replicas === 2 && r.decisions.some((d) => d.desired < d.current) ? r : undefined;
    }, SCALE_TIMEOUT).catch(fail);
    const down = rec.decisions.filter((d) => d.desired < d.current).at(-1)!;
    assert.ok(Date.parse(down.at) - stoppedAt >= DOWN_WINDOW_S * 1000, `scaled down ${Date.parse(down.at) - stoppedAt} ms after the load stopped: the ${DOWN_WINDOW_S} s window was not waited`);
    assert.ok(down.metrics[0]!.current! < TARGET * 0.9, `low CPU drove it: ${JSON.stringify(down.metrics)}`);
    assert.equal(down.desired, 2);
    process.stderr.write(`e2e autoscale: back to 2 ${((Date.parse(down.at) - stoppedAt) / 1000).toFixed(1)} s after the load left Git: ${JSON.stringify(down)}\n`);
    await waitFor('2 burner tasks', async () => (await tasksOf(s, 'Job/default/burner')).length === 2, SCALE_TIMEOUT).catch(fail);
  }

  // Step 3: a commit removing autoscale returns the Job to its Git replicas
  {
    writeFileSync(join(repo, 'jobs', 'burner.yaml'), dump(burnerJob(false, 3)));
    git(repo, 'commit', '-qam', 'burner: no autoscale, 3 replicas');
    await waitFor('3 burner tasks ready and the record gone', async () => (await readyCount(s)) === 3 && (await autoscaleOf(s)) === undefined, SCALE_TIMEOUT).catch(fail);
  }

  // Step 4: SIGINT stops everything
  {
    await nc.close();
    assert.equal(await interruptUp(up.child), 0, dump_());
    assert.deepEqual(leftovers(stateDir), []);
  }
});
