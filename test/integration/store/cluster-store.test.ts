import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ClusterEvent, NodeSpec } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { appendEvent, connect, openClusterStore, BUCKETS, type InvalidRecord } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

function ev(i: number, name = 'web'): ClusterEvent {
  return { time: new Date().toISOString(), type: 'Normal', reason: 'Test', object: { kind: 'Job', namespace: 'default', name }, message: `event ${i}`, source: 'test' };
}

test('openClusterStore creates every bucket idempotently, typed, under its prefix', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const prefix = `t${randomBytes(3).toString('hex')}_`;
  const invalid: InvalidRecord[] = [];
  const s1 = await openClusterStore(nc, { prefix, log: silentLogger(), onInvalid: (r) => invalid.push(r) });
  const s2 = await openClusterStore(nc, { prefix, log: silentLogger() });
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const n of jsm.streams.names()) names.push(n);
  for (const role of Object.keys(BUCKETS)) {
    assert.ok(names.includes(`KV_${prefix}${role}`), `bucket ${role} exists`);
    const info = await jsm.streams.info(`KV_${prefix}${role}`);
    assert.equal(info.config.max_msgs_per_subject, BUCKETS[role as keyof typeof BUCKETS].history);
  }
  assert.ok(names.includes(`${prefix}events`));
  const spec: NodeSpec = { cordoned: true, draining: false };
  await s1.nodespec.put('node-1', spec);
  assert.deepEqual((await s2.nodespec.get('node-1'))?.value, spec);
  // objectCodec refuses non-object data even with a valid envelope.
  await jetstream(nc).publish(`$KV.${prefix}nodes.node-x`, JSON.stringify({ schema: 1, data: 'nope' }));
  assert.deepEqual(await s1.nodes.keys(), []);
  assert.equal(invalid.length, 1);
  assert.match(invalid[0]!.reason, /must be a JSON object/);
});

test('events: append, recent with limit and prefix, follow new ones, bounded retention', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const store = await openClusterStore(nc, { prefix: `e${randomBytes(3).toString('hex')}_`, log: silentLogger(), events: { maxMsgs: 50 } });
  assert.deepEqual(await store.events.recent(), []);
  for (let i = 0; i < 60; i++) await appendEvent(store.events, ev(i, i % 2 ? 'odd' : 'even'));
  const last5 = await store.events.recent({ limit: 5 });
  assert.deepEqual(last5.map((e) => e.value.message), ['event 55', 'event 56', 'event 57', 'event 58', 'event 59']);
  const all = await store.events.recent({ limit: 1000 });
  assert.equal(all.length, 50, 'retention keeps the newest 50');
  assert.equal(all[0]!.value.message, 'event 10');
  const odd = await store.events.recent({ limit: 3, prefix: 'Job.default.odd' });
  assert.deepEqual(odd.map((e) => e.value.message), ['event 55', 'event 57', 'event 59']);
  assert.deepEqual(odd[0]!.tokens, ['Job', 'default', 'odd']);
  const ac = new AbortController();
  const seen: string[] = [];
  const following = (async () => {
    for await (const e of store.events.follow({ signal: ac.signal })) {
      seen.push(e.value.message);
      if (seen.length === 3) ac.abort();
    }
  })();
  // follow starts from "now": wait until its consumer exists before appending.
  const jsm = await jetstreamManager(nc);
  for (let i = 0; i < 100; i++) {
    const info = await jsm.streams.info(`${store.prefix}events`);
    if (info.state.consumer_count > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let i = 100; i < 103; i++) await appendEvent(store.events, ev(i));
  await following;
  assert.deepEqual(seen, ['event 100', 'event 101', 'event 102']);
});
