/**
 * Failure drill: the real `gitcell up --nats <3 servers> --creds <nkey seed> --replicas 3` (a child
 * process: reconciler, scheduler and two agents running runc + CNI) on a real three-server JetStream
 * cluster that admits only that nkey, driven by a real `git` commit into `<state>/repo`:
 *   1. sample-repo comes up on R3 buckets (so every component got the credentials), and a client
 *      command does not scale them down;
 *   2. a rolling update of web; while it is in progress, kill -9 the NATS server leading the tasks
 *      bucket: the rollout completes (every web task on the new template, running and ready) and
 *      the source's status shows the commit applied;
 *   3. the killed server returns and catches up; SIGINT: `up` exits 0 leaving no process, runc
 *      container, mount, netns, bridge or cgroup behind.
 * It runs next to up.test.ts (the runner runs 3 files at once): another state dir and subnet base,
 * so the two clusters share no machine-global name (cli/up/naming.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createUser } from '@nats-io/nkeys';
import { jetstreamManager } from '@nats-io/jetstream';
import { silentLogger } from '../../../lib/index.ts';
import { connect, openClusterStore } from '../../../store/index.ts';
import type { DesiredRecord, SyncRecord, SyncStatus } from '../../../reconciler/index.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startNatsCluster, type NatsCluster } from '../../helpers/nats.ts';
import { BIN, git, gitcell, interruptUp, leftovers, removeLeftovers, logTails, tasksOf, unmountBelow, webSettled, type UpStore, reserveSubnetBase } from '../../helpers/up.ts';

// The machine can be very loaded (and R3 writes cost more): generous limits, conditions, no sleeps.
const UP_TIMEOUT = 300_000;
const ROLLOUT_TIMEOUT = 300_000;
const PREFIX = 'gitcell_';

test('gitcell up on a 3-server NATS cluster, R3: kill -9 the tasks bucket\'s leader mid-rollout, the rollout completes; clean Ctrl-C', { timeout: 25 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-upnats-'));
  const repo = join(stateDir, 'repo');
  let cluster: NatsCluster | undefined;
  let up: ChildProcess | undefined;
  let output = '';
  let closeStore: (() => Promise<void>) | undefined;
  // One hook, in order: `up` stops while NATS still runs (its agents clear their status there), then NATS.
  t.after(async () => {
    await closeStore?.().catch(() => undefined);
    if (up) await interruptUp(up);
    const left = leftovers(stateDir);
    if (left.length) process.stderr.write(`e2e up-nats: left behind (after hook), removing:\n${left.join('\n')}\n`);
    if (left.length) removeLeftovers(stateDir);
    unmountBelow(stateDir);
    await cluster?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });
  const dump = () => logTails(stateDir, output);
  const explain = (err: unknown): never => {
    throw new Error(`${(err as Error).message}\n${dump()}`);
  };
  // Waits fail at once, with the logs, if `up` itself exits.
  const upGone = () => (up && (up.exitCode !== null || up.signalCode !== null) ? `gitcell up exited (${up.exitCode ?? up.signalCode})` : undefined);

  // The cluster admits one nkey user (full access) and, without credentials, a user for the helper's
  // readiness checks (JetStream info, create and delete a stream; no KV reads or writes, no
  // watches): a component started without --creds could not do its work.
  const control = createUser();
  const creds = join(stateDir, 'external-nats.nk');
  writeFileSync(creds, `${new TextDecoder().decode(control.getSeed())}\n`, { mode: 0o600 });
  const probe = { publish: { allow: ['$JS.API.INFO', '$JS.API.STREAM.CREATE.*', '$JS.API.STREAM.DELETE.*'] }, subscribe: { allow: ['_INBOX.>'] } };
  const users = [{ nkey: control.getPublicKey() }, { user: 'probe', password: randomBytes(16).toString('hex'), permissions: probe }];
  cluster = await startNatsCluster({ extraConfig: `authorization ${JSON.stringify({ users })}\nno_auth_user: probe` });
  const nats = cluster.url;
  const started = Date.now();
  // 10.250-254: up.test.ts uses 10.100-149, the agent tests 10.150-199, the CNI tests 10.200-249.
  up = spawn(process.execPath, [BIN, 'up', '--nats', nats, '--creds', creds, '--replicas', '3', '--cluster-dir', stateDir, '--nodes', '2', '--subnet-base', reserveSubnetBase(t, 250, 5)], { stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output += d.toString()));

  const nc = await connect({ servers: nats, creds, name: 'e2e up-nats' });
  closeStore = () => nc.close();
  // Opened without a replica count: reads only, never rescales what `up` created.
  let store: UpStore | undefined;
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const replicaCounts = async () => {
    const out: Record<string, number> = {};
    for await (const s of jsm.streams.list()) if (s.config.name.includes(PREFIX)) out[s.config.name] = s.config.num_replicas;
    return out;
  };

  await t.test('sample-repo comes up on R3 buckets; a client command leaves them R3', async () => {
    await waitFor('gitcell up to print where things are', () => output.includes(`npx gitcell get tasks --cluster-dir ${stateDir}`), { timeoutMs: UP_TIMEOUT, gaveUp: upGone }).catch(explain);
    assert.match(output, /replicas 3/, 'up reports the replica count');
    store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: PREFIX, log: silentLogger() });
    await waitFor('web 3/3 running and ready', () => webSettled(store!, 3), { timeoutMs: UP_TIMEOUT, gaveUp: upGone }).catch(explain);
    process.stderr.write(`e2e up-nats: sample-repo ready ${((Date.now() - started) / 1000).toFixed(1)} s after starting gitcell up\n`);
    const counts = await replicaCounts();
    // 8 KV buckets, the events stream and one Secret bucket per node.
    assert.ok(Object.keys(counts).length >= 11, `the cluster's streams: ${JSON.stringify(counts)}`);
    for (const [name, n] of Object.entries(counts)) assert.equal(n, 3, `${name} is R3`);
    // A client opens the store without a replica count: it must not scale the cluster's buckets.
    // It finds the external cluster through up's state dir (cluster.json) like an embedded one.
    const rows = JSON.parse(gitcell('get', 'tasks', '-o', 'json', '--cluster-dir', stateDir)) as { spec: { jobKey: string } }[];
    assert.equal(rows.filter((r) => r.spec.jobKey === 'Job/default/web').length, 3);
    assert.deepEqual(await replicaCounts(), counts, 'still R3 after `gitcell get tasks`');
  });

  await t.test('kill -9 the NATS server leading the tasks bucket mid-rollout: the rollout completes and the commit is applied', async () => {
    const s = store!;
    const oldHash = (await webSettled(s, 3))!;
    assert.ok(oldHash, 'web settled before the update');
    // The new template takes a few seconds to become ready (a slow start inside the container), so
    // the rollout is surely still in progress when the new tasks first appear.
    const file = join(repo, 'jobs', 'web.yaml');
    const original = readFileSync(file, 'utf8');
    const updated = original
      .replace('value: production', 'value: drill')
      .replace('- echo "hello from gitcell"', '- sleep 3 && echo "hello from gitcell"');
    assert.notEqual(updated, original, 'sample web.yaml has the lines the drill edits');
    writeFileSync(file, updated);
    git(repo, 'commit', '-qam', 'web: MODE=drill, slower start');
    const commit = git(repo, 'rev-parse', 'HEAD');

    const inProgress = await waitFor('the rollout in progress: a new-template web task exists, not all are new and ready', async () => {
      const web = await tasksOf(s, 'Job/default/web');
      const fresh = web.filter((x) => x.spec.templateHash !== oldHash);
      const done = web.length === 3 && fresh.length === 3 && fresh.every((x) => x.status?.state === 'running' && x.status.ready);
      return fresh.length >= 1 && !done ? { total: web.length, fresh: fresh.length, ready: fresh.filter((x) => x.status?.ready).length } : undefined;
    }, { timeoutMs: ROLLOUT_TIMEOUT, gaveUp: upGone }).catch(explain);

    const leader = (await jsm.streams.info(`KV_${PREFIX}tasks`)).cluster?.leader;
    const victim = cluster!.servers.findIndex((x) => x.name === leader);
    assert.ok(victim >= 0, `the tasks bucket's leader ${leader} is one of ${cluster!.servers.map((x) => x.name).join(', ')}`);
    await cluster!.kill(victim);
    const killedAt = Date.now();
    process.stderr.write(`e2e up-nats: killed ${leader} (leader of KV_${PREFIX}tasks) mid-rollout: ${JSON.stringify(inProgress)}\n`);

    const newHash = await waitFor('web rolled to the new template: 3/3 running and ready', async () => {
      const h = await webSettled(s, 3);
      return h && h !== oldHash ? h : undefined;
    }, { timeoutMs: ROLLOUT_TIMEOUT, gaveUp: upGone }).catch(explain);
    const restarts = output.split('\n').filter((l) => l.includes('exited; restarting')).length;
    process.stderr.write(`e2e up-nats: rollout complete ${((Date.now() - killedAt) / 1000).toFixed(1)} s after kill -9 of ${leader}; components restarted by up: ${restarts}\n`);
    const web = await tasksOf(s, 'Job/default/web');
    assert.equal(web.length, 3);
    for (const x of web) {
      assert.equal(x.spec.templateHash, newHash);
      assert.ok(x.spec.template.env.some((e) => e.name === 'MODE' && e.value === 'drill'), `task ${x.spec.id} runs MODE=drill`);
    }
    const applied = await waitFor('the source status: the commit applied', () => {
      const sources = (JSON.parse(gitcell('status', '-o', 'json', '--nats', nats, '--creds', creds)) as { sources: SyncStatus[] }).sources;
      return sources.find((x) => x.lastAppliedRevision === commit);
    }, { timeoutMs: ROLLOUT_TIMEOUT, intervalMs: 1000, gaveUp: upGone }).catch(explain);
    assert.equal(applied.lastAttemptedRevision, commit);
    assert.equal(applied.failedRollouts.filter((f) => f.revision === commit).length, 0, 'no failed rollout of the commit');

    // The killed server returns and catches up with the stream it led.
    await cluster!.restart(victim);
    await waitFor(`${leader} back, every replica of the tasks bucket current`, async () => {
      const c = (await jsm.streams.info(`KV_${PREFIX}tasks`)).cluster;
      return c && (c.replicas ?? []).length === 2 && c.replicas!.every((r) => r.current) && [c.leader, ...c.replicas!.map((r) => r.name)].includes(leader!);
    }, ROLLOUT_TIMEOUT).catch(explain);
  });

  await t.test('SIGINT stops everything: no process, container, mount, netns, bridge or cgroup left', async () => {
    await closeStore?.();
    closeStore = undefined;
    const code = await interruptUp(up!);
    assert.equal(code, 0, `gitcell up exit code (SIGKILLed after 180 s if 'killed')\n${dump()}`);
    assert.match(output, /gitcell up: stopped/);
    assert.deepEqual(leftovers(stateDir), []);
    assert.equal(existsSync(join(stateDir, 'cluster.json')), false, 'the pointer to the NATS cluster goes with up');
  });
});
