// After NATS lost its data the controllers wait for the nodes before creating tasks, so the agents'
// unclaimed reports are seen and running tasks are adopted, not started twice (store/REBUILD.md).
// The reconcile loop writes the source's status during that wait; a leadership term that ends
// mid-wait must not let the next term take that status for "settled" and create every task at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dump } from 'js-yaml';

import { sourceStatusKey, RECONCILER_LEASE, SETTLED_KEY, type SyncStatus } from '../../../reconciler/index.ts';
import { connect, probeIncarnation } from '../../../store/index.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { nodeRecord } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

const job = dump({ apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web' }, spec: { type: 'service', replicas: 2, template: { image: 'web:1', resources: { requests: { cpu: '100m', memory: '64Mi' } } } } });

test('a reconciler term that ends while the controllers wait for the nodes: the next term waits too', async (t) => {
  const { server, prefix, store } = await openTestStore(t, { tag: 's' });
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const c1 = repo.commit({ 'web.yaml': job });
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-settle-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));

  const procs: { p: ChildProcess; out: string[] }[] = [];
  const start = () => {
    const p = spawn(process.execPath, [resolve('cli/bin.js'), 'reconciler', '--repo', repo.dir, '--nats', server.url, '--prefix', prefix, '--cluster-dir', stateDir, '--node-settle', '600s', '--expect-nodes', '1'], {
      env: { ...process.env, GITCELL_LOG_LEVEL: 'info', GITCELL_LOG_PRETTY: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: string[] = [];
    p.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
    p.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
    procs.push({ p, out });
    return { p, log: () => out.join('') };
  };
  t.after(async () => {
    for (const { p } of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all(procs.map(({ p }) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
  });
  const WAITING = /waiting for nodes to register/;
  const holder = async () => (await store.leases.get(RECONCILER_LEASE))?.value as { holder?: string; term?: number } | undefined;

  // Term 1: Git applied (the source's status written) while the controllers wait for a node.
  const a = start();
  await waitFor('c1 applied by the first replica', async () => ((await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined)?.lastAppliedRevision === c1, 90_000);
  await waitFor('the first replica waiting for the nodes', () => WAITING.test(a.log()), 30_000);
  assert.equal((await store.tasks.list()).length, 0, 'no task before a node registered');
  const first = await holder();

  // The term ends (the replica stops and hands the lease over); another replica leads.
  a.p.kill('SIGTERM');
  const b = start();
  await waitFor('the second replica leading', async () => {
    const h = await holder();
    return !!h?.holder?.includes(`-${b.p.pid}-`) && (h.term ?? 0) > (first?.term ?? 0);
  }, 90_000);
  await waitFor('the second replica waiting for the nodes too', () => WAITING.test(b.log()), 30_000).catch(async (err) => {
    throw new Error(`${(err as Error).message}; tasks now: ${(await store.tasks.list()).length}\n${b.log().slice(-3000)}`);
  });
  assert.equal((await store.tasks.list()).length, 0, 'still no task before a node registered');
  assert.equal(await store.sync.get(SETTLED_KEY), undefined, 'not marked settled');

  // A node serving this incarnation registers: the controllers start, create, and mark the store settled.
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const inc = await probeIncarnation(nc, prefix);
  assert.equal(inc.state, 'present');
  await store.nodes.put('n1', { ...nodeRecord('n1'), storeIncarnation: inc.state === 'present' ? inc.incarnation : '' });
  await waitFor('web\'s 2 tasks created after the node registered', async () => (await store.tasks.list()).length === 2, 60_000);
  await waitFor('the store marked settled', async () => (await store.sync.get(SETTLED_KEY))?.value.kind === 'ControllersSettled', 30_000);
});
