// NodeInformer (store/node-informer.ts) against a real nats-server: the nodes as liveness readers see
// them, records joined with their leases. A node's heartbeat time is the newer of its record's and
// its lease's renewal (the server's time); a renewal wakes no reader, while a record change, a
// node's arrival and its lease's appearance do; listNodesWithLeases joins them the same way. Leases
// are kept in memory: after a nats-server restart the copy starts over and a missing lease counts
// from then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../lib/index.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { bucketName, connect, listNodesWithLeases, NodeInformer, openClusterStore } from '../../../store/index.ts';
import type { InformerChange } from '../../../store/index.ts';
import type { NodeRecord } from '../../../api/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

// Both ways of following the leases: pushed (viewers), batched (the control plane, LEASE_BATCH_MS).
const MODES: [string, { leaseBatchMs?: number }][] = [['pushed', {}], ['batched', { leaseBatchMs: 200 }]];

const record = (name: string, heartbeatAt: string, labels: Record<string, string> = {}): NodeRecord => ({
  name, labels, taints: [], capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30 }, allocatable: { cpuMillis: 1000, memoryBytes: 2 ** 30 },
  addresses: [], runtime: { runc: '1', kernel: '6', agentVersion: 'test' }, images: [], startedAt: '2026-01-01T00:00:00.000Z', heartbeatAt,
});

for (const [mode, extra] of MODES) test(`${mode}: NodeInformer joins records with leases; renewals wake nobody, record changes and new leases do`, async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'node-informer' });
  t.after(() => nc.close());
  const store = await openClusterStore(nc, { prefix: `ni${Date.now().toString(36)}_`, log: silentLogger() });
  const old = new Date(Date.now() - 60_000).toISOString();
  const future = new Date(Date.now() + 600_000).toISOString();
  await store.nodes.put('a', record('a', old));
  // An agent from before the leases: its record's own time is newer than any lease.
  await store.nodes.put('legacy', record('legacy', future));
  await store.heartbeats.put('legacy', {});

  const changes: InformerChange<NodeRecord>[] = [];
  const ac = new AbortController();
  t.after(() => ac.abort());
  const nodes = new NodeInformer(store, { signal: ac.signal, log: silentLogger(), onChange: (c) => changes.push(c), ...extra });
  await nodes.synced;
  assert.equal(changes.length, 1, 'the snapshot, once both buckets are in');
  assert.equal(changes[0], undefined);
  // A second reader of the same informer (loops of one process share it) hears the same changes.
  const heard: (string | undefined)[] = [];
  nodes.listen((c) => heard.push(c?.key));
  // No lease (yet, or lost with a nats-server restart): counted from when this copy's snapshot was taken.
  assert.equal(nodes.get('a')?.heartbeatAt, new Date(nodes.leases.snapshotAt).toISOString(), 'no lease: the snapshot\'s time');
  assert.equal(nodes.get('legacy')?.heartbeatAt, future, 'a newer record time wins over the lease');

  // The first lease of `a` is a change (its liveness); its time is the server's.
  const before = Date.now();
  await store.heartbeats.put('a', {});
  await waitFor('the lease of a in the view', async () => changes.length === 2 || undefined, 10_000);
  assert.equal(changes[1]?.key, 'a');
  const first = Date.parse(nodes.get('a')!.heartbeatAt);
  assert.ok(first >= before - 1000 && first <= Date.now() + 1000, `renewal time ${nodes.get('a')!.heartbeatAt} is now`);
  assert.equal(nodes.entries.get('a')?.value.heartbeatAt, nodes.get('a')!.heartbeatAt);
  assert.deepEqual([...nodes.entries.keys()].sort(), ['a', 'legacy']);

  // Renewals move the time and wake nobody; a record rewritten with only a new time wakes nobody either.
  await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 3; i++) await store.heartbeats.put('a', {});
  const rev = await store.heartbeats.put('a', {});
  await store.nodes.put('legacy', record('legacy', new Date(Date.now() + 700_000).toISOString()));
  assert.equal(await nodes.leases.caughtUp(rev, 10_000), true);
  await nodes.caughtUp(await store.nodes.lastRevision(), 10_000);
  assert.ok(Date.parse(nodes.get('a')!.heartbeatAt) > first, 'the renewal is seen');
  assert.equal(changes.length, 2, 'no change for renewals or heartbeat-only record writes');

  // A real change of the record, a new node, a node's departure: each one change.
  await store.nodes.put('a', record('a', old, { zone: 'z1' }));
  await store.nodes.put('b', record('b', old));
  await store.nodes.delete('legacy');
  await waitFor('three more changes', async () => changes.length === 5 || undefined, 10_000);
  assert.deepEqual(changes.slice(2).map((c) => c?.key), ['a', 'b', 'legacy']);
  assert.equal(changes[2]?.next?.labels.zone, 'z1');
  assert.ok(Date.parse(changes[2]!.next!.heartbeatAt) > first, 'a changed record still carries its lease\'s time');
  assert.equal(nodes.get('legacy'), undefined);
  assert.deepEqual(heard, changes.slice(1).map((c) => c?.key));
  assert.deepEqual(nodes.values().map((n) => n.name).sort(), ['a', 'b']);

  // The one-shot listing joins the same way.
  const listed = new Map((await listNodesWithLeases(store)).map((r) => [r.key, r.value.heartbeatAt]));
  assert.deepEqual(listed, new Map([['a', nodes.get('a')!.heartbeatAt], ['b', old]]));
});

for (const [mode, extra] of MODES) test(`${mode}: leases are kept in memory: after a nats-server restart the copy starts over and a lost lease counts from then`, async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'node-informer-restart' });
  t.after(() => nc.close());
  const prefix = `nr${Date.now().toString(36)}_`;
  const store = await openClusterStore(nc, { prefix, log: silentLogger(), timeoutMs: 2000 });
  const jsm = await jetstreamManager(nc);
  assert.equal((await jsm.streams.info(`KV_${bucketName('heartbeats', prefix)}`)).config.storage, 'memory');
  const old = new Date(Date.now() - 600_000).toISOString();
  for (const n of ['a', 'b', 'c']) await store.nodes.put(n, record(n, old));
  for (let i = 0; i < 5; i++) for (const n of ['a', 'b', 'c']) await store.heartbeats.put(n, {});
  const changes: InformerChange<NodeRecord>[] = [];
  const ac = new AbortController();
  t.after(() => ac.abort());
  const nodes = new NodeInformer(store, { signal: ac.signal, log: silentLogger(), onChange: (c) => changes.push(c), ...extra });
  await nodes.synced;
  const before = nodes.leases.revision;
  assert.ok(before >= 15);
  // An agent that stops cleanly deletes its lease: its node is not ready at once (its record's own time).
  await store.heartbeats.delete('c');
  await waitFor('c\'s lease gone', () => nodes.get('c')?.heartbeatAt === old || undefined, 10_000);

  const restartedAt = Date.now();
  await server.restart(); // kill -9 and start again on the same data: the memory-stored lease stream is gone
  // (asked until the server answers: right after the restart the client may still be reconnecting)
  const leaseStream = await waitFor('nats-server back', () => jsm.streams.info(`KV_${bucketName('heartbeats', prefix)}`).then(() => 'present', (e: unknown) => (/stream not found/.test(String(e)) ? 'gone' : undefined)), 30_000);
  assert.equal(leaseStream, 'gone');
  assert.ok((await jsm.streams.info(`KV_${bucketName('nodes', prefix)}`)).state.messages > 0, 'the file-stored buckets stay');
  // The scheduler's leader makes it again (restoreLeaseBucket) as the handle was opened: in memory.
  await waitFor('the lease bucket made again', () => store.heartbeats.ensure().then(() => true, () => undefined), 30_000);
  assert.equal((await jsm.streams.info(`KV_${bucketName('heartbeats', prefix)}`)).config.storage, 'memory');
  await waitFor('the lease copy taken again after the restart', () => nodes.leases.snapshotAt >= restartedAt || undefined, 30_000);
  assert.equal(nodes.leases.entries.size, 0, 'no lease survived the restart');
  // Every node, its lease lost, counts from the new snapshot: not ready only after a grace from now.
  for (const n of ['a', 'b', 'c']) assert.ok(Date.parse(nodes.get(n)!.heartbeatAt) >= restartedAt, `${n}: ${nodes.get(n)!.heartbeatAt}`);
  assert.equal(changes.filter((c) => c === undefined).length, 2, 'readers told that everything may have changed');

  // The stream numbers again from 1: a renewal below the old revisions is still seen.
  const rev = await waitFor('a renewal stored after the restart', () => store.heartbeats.put('a', {}).catch(() => undefined), 30_000);
  assert.ok(rev < before, `revision ${rev} numbered again (was ${before})`);
  await waitFor('the renewal in the copy', () => nodes.leases.entry('a')?.revision === rev || undefined, 10_000);
  assert.equal(nodes.get('a')!.heartbeatAt, new Date(nodes.leases.entry('a')!.created!).toISOString());
});
