import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import type { Job } from '../../../api/index.ts';


import { sourceStatusKey, type SyncStatus } from '../../../reconciler/index.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { startSim } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

function gitcell(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['cli/bin.js', ...args], { env: { ...process.env, GITCELL_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const job = (image: string): string =>
  dump({
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name: 'web', namespace: 'default' },
    spec: { type: 'service', replicas: 2, template: { image, resources: { requests: { cpu: '100m', memory: '64Mi' } } } },
  } satisfies Job);

test('gitcell reconciler as a process, and the client commands against it', async (t) => {
  const { server, prefix, store } = await openTestStore(t, { tag: 'c' });
  const sim = await startSim(store, { nodes: ['n1', 'n2'] });
  t.after(() => sim.stop());
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const c1 = repo.commit({ 'web.yaml': job('web:1') }, 'add web');

  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['cli/bin.js', 'reconciler', '--repo', repo.dir, '--nats', server.url, '--prefix', prefix, '--cluster-dir', stateDir], {
    env: { ...process.env, GITCELL_LOG_LEVEL: 'warn', GITCELL_LOG_PRETTY: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });

  const status = async () => (await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined;
  await waitFor('c1 applied by the reconciler process', async () => (await status())?.lastAppliedRevision === c1, 90_000);
  await waitFor('web:1 rolled out', async () => (await store.events.recent({ prefix: 'Job.default.web' })).some((e) => e.value.reason === 'RolloutComplete'), 90_000);
  const c2 = repo.commit({ 'web.yaml': job('web:2') }, 'web: image 2');
  await waitFor('c2 applied', async () => (await status())?.lastAppliedRevision === c2, 90_000);
  await waitFor('web:2 tasks ready', async () => {
    const tasks = (await store.tasks.list()).map((r) => r.value.template.image);
    return tasks.length === 2 && tasks.every((i) => i === 'web:2');
  }, 90_000);
  const cluster = ['--nats', server.url, '--prefix', prefix];

  const st = await gitcell('status', ...cluster);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`applied revision:\\s+${c2}`));
  assert.match(st.stdout, /Ready\s+True/);

  const jobs = await gitcell('get', 'jobs', ...cluster);
  assert.match(jobs.stdout, /^NAME\s+TYPE\s+READY\s+STATUS\s+REASON/m);
  assert.match(jobs.stdout, /^web\s+service\s+2\/2\s+Complete/m);

  const tasks = await gitcell('get', 'tasks', '-o', 'json', ...cluster);
  const rows = JSON.parse(tasks.stdout) as { spec: { jobKey: string }; state: string; ready: boolean; node: string }[];
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.spec.jobKey === 'Job/default/web' && r.state === 'running' && r.ready && /^n[12]$/.test(r.node)));

  const nodes = await gitcell('get', 'nodes', ...cluster);
  assert.match(nodes.stdout, /n1\s+yes\s+enabled/);

  const desc = await gitcell('describe', 'job', 'web', ...cluster);
  assert.equal(desc.code, 0, desc.stderr);
  assert.match(desc.stdout, /^Generation:\s+2$/m);
  assert.match(desc.stdout, /^\s+Image:\s+web:2$/m);
  assert.match(desc.stdout, /RolloutComplete/);

  const hist = await gitcell('rollout', 'history', 'web', '--repo', repo.dir, '-o', 'json', ...cluster);
  const entries = JSON.parse(hist.stdout) as { commit: string; author: string; result: string; subject: string }[];
  assert.deepEqual(entries.map((e) => [e.commit, e.result, e.subject]), [[c1, 'Complete', 'add web'], [c2, 'Complete', 'web: image 2']]);
  assert.equal(entries[0]!.author, 'Test User <test@example.com>');

  const ev = await gitcell('events', '--limit', '200', ...cluster);
  assert.match(ev.stdout, /RevisionApplied/);

  // -w follows: a new commit's events arrive while it runs. It prints the latest event first and
  // then follows from that event's sequence, so nothing after it can be missed.
  const watcher = spawn(process.execPath, ['cli/bin.js', 'events', '-w', '--limit', '1', ...cluster], { stdio: ['ignore', 'pipe', 'pipe'] });
  let watched = '';
  watcher.stdout.on('data', (d: Buffer) => { watched += d.toString(); });
  const watcherExit = new Promise((resolve) => watcher.once('exit', resolve));
  t.after(async () => {
    if (watcher.exitCode === null) watcher.kill('SIGTERM');
    await watcherExit;
  });
  await waitFor('the watcher to print the latest event', async () => watched.length > 0 || undefined, 90_000);
  const c3 = repo.commit({ 'web.yaml': job('web:3') }, 'web: image 3');
  await waitFor('the followed event', async () => watched.includes(c3.slice(0, 12)) || undefined, 90_000);
  watcher.kill('SIGINT');
  await watcherExit;

  const none = await gitcell('status', '--cluster-dir', stateDir);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no running gitcell cluster/);
  const usage = await gitcell('get', 'pods', ...cluster);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown resource "pods"/);
  assert.equal(stderr.includes('    at '), false, stderr);
});
