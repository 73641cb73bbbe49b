import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';


import { sourceStatusKey, RECONCILER_LEASE, type SyncStatus } from '../../../reconciler/index.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { startSim } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

const job = (image: string) =>
  dump({ apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web' }, spec: { type: 'service', replicas: 2, template: { image, resources: { requests: { cpu: '100m', memory: '64Mi' } } } } });

test('kill -9 the leading gitcell reconciler: the standby takes over and applies the next commit', async (t) => {
  const { server, prefix, store } = await openTestStore(t, { tag: 'f' });
  const sim = await startSim(store, { nodes: ['n1'] });
  t.after(() => sim.stop());
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const c1 = repo.commit({ 'web.yaml': job('web:1') });
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));

  const procs: ChildProcess[] = [];
  const start = () => {
    const p = spawn(process.execPath, ['cli/bin.js', 'reconciler', '--repo', repo.dir, '--nats', server.url, '--prefix', prefix, '--cluster-dir', stateDir], {
      env: { ...process.env, GITCELL_LOG_LEVEL: 'warn', GITCELL_LOG_PRETTY: '0' },
      stdio: 'ignore',
    });
    procs.push(p);
    return p;
  };
  t.after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
  });
  const status = async () => (await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined;
  const holder = async () => (await store.leases.get(RECONCILER_LEASE))?.value as { holder?: string; term?: number } | undefined;

  const a = start();
  await waitFor('c1 applied by the first replica', async () => (await status())?.lastAppliedRevision === c1, 90_000);
  const first = await holder();
  assert.ok(first?.holder?.includes(`-${a.pid}-`), `lease held by the first replica: ${JSON.stringify(first)}`);
  start();
  // The standby is up when its source would have seen the branch; it must not reconcile while A leads.
  a.kill('SIGKILL');
  const c2 = repo.commit({ 'web.yaml': job('web:2') });
  await waitFor('c2 applied by the standby', async () => (await status())?.lastAppliedRevision === c2, 90_000);
  const second = await holder();
  assert.ok(second?.term !== undefined && first?.term !== undefined && second.term > first.term, `a new term: ${JSON.stringify(second)}`);
  assert.ok(!second?.holder?.includes(`-${a.pid}-`));
  await waitFor('web:2 tasks', async () => {
    const images = (await store.tasks.list()).map((r) => r.value.template.image);
    return images.length === 2 && images.every((i) => i === 'web:2');
  }, 90_000);
  // Each task id was created once: no object applied twice wrongly.
  assert.ok([...sim.creations.values()].every((n) => n === 1));
});
