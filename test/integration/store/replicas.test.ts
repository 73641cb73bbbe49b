// Replica counts against real servers: what suggestReplicas makes of a real cluster's and a single
// server's INFO, and that opening a bucket without a count (clients, agents) keeps an R3 bucket R3
// while a component that names a count scales it; and R1 streams spread over tagged servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS, connect, ensureBucket, EventStream, objectCodec, openClusterStore, replicasFor } from '../../../store/index.ts';
import { startNatsCluster, startNatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

test('replicasFor: 3 on a 3-server JetStream cluster (one URL given), 1 on a single server', async (t) => {
  const [cluster, single] = await Promise.all([startNatsCluster({ t }), startNatsServer({ t })]);
  const nc = await connect({ servers: cluster.urls[0]!, name: 'replicas test' });
  t.after(() => nc.close());
  // The servers gossip their client URLs once the routes are up (startNatsCluster waited for R3 placement).
  await waitFor('the cluster to advertise its three servers', () => (nc.info?.connect_urls?.length ?? 0) >= 3, 30_000);
  assert.equal(replicasFor(nc), 3);
  const one = await connect({ servers: single.url, name: 'replicas test' });
  t.after(() => one.close());
  assert.equal(replicasFor(one), 1);
  assert.equal(replicasFor(one, 3), 1, 'a single server stays R1 whatever the URL count');
});

test('ensureBucket and EventStream.open without a replica count keep an existing R3; with one they scale', async (t) => {
  const cluster = await startNatsCluster({ t });
  const nc = await connect({ servers: cluster.url, name: 'replicas test' });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const name = `r_${randomBytes(4).toString('hex')}`;
  const replicasOf = async (stream: string) => (await jsm.streams.info(stream)).config.num_replicas;

  await ensureBucket(nc, { name, replicas: 3, history: 2, timeoutMs: 10_000 });
  assert.equal(await replicasOf(`KV_${name}`), 3);
  await ensureBucket(nc, { name, history: 2, timeoutMs: 10_000 }); // a client or an agent
  assert.equal(await replicasOf(`KV_${name}`), 3, 'kept R3');
  await ensureBucket(nc, { name, replicas: 1, history: 2, timeoutMs: 10_000 }); // a component told R1
  assert.equal(await replicasOf(`KV_${name}`), 1, 'scaled to R1 when told');
  await ensureBucket(nc, { name: `${name}_new`, history: 1, timeoutMs: 10_000 });
  assert.equal(await replicasOf(`KV_${name}_new`), 1, 'a missing bucket opened without a count is R1');

  const events = { name: `${name}_events`, subjectRoot: `${name}.events`, timeoutMs: 10_000 };
  await EventStream.open(nc, { ...events, replicas: 3 }, objectCodec());
  await EventStream.open(nc, events, objectCodec());
  assert.equal(await replicasOf(events.name), 3, 'the events stream kept R3');
});

test('openClusterStore spreadOver: the R1 buckets and the events stream spread round-robin over tagged servers, and stay there when reopened', async (t) => {
  const tags = ['spread-a', 'spread-b', 'spread-c'];
  const cluster = await startNatsCluster({ t, tags });
  const nc = await connect({ servers: cluster.url, name: 'replicas test' });
  t.after(() => nc.close());
  const prefix = `sp${randomBytes(3).toString('hex')}_`;
  const store = await openClusterStore(nc, { prefix, replicas: 1, spreadOver: tags, timeoutMs: 10_000 });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const streams = [...Object.keys(BUCKETS).map((r) => `KV_${prefix}${r}`), store.events.cfg.name];
  const leaders = async () => Promise.all(streams.map(async (s) => (await jsm.streams.info(s)).cluster?.leader ?? '?'));
  const placed = await leaders();
  // Server i carries tag i: stream k is on server k mod 3.
  assert.deepEqual(placed, streams.map((_, k) => cluster.servers[k % 3]!.name));
  const perServer = cluster.servers.map((s) => placed.filter((l) => l === s.name).length);
  assert.ok(perServer.every((n) => n >= 4), `13 streams over 3 servers: ${perServer.join(' + ')}`);
  // A component opening the store later (no spread, its own replica count) changes nothing.
  await openClusterStore(nc, { prefix, replicas: 1, timeoutMs: 10_000 });
  assert.deepEqual(await leaders(), placed);
  // Replicated streams ignore the spread (one tag names one server).
  const r3 = `sr${randomBytes(3).toString('hex')}_`;
  await openClusterStore(nc, { prefix: r3, replicas: 3, spreadOver: tags, timeoutMs: 10_000 });
  assert.equal((await jsm.streams.info(`KV_${r3}tasks`)).config.placement, undefined);
});
