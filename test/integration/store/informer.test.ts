// The store informer against its conformance suite (test/helpers/informer-suite.ts). Every user of
// the contract registers here or in its own test file: the scheduler, the controllers loop, the
// secrets distributor, the reconciler's desired cache and `gitcell up`'s view all build a plain
// store Informer (whole bucket or a prefix), so the first registration covers them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../../lib/index.ts';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Bucket, connect, Informer, jsonCodec, type InformerChange } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { informerConformance, type Item } from '../../helpers/informer-suite.ts';

informerConformance('store Informer', (source, o) => {
  const inf = new Informer<Item>(source, { ...o, log: silentLogger() });
  return { view: inf, apply: (key, value, revision) => inf.apply(key, value, revision), done: inf.done };
});

informerConformance('store Informer with a fast restart backoff', (source, o) => {
  const inf = new Informer<Item>(source, { ...o, log: silentLogger(), backoff: { initialMs: 1, maxMs: 20 } });
  return { view: inf, apply: (key, value, revision) => inf.apply(key, value, revision), done: inf.done };
});

// Batched (the control plane's node leases, NodeInformer leaseBatchMs): a pull consumer asked every
// 200 ms, under the same contract, kill -9 and restart of nats-server included.
informerConformance('store Informer, batched', (source, o) => {
  const inf = new Informer<Item>(source, { ...o, log: silentLogger(), batchMs: 200 });
  return { view: inf, apply: (key, value, revision) => inf.apply(key, value, revision), done: inf.done };
});

// Lazy (agent/shared-feed.ts's task specs): values decoded at their first read, under the same contract.
informerConformance('store Informer, lazy', (source, o) => {
  const inf = new Informer<Item>(source, { ...o, log: silentLogger(), lazy: true });
  return { view: inf, apply: (key, value, revision) => inf.apply(key, value, revision), done: inf.done };
});

test('lazy: a value is decoded at its first read, once; a record that cannot be decoded is reported then and reads as the value before it', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'informer-lazy' });
  t.after(() => nc.close());
  let decodes = 0;
  const invalid: string[] = [];
  const codec = jsonCodec<Item>(1, (data) => (decodes++, data as Item));
  const bucket = await Bucket.open<Item>(nc, { name: `inf_${randomBytes(4).toString('hex')}` }, codec, { log: silentLogger(), onInvalid: (r) => invalid.push(r.key) });
  for (let i = 0; i < 20; i++) await bucket.put(`s${i}`, { n: i });
  const written = decodes;
  const ac = new AbortController();
  t.after(() => ac.abort());
  const keys: (string | undefined)[] = [];
  const inf = new Informer<Item>(bucket, { signal: ac.signal, log: silentLogger(), lazy: true, onChange: (c) => keys.push(c?.key) });
  await inf.synced;
  assert.equal(inf.entries.size, 20);
  assert.equal(decodes, written, 'nothing decoded by the snapshot');
  assert.deepEqual(inf.get('s3'), { n: 3 });
  assert.deepEqual(inf.get('s3'), { n: 3 });
  assert.equal(decodes, written + 1, 'one decode for two reads');
  // Changes: a listener that reads only the key decodes nothing; the values are there when read.
  let seen: InformerChange<Item>;
  inf.listen((c) => (seen = c));
  const r1 = await bucket.put('k', { n: 1 });
  const r2 = await bucket.update('k', { n: 2 }, r1);
  assert.equal(await inf.caughtUp(r2, 10_000), true);
  assert.deepEqual(keys.slice(-2), ['k', 'k']);
  assert.equal(decodes, written + 2, 'two changes told: only the first value decoded, when the second replaced it unread');
  assert.deepEqual([seen?.prev, seen?.next], [{ n: 1 }, { n: 2 }], 'read on demand');
  assert.equal(decodes, written + 3);
  // A record that cannot be decoded, after a good one: reported when read, reads as the good one.
  const raw = await new Kvm(jetstream(nc)).open(bucket.name);
  const r3 = await raw.put('k', '{not json');
  assert.equal(await inf.caughtUp(r3, 10_000), true);
  assert.deepEqual(invalid, [], 'not decoded yet, so not reported');
  assert.deepEqual(inf.get('k'), { n: 2 }, 'the value before it');
  assert.deepEqual(invalid, ['k']);
  assert.equal(inf.entry('k')?.revision, r3, 'at its revision: a CAS writer replaces it');
  const r4 = await raw.put('new', '{not json');
  assert.equal(await inf.caughtUp(r4, 10_000), true);
  assert.equal(inf.get('new'), undefined, 'nothing before it: undefined');
});

test('a closed connection ends the informer (done resolves) instead of restarting its watch forever', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'informer-close' });
  const bucket = await Bucket.open<Item>(nc, { name: `inf_${randomBytes(4).toString('hex')}` }, jsonCodec<Item>(), { log: silentLogger() });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const inf = new Informer<Item>(bucket, { signal: ac.signal, log: silentLogger() });
  await inf.synced;
  await nc.close();
  const ended = await Promise.race([inf.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 30_000).unref())]);
  assert.equal(ended, true, 'done within 30 s of the close');
});

test('several informers (pushed and batched) on one busy connection each sync with every key of a 10,000-key bucket', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'informer-many' });
  t.after(() => nc.close());
  const bucket = await Bucket.open<Item>(nc, { name: `inf_${randomBytes(4).toString('hex')}` }, jsonCodec<Item>(), { log: silentLogger() });
  const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`);
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => bucket.put(k, { n: 1, pad: 'x'.repeat(200) } as unknown as Item)));
  const ac = new AbortController();
  t.after(() => ac.abort());
  // Seven at once, and a reader that blocks its event loop while the snapshots stream in (a busy
  // dashboard or reconciler): pauses in delivery must not read as the snapshot's end.
  // (the last two batched: their snapshot comes in requests of PULL_BATCH keys)
  const informers = Array.from({ length: 7 }, (_, i) => new Informer<Item>(bucket, { signal: ac.signal, log: silentLogger(), ...(i >= 5 ? { batchMs: 500 } : {}) }));
  const busy = setInterval(() => { const end = Date.now() + 300; while (Date.now() < end); }, 350);
  try {
    await Promise.all(informers.map((inf) => inf.synced));
  } finally {
    clearInterval(busy);
  }
  assert.deepEqual(informers.map((inf) => inf.values().length), informers.map(() => keys.length));
});

test('listen: several readers share one informer, each told of every change; one that stops listening is told no more', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'informer-listen' });
  t.after(() => nc.close());
  const bucket = await Bucket.open<Item>(nc, { name: `inf_${randomBytes(4).toString('hex')}` }, jsonCodec<Item>(), { log: silentLogger() });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const own: (string | undefined)[] = [];
  const inf = new Informer<Item>(bucket, { signal: ac.signal, log: silentLogger(), onChange: (c) => own.push(c?.key) });
  const a: (string | undefined)[] = [];
  const b: (string | undefined)[] = [];
  inf.listen((c) => a.push(c?.key));
  const unlistenB = inf.listen((c) => b.push(c?.key));
  await inf.synced;
  await bucket.put('k1', { n: 1 } as unknown as Item);
  await waitFor(() => a.length === 2 && b.length === 2 && own.length === 2);
  unlistenB();
  await bucket.put('k2', { n: 2 } as unknown as Item);
  await waitFor(() => a.length === 3 && own.length === 3);
  assert.deepEqual(a, [undefined, 'k1', 'k2'], 'the snapshot, then each change');
  assert.deepEqual(own, a, 'listeners hear what onChange hears');
  assert.deepEqual(b, [undefined, 'k1'], 'nothing after unlisten');
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('an own write applied when acknowledged is not decoded again from its echo (watch `known`), and a later write by another is', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'informer-known' });
  t.after(() => nc.close());
  let decodes = 0;
  const codec = jsonCodec<Item>(1, (data) => (decodes++, data as Item));
  const bucket = await Bucket.open<Item>(nc, { name: `inf_${randomBytes(4).toString('hex')}` }, codec, { log: silentLogger() });
  const other = await Bucket.open<Item>(nc, { name: bucket.name }, jsonCodec<Item>(), { log: silentLogger() });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const inf = new Informer<Item>(bucket, { signal: ac.signal, log: silentLogger() });
  await inf.synced;
  // 200 creates, 32 in flight, each applied when acknowledged (as the reconciler creates tasks).
  const values = new Map<string, Item>();
  let last = 0;
  const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
  for (let i = 0; i < keys.length; i += 32) {
    await Promise.all(keys.slice(i, i + 32).map(async (key) => {
      const value = { n: Number(key.slice(1)) } as unknown as Item;
      const revision = await bucket.create(key, value);
      inf.apply(key, value, revision);
      values.set(key, value);
      last = Math.max(last, revision);
    }));
  }
  assert.equal(await inf.caughtUp(last, 10_000), true);
  // The echo usually comes in the same read as the acknowledgement and is taken after it: counted, not assumed all.
  assert.ok(decodes < keys.length / 2, `${decodes} of ${keys.length} echoes decoded again`);
  // An echo that came before its acknowledgement was decoded and cached first; the later apply at the
  // same revision keeps it. So: every value equal, and all but the decoded ones the very object applied.
  let applied = 0;
  for (const key of keys) {
    assert.deepEqual(inf.get(key), values.get(key), `${key}: the value written`);
    if (inf.get(key) === values.get(key)) applied++;
  }
  assert.ok(applied >= keys.length - decodes, `${applied} of ${keys.length} are the applied object, ${decodes} decoded`);
  // Written by another at a newer revision: decoded and taken.
  const before = decodes;
  const revision = await other.put('k7', { n: 77 } as unknown as Item);
  assert.equal(await inf.caughtUp(revision, 10_000), true);
  assert.deepEqual(inf.get('k7'), { n: 77 });
  assert.equal(inf.entry('k7')?.revision, revision);
  assert.equal(decodes, before + 1);
});
