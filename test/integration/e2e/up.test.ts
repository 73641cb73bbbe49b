/**
 * End to end: the real `gitcell up` (a child process: embedded nats-server with nkey users,
 * reconciler, scheduler and two agents running runc + CNI) following its copy of sample-repo, driven
 * by real `git` commits into `<state>/repo`. Steps share one cluster, in order:
 *   1. sample-repo comes up: web 3/3 ready, node-logger one task per node, the batch Job completes,
 *      `gitcell get tasks -o json` shows task states; first of all, a commit makes the cleanup
 *      CronJob run every minute (its firing is checked in step 4, so the wait overlaps 2 and 3);
 *   2. a rolling update of web (commit), then `git revert`: back to the old template;
 *   3. a broken image tag: gitcell's automatic revert commit appears and web heals;
 *   4. the CronJob fires: a Job it created ran its task to success (`get jobs -o json`, events);
 *      the schedule commit is reverted;
 *   5. drill: crash the scheduler (as kill -9 of its process: `up` hosts it, cli/up/host.ts), commit
 *      a rolling update of web, crash the reconciler mid-rollout; both held down past the rollout's progress deadline; back, the rollout completes
 *      (no revert): 3 web tasks (no extra), all on the new template, ready, the commit applied;
 *   6. drill: crash an agent (the agents share one process), held down: its tasks move; back, it stops the duplicates;
 *   7. drill: fill a node: a production task preempts a best-effort one, which waits;
 *   8. drill: NATS stopped and its data deleted: the state is rebuilt from Git and from what the
 *      agents report, and no running task is restarted (nor the finished batch Job run again);
 *   9. SIGINT: `up` exits 0 leaving no runc container, overlay mount, netns, bridge or process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/index.ts';
import { runcRootOf } from '../../../runtime/index.ts';
import { connectFromOptions, openClusterStore, type ClusterStore } from '../../../store/index.ts';
import {
  CREATED_BY_ANNOTATION,
  SCHEDULED_AT_ANNOTATION,
  cronJobRunName,
  desiredStoreKey,
  objectStatusKey,
  sourceStatusKey,
  type CronJobStatus,
  type DesiredRecord,
  type SyncRecord,
  type SyncStatus,
  type WorkloadStatus,
} from '../../../reconciler/index.ts';
import { componentIdentity } from '../../../cli/up/naming.ts';
import { readJournal } from '../../../agent/index.ts';
import type { TaskSpec, TaskStatus } from '../../../api/index.ts';
import { waitFor } from '../../helpers/agent.ts';
import { BIN, componentInstance, crashComponent, git, gitcell, interruptUp, leftovers, logTails, removeLeftovers, tasksOf, unmountBelow, webSettled, reserveSubnetBase } from '../../helpers/up.ts';

// The machine can be very loaded: generous limits, conditions rather than sleeps.
const UP_TIMEOUT = 300_000;
const ROLLOUT_TIMEOUT = 300_000;

test('gitcell up: sample-repo end to end, rolling update, revert, automatic rollback, agent kill and preemption drills, clean Ctrl-C', { timeout: 25 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-up-'));
  const repo = join(stateDir, 'repo');
  let up: ChildProcess | undefined;
  let output = '';
  let store: ClusterStore<DesiredRecord, SyncRecord> | undefined;
  let closeStore: (() => Promise<void>) | undefined;
  let cronCommit: string | undefined;
  const exited = () => new Promise<number | null>((resolve) => (up!.exitCode !== null || up!.signalCode !== null ? resolve(up!.exitCode) : up!.once('exit', (code) => resolve(code))));
  t.after(async () => {
    await closeStore?.().catch(() => undefined);
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGINT');
      const timer = setTimeout(() => up?.kill('SIGKILL'), 180_000);
      await exited();
      clearTimeout(timer);
    }
    const left = leftovers(stateDir);
    if (left.length) process.stderr.write(`e2e up: left behind (after hook), removing:\n${left.join('\n')}\n`);
    if (left.length) removeLeftovers(stateDir);
    // For diagnosing a failure: GITCELL_E2E_KEEP_LOGS=DIR keeps the components' logs there.
    if (process.env.GITCELL_E2E_KEEP_LOGS && existsSync(join(stateDir, 'logs'))) {
      cpSync(join(stateDir, 'logs'), process.env.GITCELL_E2E_KEEP_LOGS, { recursive: true });
    }
    // Whatever a failure left mounted must not outlive the test.
    unmountBelow(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  });
  const dump = () => logTails(stateDir, output);

  const started = Date.now();
  up = spawn(process.execPath, [BIN, 'up', '--cluster-dir', stateDir, '--nodes', '2', '--subnet-base', reserveSubnetBase(t, 100, 50)], { stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output += d.toString()));

  await t.test('sample-repo comes up: every task runs and is ready, one node-logger per node, the batch Job completes', async () => {
    await waitFor('gitcell up to print where things are', () => output.includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    // sample-repo's cleanup CronJob runs every few minutes; every minute from now on:
    // step 4 checks that it fired, while steps 1-3 run meanwhile.
    const cronFile = join(repo, 'cronjobs', 'cleanup.yaml');
    const cronYaml = readFileSync(cronFile, 'utf8');
    assert.match(cronYaml, /^  schedule: "[^"]+"$/m, 'sample-repo\'s cleanup CronJob has a schedule line');
    writeFileSync(cronFile, cronYaml.replace(/^  schedule: "[^"]+"$/m, '  schedule: "* * * * *"'));
    git(repo, 'commit', '-qam', 'cleanup: every minute');
    cronCommit = git(repo, 'rev-parse', 'HEAD');
    const nc = await connectFromOptions({ stateDir, name: 'e2e' });
    const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
    store = s;
    closeStore = () => nc.close();
    try {
      await waitFor('web 3/3 running and ready', () => webSettled(s, 3), UP_TIMEOUT);
      await waitFor('node-logger: one running task on each of the 2 nodes', async () => {
        const dl = await tasksOf(s, 'DaemonSet/default/node-logger');
        const nodes = new Set(dl.filter((x) => x.status?.state === 'running').map((x) => x.status!.node));
        return dl.length === 2 && nodes.size === 2;
      }, UP_TIMEOUT);
      await waitFor('monthly-report Complete with 3 successes', async () => {
        const st = (await s.sync.get(objectStatusKey('Job', 'default', 'monthly-report')))?.value as WorkloadStatus | undefined;
        return st?.batch?.phase === 'Complete' && st.batch.succeeded === 3;
      }, UP_TIMEOUT);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    }
    // The web-credentials Secret (re-sealed by `up` with the cluster key) reaches each web task as a
    // file and an env var.
    const secretReads = await waitFor('the Secret file and env var readable in the 3 web tasks', () => {
      let n = 0;
      for (const node of ['node-1', 'node-2']) {
        const root = runcRootOf(join(stateDir, 'nodes', node, 'runtime'));
        const list = (JSON.parse(execFileSync('runc', ['--root', root, 'list', '-f', 'json'], { encoding: 'utf8' })) as { id: string; status: string }[] | null) ?? [];
        for (const c of list.filter((x) => x.status === 'running')) {
          try {
            const out = execFileSync('runc', ['--root', root, 'exec', c.id, 'sh', '-c', 'test -n "$API_TOKEN" && cat /run/secrets/web/admin-password'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
            if (out.trim().length >= 16) n++;
          } catch {
            // not a web task
          }
        }
      }
      return n >= 3 ? n : undefined;
    }, 60_000);
    assert.equal(secretReads, 3);
    process.stderr.write(`e2e up: sample-repo ready ${((Date.now() - started) / 1000).toFixed(1)} s after starting gitcell up\n`);
    const rows = JSON.parse(gitcell('get', 'tasks', '-o', 'json', '--cluster-dir', stateDir)) as { spec: TaskSpec; state: string; ready: boolean; node?: string }[];
    const web = rows.filter((r) => r.spec.jobKey === 'Job/default/web');
    assert.equal(web.length, 3);
    for (const r of web) {
      assert.equal(r.state, 'running');
      assert.equal(r.ready, true);
      assert.match(r.node ?? '', /^node-[12]$/);
    }
  });

  await t.test('Prometheus, started by up, scrapes the reconciler, the scheduler and every agent it discovers', async () => {
    const url = /^ {2}prometheus {3}(http:\/\/127\.0\.0\.1:\d+)/m.exec(output)?.[1];
    assert.ok(url, `up prints where Prometheus is:\n${output}`);
    const jobs = await waitFor('every control-plane component and agent scraped and up', async () => {
      const res = await fetch(`${url}/api/v1/targets?state=active`).catch(() => undefined);
      if (!res?.ok) return undefined;
      const targets = ((await res.json()) as { data: { activeTargets: { labels: Record<string, string>; health: string }[] } }).data.activeTargets;
      const up = targets.filter((x) => x.health === 'up').map((x) => `${x.labels.job}${x.labels.node ? `/${x.labels.node}` : ''}`).sort();
      return ['gitcell-agent/node-1', 'gitcell-agent/node-2', 'gitcell-reconciler', 'gitcell-scheduler'].every((j) => up.includes(j)) ? up : undefined;
    }, 120_000);
    assert.ok(jobs.includes('gitcell-reconciler'));
    // Every task's series from its agent, under the task's own job (issue 15).
    const ready = await waitFor('gitcell_task_ready of web\'s three tasks', async () => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('gitcell_task_ready{namespace="default",job="web"}')}`).catch(() => undefined);
      const result = res?.ok ? ((await res.json()) as { data: { result: { metric: Record<string, string> }[] } }).data.result : [];
      return result.length === 3 ? result : undefined;
    }, 120_000);
    assert.ok(ready.every((r) => /^node-[12]$/.test(r.metric.node ?? '') && r.metric.task?.startsWith('default.web')), JSON.stringify(ready));
    // Alertmanager, started by up, is where Prometheus sends alerts.
    const am = /^ {2}alertmanager (http:\/\/127\.0\.0\.1:\d+)/m.exec(output)?.[1];
    assert.ok(am, `up prints where Alertmanager is:\n${output}`);
    await waitFor('Prometheus knows its Alertmanager', async () => {
      const res = await fetch(`${url}/api/v1/alertmanagers`).catch(() => undefined);
      const active = res?.ok ? ((await res.json()) as { data: { activeAlertmanagers: { url: string }[] } }).data.activeAlertmanagers : [];
      return active.some((a) => a.url.startsWith(am));
    }, 60_000);
  });

  await t.test('a rolling update of web by a commit, then git revert: back to the old template', async () => {
    const s = store!;
    const oldHash = (await webSettled(s, 3))!;
    assert.ok(oldHash, 'web settled before the update');
    const file = join(repo, 'jobs', 'web.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('value: production', 'value: staging'));
    git(repo, 'commit', '-qam', 'web: MODE=staging');
    const newHash = await waitFor('web rolled to the new template, 3/3 ready', async () => {
      const h = await webSettled(s, 3);
      return h && h !== oldHash ? h : undefined;
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    const web = await tasksOf(s, 'Job/default/web');
    assert.ok(web.every((x) => x.spec.template.env.some((e) => e.name === 'MODE' && e.value === 'staging')));
    git(repo, 'revert', '--no-edit', 'HEAD');
    await waitFor('web back on the old template, 3/3 ready', async () => (await webSettled(s, 3)) === oldHash, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    assert.notEqual(newHash, oldHash);
  });

  await t.test('a broken image tag: the automatic revert commit appears and web heals', async () => {
    const s = store!;
    const oldHash = (await webSettled(s, 3))!;
    const file = join(repo, 'jobs', 'web.yaml');
    const original = readFileSync(file, 'utf8');
    // A short progress deadline keeps the test quick; the revert restores both lines.
    writeFileSync(file, original.replace('image: localhost/busybox:latest', 'image: localhost/busybox:no-such-tag').replace('progressDeadlineSeconds: 120', 'progressDeadlineSeconds: 20'));
    git(repo, 'commit', '-qam', 'web: a tag that does not exist');
    const broken = git(repo, 'rev-parse', 'HEAD');
    const revert = await waitFor('gitcell to commit a revert of the broken commit', () => {
      const log = git(repo, 'log', '--format=%H%x00%an%x00%B%x1e', '-n', '5').split('\x1e').map((e) => e.trim()).filter(Boolean);
      return log.map((e) => e.split('\0')).find(([sha, , body]) => sha !== broken && (body ?? '').includes(broken));
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    assert.match(revert[2]!, /^Revert "web: a tag that does not exist"/);
    assert.equal(git(repo, 'show', `${revert[0]}:jobs/web.yaml`), original.trimEnd(), 'the revert commit restores the file');
    // The branch moves first, then the (clean) working tree is checked out: give it a moment.
    await waitFor('the working tree to follow the revert', () => readFileSync(file, 'utf8') === original, 60_000);
    await waitFor('web healed: old template, 3/3 ready', async () => (await webSettled(s, 3)) === oldHash, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
  });

  await t.test('the CronJob fires: a Job it created ran its task to success', async () => {
    const s = store!;
    assert.ok(cronCommit, 'step 1 committed the every-minute schedule');
    const createdBy = 'CronJob/default/cleanup';
    // Jobs of a CronJob are named <cronjob>-<minutes since epoch of the tick> and annotated with it.
    const fired = await waitFor('a Job created by the cleanup CronJob to complete with 1 success', async () => {
      for (const rec of await s.desired.list()) {
        const o = rec.value.object;
        if (o.kind !== 'Job' || o.metadata.annotations?.[CREATED_BY_ANNOTATION] !== createdBy) continue;
        const st = (await s.sync.get(objectStatusKey('Job', 'default', o.metadata.name)))?.value as WorkloadStatus | undefined;
        if (st?.batch?.phase === 'Complete' && st.batch.succeeded === 1) return { name: o.metadata.name, scheduledAt: o.metadata.annotations[SCHEDULED_AT_ANNOTATION] ?? '' };
      }
      return undefined;
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    assert.equal(fired.name, cronJobRunName('cleanup', new Date(fired.scheduledAt)), 'the Job is named after its tick');
    // The same, as a user sees it through the CLI.
    const jobs = JSON.parse(gitcell('get', 'jobs', '-o', 'json', '--cluster-dir', stateDir)) as { object: { metadata: { name: string; annotations?: Record<string, string> } }; status?: WorkloadStatus }[];
    const job = jobs.find((j) => j.object.metadata.name === fired.name);
    assert.ok(job, `gitcell get jobs lists ${fired.name}`);
    assert.equal(job.object.metadata.annotations?.[CREATED_BY_ANNOTATION], createdBy);
    assert.equal(job.status?.batch?.phase, 'Complete');
    assert.equal(job.status?.batch?.succeeded, 1);
    const cronjobs = JSON.parse(gitcell('get', 'cronjobs', '-o', 'json', '--cluster-dir', stateDir)) as { object: { metadata: { name: string } }; status?: CronJobStatus }[];
    const cj = cronjobs.find((c) => c.object.metadata.name === 'cleanup');
    assert.ok(cj?.status?.lastScheduleTime && cj.status.lastSuccessfulTime, `the CronJob's status records its runs: ${JSON.stringify(cj?.status)}`);
    const events = gitcell('events', '--limit', '2000', '--cluster-dir', stateDir);
    assert.match(events, new RegExp(`SuccessfulCreate.*created Job ${fired.name} `), `the CronJob's SuccessfulCreate event\n${events.slice(-3000)}`);
    // Back to sample-repo's schedule, so the drills below are not crossed by a run every minute.
    git(repo, 'revert', '--no-edit', cronCommit);
    const schedule = /^  schedule: "([^"]+)"$/m.exec(readFileSync(join(repo, 'cronjobs', 'cleanup.yaml'), 'utf8'))?.[1];
    await waitFor(`the CronJob back on "${schedule}"`, async () => {
      const rec = await s.desired.get(desiredStoreKey('CronJob/default/cleanup'));
      return (rec?.value.object.spec as { schedule?: string } | undefined)?.schedule === schedule;
    }, ROLLOUT_TIMEOUT);
  });

  await t.test('drill: kill -9 the reconciler and the scheduler mid-rollout, held down: back, the rollout completes', async (drill) => {
    const s = store!;
    const oldHash = (await webSettled(s, 3))!;
    assert.ok(oldHash, 'web settled before the drill');
    const leaseBefore = new Map<string, number>();
    for (const name of ['reconciler', 'scheduler']) {
      const lease = (await s.leases.get(name))!.value;
      assert.equal(lease.holder, componentIdentity(stateDir, name), `${name} leads under its up identity`);
      leaseBefore.set(name, lease.term);
    }
    const pids = join(stateDir, 'pids');
    // Each runs in up's process: a crash closes its connections at once and cleans nothing up, as kill -9 of its own process did.
    const killed = new Map<string, string>();
    // Released however this drill ends: a failure here must not leave the later drills without them.
    drill.after(() => { for (const name of killed.keys()) rmSync(join(pids, `${name}.hold`), { force: true }); });
    const holdAndKill = (name: string) => {
      writeFileSync(join(pids, `${name}.hold`), '');
      killed.set(name, crashComponent(stateDir, name));
    };
    // The scheduler first: the rollout's new tasks then stay unplaced, so once the reconciler is down
    // too nothing at all can progress, however long they stay down.
    holdAndKill('scheduler');
    // The crash request is taken asynchronously: a scheduler still running when the commit lands
    // places and starts the new tasks, and the rollout may finish before the reconciler goes down.
    await waitFor('the supervisor to hold the scheduler down', () => output.includes('"msg":"scheduler held down until its hold file is removed"'), 60_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    const file = join(repo, 'jobs', 'web.yaml');
    const original = readFileSync(file, 'utf8');
    const deadlineS = 60;
    writeFileSync(file, original.replace('value: production', 'value: drill').replace(/progressDeadlineSeconds: \d+/, `progressDeadlineSeconds: ${deadlineS}`));
    git(repo, 'commit', '-qam', 'web: MODE=drill');
    const commit = git(repo, 'rev-parse', 'HEAD');
    // Mid-rollout: tasks of the new template exist while old ones are still there, and the
    // reconciler has recorded the rollout of this commit.
    const mid = await waitFor('the rollout in progress: new-template web tasks beside old ones', async () => {
      const st = (await s.sync.get(objectStatusKey('Job', 'default', 'web')))?.value as WorkloadStatus | undefined;
      if (st?.rollout?.revision !== commit || st.rollout.phase !== 'Progressing') return undefined;
      const web = await tasksOf(s, 'Job/default/web');
      const fresh = web.filter((x) => x.spec.templateHash !== oldHash);
      const old = web.filter((x) => x.spec.templateHash === oldHash);
      return fresh.length > 0 && old.length > 0 ? { fresh: fresh.length, ready: fresh.filter((x) => x.status?.ready).length, old: old.length } : undefined;
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    holdAndKill('reconciler');
    const killedAt = Date.now();
    process.stderr.write(`e2e up: killed the scheduler, then mid-rollout the reconciler (${mid.fresh} new web tasks, ${mid.ready} ready; ${mid.old} old)\n`);
    // Down and held: the supervisor saw each crash and keeps it down while its hold file exists.
    await waitFor('the supervisor to hold the reconciler and the scheduler down', () => ['reconciler', 'scheduler'].every((n) => output.includes(`"msg":"${n} held down until its hold file is removed"`)), 60_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    for (const [name, instance] of killed) {
      assert.ok(!existsSync(join(pids, `${name}.crash`)), `${name} crashed (its crash request was taken)`);
      assert.equal(componentInstance(stateDir, name), instance, `${name} was not restarted while held`);
    }
    // Down past the rollout's progress deadline, as its recorded last progress says: a restarted
    // reconciler must not judge the rollout stalled for the time nobody ran (and revert the commit).
    const lastProgressAt = Date.parse(((await s.sync.get(objectStatusKey('Job', 'default', 'web')))?.value as WorkloadStatus).rollout!.lastProgressAt);
    await waitFor(`the ${deadlineS} s progress deadline passed since the rollout's last recorded progress`, () => Date.now() > lastProgressAt + (deadlineS + 2) * 1000, (deadlineS + 60) * 1000);
    // Only the reconciler writes tasks: with it down the rollout cannot have finished.
    const during = await tasksOf(s, 'Job/default/web');
    assert.ok(during.some((x) => x.spec.templateHash === oldHash), 'old-template web tasks remain while the reconciler is down');
    for (const name of ['reconciler', 'scheduler']) rmSync(join(pids, `${name}.hold`));
    const releasedAt = Date.now();
    // When each came back (a new pid) and led again (a raised lease term), for the report below.
    const back = new Map<string, { restarted?: number; leading?: number }>([['reconciler', {}], ['scheduler', {}]]);
    await waitFor('the reconciler and the scheduler restarted and leading again (lease terms raised)', async () => {
      for (const [name, at] of back) {
        if (at.restarted === undefined && componentInstance(stateDir, name) !== killed.get(name)) at.restarted = Date.now();
        if (at.restarted !== undefined && at.leading === undefined && (await s.leases.get(name))!.value.term > leaseBefore.get(name)!) at.leading = Date.now();
      }
      return [...back.values()].every((at) => at.leading !== undefined);
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    const secs = (t: number | undefined) => (((t ?? NaN) - releasedAt) / 1000).toFixed(1);
    process.stderr.write(`e2e up: after their release: ${[...back].map(([n, at]) => `${n} restarted ${secs(at.restarted)} s, leading ${secs(at.leading)} s`).join('; ')}\n`);
    const revertOf = () => git(repo, 'log', '--format=%H %s', '-n', '10').split('\n').find((l) => l.includes('Revert "web: MODE=drill"'));
    const done = await waitFor('the rollout complete: exactly 3 web tasks, all on the new template, running and ready (or a revert)', async () => {
      const reverted = revertOf();
      if (reverted) return { reverted };
      const h = await webSettled(s, 3);
      return h && h !== oldHash ? { hash: h } : undefined;
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    assert.equal(done.reverted, undefined, `the restarted reconciler failed the rollout and reverted the commit\n${dump()}`);
    const newHash = done.hash!;
    process.stderr.write(`e2e up: rollout complete ${((Date.now() - releasedAt) / 1000).toFixed(1)} s after the reconciler and the scheduler were released (${((Date.now() - killedAt) / 1000).toFixed(1)} s after kill -9)\n`);
    const web = await tasksOf(s, 'Job/default/web');
    assert.equal(web.length, 3, 'no duplicate or extra web task');
    assert.equal(new Set(web.map((x) => x.spec.index)).size, 3, 'one task per index');
    assert.ok(web.every((x) => x.spec.template.env.some((e) => e.name === 'MODE' && e.value === 'drill')));
    const st = (await s.sync.get(objectStatusKey('Job', 'default', 'web')))?.value as WorkloadStatus | undefined;
    assert.equal(st?.rollout?.templateHash, newHash);
    await waitFor('the web rollout recorded Complete', async () => ((await s.sync.get(objectStatusKey('Job', 'default', 'web')))?.value as WorkloadStatus | undefined)?.rollout?.phase === 'Complete', 60_000);
    const sources = (JSON.parse(gitcell('status', '-o', 'json', '--cluster-dir', stateDir)) as { sources: SyncStatus[] }).sources;
    const main = sources.find((x) => x.source === 'main');
    assert.equal(main?.lastAppliedRevision, commit, 'gitcell status: the drill commit applied');
    assert.deepEqual(main?.failedRollouts.filter((r) => r.revision === commit), [], 'no failed rollout of the drill commit');
    assert.equal(revertOf(), undefined, 'no revert commit');
    // The restarted instances lead again under the identity `up` gives each component (so they took
    // their lease back at once, not after a lease period); every takeover raises the term (the
    // fencing token).
    for (const name of ['reconciler', 'scheduler']) {
      const lease = (await s.leases.get(name))!.value;
      assert.equal(lease.holder, componentIdentity(stateDir, name));
      assert.ok(lease.term > leaseBefore.get(name)!, `${name} lease term ${lease.term} > ${leaseBefore.get(name)} before the kill`);
    }
  });

  await t.test('drill: kill -9 an agent and keep it down: its web tasks move to the other node; back, it stops the duplicates', async (drill) => {
    const s = store!;
    const bindings = await s.bindings.list();
    const web = await tasksOf(s, 'Job/default/web');
    const on = (node: string) => web.filter((x) => bindings.find((b) => b.key === x.spec.id)?.value.node === node).length;
    const victim = on('node-1') >= on('node-2') ? 'node-1' : 'node-2';
    const survivor = victim === 'node-1' ? 'node-2' : 'node-1';
    const pids = join(stateDir, 'pids');
    writeFileSync(join(pids, `agent-${victim}.hold`), '');
    drill.after(() => rmSync(join(pids, `agent-${victim}.hold`), { force: true }));
    // The agents share one process: the victim alone crashes, as kill -9 of its own process did.
    crashComponent(stateDir, `agent-${victim}`);
    const killedAt = Date.now();
    await waitFor(`web 3/3 ready, all on ${survivor}`, async () => {
      const now = await tasksOf(s, 'Job/default/web');
      const b = new Map((await s.bindings.list()).map((x) => [x.key, x.value.node]));
      return now.length === 3 && now.every((x) => b.get(x.spec.id) === survivor && x.status?.state === 'running' && x.status.ready);
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    process.stderr.write(`e2e up: web rescheduled off ${victim} ${((Date.now() - killedAt) / 1000).toFixed(1)} s after kill -9 of its agent\n`);
    // The killed agent's containers still run (the agent died, not the node): once back, the agent
    // stops every task no longer bound to it.
    rmSync(join(pids, `agent-${victim}.hold`));
    const runcRoot = runcRootOf(join(stateDir, 'nodes', victim, 'runtime'));
    await waitFor(`${victim} back, running only the tasks bound to it`, async () => {
      const bound = (await s.bindings.list()).filter((b) => b.value.node === victim).length;
      const running = execFileSync('runc', ['--root', runcRoot, 'list', '-f', 'json'], { encoding: 'utf8' });
      const n = ((JSON.parse(running) as { status: string }[] | null) ?? []).filter((c) => c.status === 'running').length;
      return n === bound && bound >= 1; // its node-logger
    }, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
  });

  await t.test('drill: fill a node: a production task preempts a best-effort one, which waits with a reason', async () => {
    const s = store!;
    // 930Mi of each simulated node's 1Gi: at most one node (the one with the fewest web tasks: 1Gi
    // less 64Mi of web, 8Mi of node-logger, perhaps 4Mi of web-client and 8Mi of a cleanup run)
    // fits either task, so the production one can only run by preempting the best-effort one.
    const job = (name: string, priority: string) => [
      'apiVersion: gitcell.io/v1', 'kind: Job', `metadata: {name: ${name}}`, 'spec:', '  owner: e2e', '  type: service', '  replicas: 1',
      `  priority: ${priority}`, '  template:', '    image: localhost/busybox:latest', '    command: ["sh", "-c", "exec sleep 100000"]',
      '    resources:', '      requests: {cpu: 10m, memory: 930Mi}', '    terminationGracePeriodSeconds: 1', '',
    ].join('\n');
    const running = async (jobKey: string) => {
      const b = new Map((await s.bindings.list()).map((x) => [x.key, x.value.node]));
      return (await tasksOf(s, jobKey)).find((x) => b.has(x.spec.id) && x.status?.state === 'running');
    };
    writeFileSync(join(repo, 'jobs', 'filler.yaml'), job('filler', 'best-effort'));
    git(repo, 'add', 'jobs/filler.yaml');
    git(repo, 'commit', '-qm', 'filler: a best-effort task taking most of a node');
    const filler = await waitFor('the best-effort filler running', () => running('Job/default/filler'), ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    writeFileSync(join(repo, 'jobs', 'important.yaml'), job('important', 'production'));
    git(repo, 'add', 'jobs/important.yaml');
    git(repo, 'commit', '-qm', 'important: a production task that needs the same room');
    const important = await waitFor('the production task running', () => running('Job/default/important'), ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    assert.equal(important.status!.node, filler.status!.node, 'it took the filler\'s node');
    await waitFor('the filler unbound (preempted) and not running anywhere', async () => !(await running('Job/default/filler')), ROLLOUT_TIMEOUT);
    const events = gitcell('events', '--limit', '500', '--cluster-dir', stateDir);
    assert.match(events, /Preempted/, `a Preempted event\n${events.slice(-3000)}`);
    await waitFor('a FailedScheduling event saying why the filler waits', () => /FailedScheduling[^\n]*filler|filler[^\n]*FailedScheduling/.test(gitcell('events', '--limit', '500', '--cluster-dir', stateDir)), 120_000);
  });

  await t.test('drill: stop NATS and delete its data: the state is rebuilt from Git and the agents, no running task restarted', async () => {
    const s = store!;
    // What runs now (CronJob runs aside: a run's Job lives only in the store, so it is not rebuilt).
    const fromGit = (jobKey: string) => !/^Job\/[^/]+\/cleanup-/.test(jobKey);
    await waitFor('web 3/3, a node-logger on each node and the production task running', async () => {
      const dl = (await tasksOf(s, 'DaemonSet/default/node-logger')).filter((x) => x.status?.state === 'running');
      const important = (await tasksOf(s, 'Job/default/important')).filter((x) => x.status?.state === 'running');
      return (await webSettled(s, 3)) && dl.length === 2 && important.length === 1;
    }, ROLLOUT_TIMEOUT);
    const specs = new Map((await s.tasks.list()).map((r) => [r.key, r.value]));
    const before = (await s.status.list()).map((r) => r.value).filter((st) => {
      const spec = specs.get(st.taskId);
      return spec && fromGit(spec.jobKey) && (st.state === 'running' || st.state === 'succeeded');
    });
    const running = before.filter((st) => st.state === 'running');
    assert.ok(running.length >= 6, `web, node-logger and the preemption drill's task run (${running.map((r) => r.taskId).join(', ')})`);
    const head = git(repo, 'rev-parse', 'HEAD');
    // The batch Job finished long ago: its tasks are deleted, and each agent keeps a record of what it
    // ran to completion (<node>/completed/). After the rebuild nothing of it may run again.
    const completedRuns = () => {
      const out: string[] = [];
      for (const node of ['node-1', 'node-2']) {
        for (const t of readJournal(join(stateDir, 'nodes', node, 'completed')).values()) {
          if (t.taskId.startsWith('default.monthly-report.')) out.push(`${node}/${t.taskId}@${t.startedAt}`);
        }
      }
      return out.sort();
    };
    const reportRuns = completedRuns();
    assert.equal(reportRuns.length, 3, `the batch Job's 3 completed tasks are on record: ${reportRuns.join(', ')}`);

    // Stop NATS for good, wipe its data, then let `gitcell up` start it again (same port, empty).
    const pids = join(stateDir, 'pids');
    writeFileSync(join(pids, 'nats.hold'), '');
    const natsPid = (JSON.parse(readFileSync(join(stateDir, 'nats.pid'), 'utf8')) as { server: number }).server;
    process.kill(natsPid, 'SIGKILL');
    await waitFor('nats-server gone', () => !existsSync(`/proc/${natsPid}`), 30_000);
    rmSync(join(stateDir, 'nats', 'jetstream'), { recursive: true, force: true });
    const wipedAt = Date.now();
    rmSync(join(pids, 'nats.hold'));

    // Why the state is not rebuilt yet, or undefined once it is: a timeout names the task and what differs.
    let lastMiss = '';
    const rebuiltMiss = async (): Promise<string | undefined> => {
      const sync = (await s.sync.get(sourceStatusKey('main')))?.value as { lastAppliedRevision?: string } | undefined;
      if (sync?.lastAppliedRevision !== head) return `HEAD ${head} not applied (last applied ${sync?.lastAppliedRevision})`;
      const [tasks, bindings, statuses] = await Promise.all([s.tasks.list(), s.bindings.list(), s.status.list()]);
      const taskIds = new Set(tasks.map((t) => t.key));
      const nodeOf = new Map(bindings.map((b) => [b.key, b.value.node]));
      const statusOf = new Map(statuses.map((r) => [r.key, r.value]));
      for (const st of before) {
        if (!taskIds.has(st.taskId)) return `${st.taskId} not re-created (tasks: ${[...taskIds].sort().join(', ')})`;
        if (nodeOf.get(st.taskId) !== st.node) return `${st.taskId} bound to ${nodeOf.get(st.taskId)}, ran on ${st.node}`;
        const now = statusOf.get(`${st.node}.${st.taskId}`);
        if (!now || now.unclaimed || now.state !== st.state) return `${st.taskId} on ${st.node}: status ${now ? `${now.state}${now.unclaimed ? ' unclaimed' : ''}` : 'missing'}, was ${st.state}`;
      }
      return undefined;
    };
    const rebuilt = async () => {
      const miss = await rebuiltMiss();
      lastMiss = miss ?? '';
      return miss === undefined;
    };
    await waitFor('the state rebuilt: HEAD applied, every task that ran before re-created under its id and bound to its node', rebuilt, ROLLOUT_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}; last: ${lastMiss}\n${dump()}`);
    });
    process.stderr.write(`e2e up: state rebuilt from Git and the agents ${((Date.now() - wipedAt) / 1000).toFixed(1)} s after NATS lost its data\n`);
    // No running task was restarted: same process, same start time, same restart count.
    const statusOf = new Map((await s.status.list()).map((r) => [r.key, r.value]));
    for (const st of running) {
      const now = statusOf.get(`${st.node}.${st.taskId}`)!;
      assert.equal(now.pid, st.pid, `${st.taskId}: same process`);
      assert.equal(now.startedAt, st.startedAt, `${st.taskId}: same start`);
      assert.equal(now.restarts, st.restarts, `${st.taskId}: no restart`);
      assert.ok(existsSync(`/proc/${st.pid}`), `${st.taskId}: pid ${st.pid} alive`);
    }
    // Nothing started twice: exactly the tasks from before for web and the DaemonSet, the batch Job
    // still Complete with its same three tasks (not run again).
    const web = await tasksOf(s, 'Job/default/web');
    assert.deepEqual(web.map((x) => x.spec.id).sort(), before.filter((b) => specs.get(b.taskId)?.jobKey === 'Job/default/web').map((b) => b.taskId).sort());
    assert.equal((await tasksOf(s, 'DaemonSet/default/node-logger')).length, 2);
    await waitFor('monthly-report Complete again with its 3 successes', async () => {
      const st = (await s.sync.get(objectStatusKey('Job', 'default', 'monthly-report')))?.value as WorkloadStatus | undefined;
      return st?.batch?.phase === 'Complete' && st.batch.succeeded === 3;
    }, ROLLOUT_TIMEOUT);
    // ...from the same three runs (the same task ids and start times), not by running it again.
    await waitFor('the batch tasks deleted again after completion', async () => (await tasksOf(s, 'Job/default/monthly-report')).length === 0, ROLLOUT_TIMEOUT);
    // (The agents file the records again as they forget the deleted tasks.)
    await waitFor(`the same 3 completed runs on record, no other: ${reportRuns.join(', ')}`, () => JSON.stringify(completedRuns()) === JSON.stringify(reportRuns), 60_000).catch((err) => {
      throw new Error(`${(err as Error).message}; on record now: ${completedRuns().join(', ')}`);
    });
    await waitFor('web 3/3 ready on the rebuilt store', () => webSettled(s, 3), ROLLOUT_TIMEOUT);
  });

  await t.test('SIGINT stops everything, a held-down agent\'s tasks too: no container, mount, netns or process left', async () => {
    await closeStore?.();
    closeStore = undefined;
    // node-2's agent crashed and held down, its tasks running: up starts it once more to stop them.
    const pids = join(stateDir, 'pids');
    const agentsLog = join(stateDir, 'logs', 'agents.log');
    const heldLines = () => readFileSync(agentsLog, 'utf8').split('"msg":"agent-node-2 held down until its hold file is removed"').length - 1;
    const heldBefore = heldLines(); // the agent drill held it down once already
    writeFileSync(join(pids, 'agent-node-2.hold'), '');
    crashComponent(stateDir, 'agent-node-2');
    await waitFor('agent-node-2 held down', () => heldLines() > heldBefore, 60_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
    // interruptUp SIGKILLs after 180 s ('killed') and leaves no timer behind to keep the test file running.
    const code = await interruptUp(up!);
    assert.equal(code, 0, `gitcell up exit code\n${dump()}`);
    assert.match(output, /gitcell up: stopped/);
    assert.deepEqual(leftovers(stateDir), []);
    assert.match(readFileSync(agentsLog, 'utf8'), /agent-node-2 is down: starting it once more to stop it cleanly/);
  });
});
