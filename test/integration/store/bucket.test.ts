import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { isGitcellError, silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, jsonCodec, SKIP, StoreErrorCodes, type InvalidRecord, type WatchEvent } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

interface Counter {
  n: number;
}

function bucketName(): string {
  return `t_${randomBytes(4).toString('hex')}`;
}

async function setup(t: { after(fn: () => unknown): void }) {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const invalid: InvalidRecord[] = [];
  const bucket = await Bucket.open<Counter>(nc, { name: bucketName(), history: 10 }, jsonCodec<Counter>(1), {
    log: silentLogger(),
    onInvalid: (r) => invalid.push(r),
  });
  return { server, nc, bucket, invalid };
}

async function next<T>(it: AsyncIterator<WatchEvent<T>>): Promise<WatchEvent<T>> {
  const r = await it.next();
  assert.ok(!r.done, 'watch ended early');
  return r.value;
}

test('get/create/put/update/delete with revisions and typed conflicts', async (t) => {
  const { bucket } = await setup(t);
  assert.equal(await bucket.get('a'), undefined);
  const r1 = await bucket.create('a', { n: 1 });
  assert.deepEqual((await bucket.get('a'))?.value, { n: 1 });
  assert.equal((await bucket.get('a'))?.revision, r1);
  await assert.rejects(bucket.create('a', { n: 9 }), (e) => isGitcellError(e, StoreErrorCodes.Exists));
  const r2 = await bucket.update('a', { n: 2 }, r1);
  assert.ok(r2 > r1);
  await assert.rejects(bucket.update('a', { n: 3 }, r1), (e) => isGitcellError(e, StoreErrorCodes.Conflict));
  await assert.rejects(bucket.delete('a', { revision: r1 }), (e) => isGitcellError(e, StoreErrorCodes.Conflict));
  await bucket.delete('a', { revision: r2 });
  assert.equal(await bucket.get('a'), undefined);
  // A deleted key can be created again.
  await bucket.create('a', { n: 4 });
  assert.deepEqual((await bucket.get('a'))?.value, { n: 4 });
  await bucket.put('x.y.z', { n: 5 });
  await bucket.put('x.y', { n: 6 });
  await bucket.put('x.w', { n: 7 });
  assert.deepEqual(await bucket.keys('x'), ['x.w', 'x.y', 'x.y.z']);
  assert.deepEqual(await bucket.keys('x.y'), ['x.y.z']);
  assert.deepEqual(await bucket.keys(), ['a', 'x.w', 'x.y', 'x.y.z']);
  await assert.rejects(bucket.put('bad key', { n: 1 }), (e) => isGitcellError(e, StoreErrorCodes.InvalidKey));
  await assert.rejects(bucket.get('a.*'), (e) => isGitcellError(e, StoreErrorCodes.InvalidKey));
});

test('updateWithRetry: many writers racing on one key lose no update', async (t) => {
  const { bucket, nc, server } = await setup(t);
  // Writers on separate connections, so the races are real races at the server.
  const others = await Promise.all([1, 2, 3].map(() => connect({ servers: server.url })));
  t.after(() => Promise.all(others.map((c) => c.close())));
  const handles = [bucket, ...(await Promise.all(others.map((c) => Bucket.bind<Counter>(c, { name: bucket.name }, jsonCodec<Counter>(1), { log: silentLogger() }))))];
  const writers = 8;
  const perWriter = 25;
  let conflictsSeen = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const h = handles[w % handles.length]!;
      for (let i = 0; i < perWriter; i++) {
        let calls = 0;
        await h.updateWithRetry('counter', (cur) => {
          calls++;
          return { n: (cur?.n ?? 0) + 1 };
        }, { maxAttempts: 1000 });
        conflictsSeen += calls - 1;
      }
    }),
  );
  const final = await bucket.get('counter');
  assert.equal(final?.value.n, writers * perWriter);
  assert.ok(conflictsSeen > 0, 'writers never raced; the test proved nothing');
  // SKIP leaves the key alone; undefined deletes it.
  const same = await bucket.updateWithRetry('counter', () => SKIP);
  assert.equal(same?.revision, final?.revision);
  assert.equal(await bucket.updateWithRetry('counter', () => undefined), undefined);
  assert.equal(await bucket.get('counter'), undefined);
  void nc;
});

test('watch delivers the snapshot, synced, then every put and delete; resumes after a revision', async (t) => {
  const { bucket } = await setup(t);
  await bucket.put('n.a', { n: 1 });
  await bucket.put('n.b', { n: 2 });
  await bucket.put('other', { n: 3 });
  await bucket.put('n.a', { n: 4 });
  const ac = new AbortController();
  const w = bucket.watch({ prefix: 'n', signal: ac.signal });
  const it = w[Symbol.asyncIterator]();
  const e1 = await next(it);
  const e2 = await next(it);
  assert.deepEqual([e1.type, e2.type], ['put', 'put']);
  assert.deepEqual(e1.type === 'put' && [e1.key, e1.value.n], ['n.b', 2]);
  assert.deepEqual(e2.type === 'put' && [e2.key, e2.value.n], ['n.a', 4]);
  assert.equal((await next(it)).type, 'synced');
  const rev = await bucket.put('n.c', { n: 5 });
  const e3 = await next(it);
  assert.ok(e3.type === 'put' && e3.key === 'n.c' && e3.revision === rev);
  await bucket.delete('n.b');
  const e4 = await next(it);
  assert.ok(e4.type === 'delete' && e4.key === 'n.b');
  const resumeAt = w.revision;
  ac.abort();
  assert.equal((await it.next()).done, true);
  await w.closed;

  await bucket.put('n.d', { n: 6 });
  const w2 = bucket.watch({ prefix: 'n', afterRevision: resumeAt });
  t.after(() => w2.close());
  const it2 = w2[Symbol.asyncIterator]();
  const e5 = await next(it2);
  assert.ok(e5.type === 'put' && e5.key === 'n.d', `expected n.d after resume, got ${JSON.stringify(e5)}`);
  await w2.close();
  assert.equal((await it2.next()).done, true);
});

test('an empty watch syncs at once and exact-key watches see only that key', async (t) => {
  const { bucket } = await setup(t);
  await bucket.put('k1', { n: 1 });
  const w = bucket.watch({ prefix: 'none' });
  t.after(() => w.close());
  const it = w[Symbol.asyncIterator]();
  assert.equal((await next(it)).type, 'synced');
  // The snapshot covered k1's revision: nothing old comes back after synced.
  await bucket.put('none.x', { n: 2 });
  const ev = await next(it);
  assert.ok(ev.type === 'put' && ev.key === 'none.x');
  const wk = bucket.watch({ key: 'k1' });
  t.after(() => wk.close());
  const itk = wk[Symbol.asyncIterator]();
  const first = await next(itk);
  assert.ok(first.type === 'put' && first.value.n === 1);
  assert.equal((await next(itk)).type, 'synced');
  await bucket.put('k10', { n: 3 });
  await bucket.put('k1', { n: 4 });
  const upd = await next(itk);
  assert.ok(upd.type === 'put' && upd.key === 'k1' && upd.value.n === 4);
});

test('malformed and future-schema records are reported and skipped, never crash a watcher', async (t) => {
  const { bucket, nc, invalid } = await setup(t);
  const raw = await new Kvm(jetstream(nc)).open(bucket.name);
  const seen: InvalidRecord[] = [];
  const w = bucket.watch({ onInvalid: (r) => seen.push(r) });
  t.after(() => w.close());
  const it = w[Symbol.asyncIterator]();
  assert.equal((await next(it)).type, 'synced');
  await raw.put('bad.json', '{not json');
  await raw.put('bad.future', JSON.stringify({ schema: 99, data: { n: 1 } }));
  await raw.put('bad.shape', JSON.stringify([1, 2]));
  await raw.put('bad.noschema', JSON.stringify({ data: { n: 1 } }));
  await bucket.put('good', { n: 1 });
  const ev = await next(it);
  assert.ok(ev.type === 'put' && ev.key === 'good', `the good record after the bad ones must arrive, got ${JSON.stringify(ev)}`);
  assert.deepEqual(seen.map((r) => r.key), ['bad.json', 'bad.future', 'bad.shape', 'bad.noschema']);
  assert.match(seen[1]!.reason, /schema.*99.*newer/);
  assert.ok(invalid.length >= 4, 'bucket-level onInvalid hears of them too');
  assert.deepEqual(await bucket.keys(), ['good']);
  await assert.rejects(bucket.get('bad.json'), (e) => isGitcellError(e, StoreErrorCodes.InvalidRecord) && /bad\.json/.test((e as Error).message));
});

test('a codec with validation refuses records that fail it', async (t) => {
  const { nc } = await setup(t);
  const strict = jsonCodec<Counter>(2, (data) => {
    const d = data as Partial<Counter>;
    if (typeof d?.n !== 'number') throw new Error('field "n": must be a number');
    return { n: d.n };
  });
  const b = await Bucket.open(nc, { name: bucketName() }, strict, { log: silentLogger() });
  const loose = await Bucket.bind<unknown>(nc, { name: b.name }, jsonCodec<unknown>(1), { log: silentLogger() });
  await loose.put('x', { n: 'one' });
  await assert.rejects(b.get('x'), /field "data": field "n": must be a number/);
  await loose.put('y', { n: 2 });
  assert.deepEqual((await b.get('y'))?.value, { n: 2 }, 'older schema 1 records are still read by a schema 2 codec');
});

test('a write acknowledged while the process was busy is not failed as timed out: the stall does not count against the server', async (t) => {
  const { nc } = await setup(t);
  const b = await Bucket.open<Counter>(nc, { name: bucketName(), timeoutMs: 300 }, jsonCodec<Counter>(1), { log: silentLogger() });
  await b.put('warm', { n: 0 }); // the connection's publisher exists and its sweep runs
  const writes = [b.put('a', { n: 1 }), b.create('b', { n: 2 })];
  // One synchronous second, three deadlines long: the acknowledgements arrive meanwhile, unread.
  const until = Date.now() + 1000;
  while (Date.now() < until) {
    /* a long controller pass */
  }
  const [ra, rb] = await Promise.all(writes);
  assert.ok(ra! > 0 && rb! > ra!, 'both writes resolve with their revisions');
  assert.deepEqual((await b.get('b'))?.value, { n: 2 });
});

test('a write the server never acknowledges still times out', async (t) => {
  const { nc, server } = await setup(t);
  const b = await Bucket.open<Counter>(nc, { name: bucketName(), timeoutMs: 300 }, jsonCodec<Counter>(1), { log: silentLogger() });
  await b.put('warm', { n: 0 });
  // A stopped (SIGSTOP) server keeps the connection open and answers nothing: only the deadline ends the wait.
  const pid = server.pid()!;
  process.kill(pid, 'SIGSTOP');
  try {
    // The stop takes effect asynchronously: a write sent before it would be acknowledged.
    const stopped = (): boolean => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('T') ?? false;
    for (const until = Date.now() + 10_000; !stopped(); ) {
      assert.ok(Date.now() < until, 'nats-server stopped within 10 s of SIGSTOP');
      await new Promise((r) => setTimeout(r, 10));
    }
    const started = Date.now();
    await assert.rejects(b.put('lost', { n: 1 }), (e) => isGitcellError(e, StoreErrorCodes.Unavailable) && /timeout/.test((e as Error).message));
    assert.ok(Date.now() - started < 5000, 'failed by its own deadline');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
});
