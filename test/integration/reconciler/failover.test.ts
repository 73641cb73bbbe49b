import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dump } from 'js-yaml';
import type { Job } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { objectStatusKey, reconcileRevision, type WorkloadStatus } from '../../../reconciler/index.ts';
import { startSim } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

const job = (image: string): Job => ({
  apiVersion: 'gitcell.io/v1',
  kind: 'Job',
  metadata: { name: 'web', namespace: 'default' },
  spec: { type: 'service', replicas: 6, template: { image }, strategy: { maxUnavailable: 1, maxSurge: 1 } },
});

interface Replica {
  proc: ChildProcess;
  leading: Promise<number>;
}

test('kill -9 the active controller mid-rollout: the standby finishes it, no task applied twice, bounds held', async (t) => {
  const { server, prefix, store } = await openTestStore(t, { tag: 'f' });
  // Slow starts so the rollout is still going when the leader dies.
  const sim = await startSim(store, { nodes: ['n1', 'n2', 'n3'], startMs: 400 });
  t.after(() => sim.stop());

  const replicas: Replica[] = [];
  const spawnReplica = (): Replica => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'test/integration/reconciler/replica.ts'], {
      env: { ...process.env, NATS_URL: server.url, STORE_PREFIX: prefix, LEASE_MS: '1500' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    });
    const leading = new Promise<number>((resolve) => {
      let buf = '';
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /LEADING (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
    });
    const r = { proc, leading };
    replicas.push(r);
    return r;
  };
  const a = spawnReplica();
  await a.leading;
  const b = spawnReplica();

  const apply = (image: string, revision: string) =>
    reconcileRevision({
      store,
      source: 'main',
      revision,
      read: async () => dump(job(image)),
      validate: () => ({ objects: [{ object: job(image) }], problems: [] }),
      log: silentLogger(),
    });
  const status = async () => (await store.sync.get(objectStatusKey('Job', 'default', 'web')))?.value as WorkloadStatus | undefined;
  await apply('web:1', 'c1');
  await waitFor('v1 ready', async () => (await status())?.rollout?.phase === 'Complete', 30_000);

  const tasks = new Map<string, string>();
  const ready = new Set<string>();
  let armed = false;
  let minReady = Infinity;
  let maxTasks = 0;
  const ac = new AbortController();
  t.after(() => ac.abort());
  const check = () => {
    if (!armed) return;
    minReady = Math.min(minReady, [...tasks.keys()].filter((id) => ready.has(id)).length);
    maxTasks = Math.max(maxTasks, tasks.size);
  };
  const watchers = [
    (async () => {
      for await (const ev of store.tasks.watch({ signal: ac.signal })) {
        if (ev.type === 'put') tasks.set(ev.key, ev.value.templateHash);
        else if (ev.type === 'delete') tasks.delete(ev.key);
        check();
      }
    })(),
    (async () => {
      for await (const ev of store.status.watch({ signal: ac.signal })) {
        if (ev.type === 'put') (ev.value.ready ? ready.add(ev.value.taskId) : ready.delete(ev.value.taskId));
        else if (ev.type === 'delete') ready.delete(ev.key.slice(ev.key.indexOf('.') + 1));
        check();
      }
    })(),
  ];
  await waitFor('watchers synced', async () => tasks.size === 6 && ready.size === 6);
  armed = true;

  await apply('web:2', 'c2');
  const v2 = await waitFor('rollout under way', async () => {
    const s = await status();
    return s && s.observedGeneration === 2 && s.updated >= 2 && s.rollout?.phase === 'Progressing' ? s : undefined;
  }, 30_000);
  a.proc.kill('SIGKILL');
  const term = await b.leading;
  assert.ok(term > 1, 'the standby took over with a higher term');
  const done = await waitFor('the standby finished the rollout', async () => {
    const s = await status();
    return s?.rollout?.phase === 'Complete' && s.templateHash === v2.templateHash ? s : undefined;
  }, 60_000);
  await waitFor('only v2 tasks left', async () => tasks.size === 6 && [...tasks.values()].every((h) => h === done.templateHash), 30_000);
  ac.abort();
  await Promise.allSettled(watchers);
  assert.ok(minReady >= 5, `ready tasks dropped to ${minReady} (replicas 6, maxUnavailable 1)`);
  assert.ok(maxTasks <= 7, `${maxTasks} tasks at once (replicas 6, maxSurge 1)`);
  const twice = [...sim.creations.entries()].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no task created twice');
  assert.equal(sim.creations.size, 12, '6 v1 tasks and 6 v2 tasks were ever created, no more');
  b.proc.kill('SIGTERM');
});
