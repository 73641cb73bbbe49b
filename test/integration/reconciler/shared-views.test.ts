// A term's loops on the replica's shared copies (views.ts) end with the term, and the copies keep
// following: a loop that waited for the shared watches to end never ended, and every ended term's
// loop (the controllers' trusted index of every task included) stayed in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../lib/index.ts';
import { connect, NodeInformer, openClusterStore } from '../../../store/index.ts';
import { openTaskInformers, runControllers, runEndpoints, type DesiredRecord, type SyncRecord } from '../../../reconciler/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

test('controllers and endpoints loops on shared copies end with their term; the copies keep following', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: 'shv_', log: silentLogger() });
  const replica = new AbortController();
  t.after(() => replica.abort());
  const shared = openTaskInformers(store, replica.signal, silentLogger());
  const nodes = new NodeInformer(store, { signal: replica.signal, log: silentLogger() });
  for (let term = 1; term <= 2; term++) {
    const ac = new AbortController();
    const common = { store, signal: ac.signal, log: silentLogger(), nodes, shared };
    const controllers = runControllers({ ...common, term, source: 'main', tickMs: 200 });
    const endpoints = runEndpoints(common);
    await waitFor(`term ${term}: a pass`, async () => controllers.passes() > 0 && endpoints.passes() > 0);
    ac.abort();
    const ended = await Promise.race([
      Promise.all([controllers.done, endpoints.done]).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref()),
    ]);
    assert.equal(ended, true, `term ${term}: the loops ended within 10 s of their signal`);
  }
  // The shared copies still follow the store after both terms.
  const revision = await store.bindings.put('t1', { taskId: 't1', node: 'n1', boundAt: new Date().toISOString(), schedulerTerm: 1 });
  assert.equal(await shared.bindings.caughtUp(revision, 10_000), true);
  assert.equal(shared.bindings.get('t1')?.node, 'n1');
});
