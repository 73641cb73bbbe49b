/**
 * The informer conformance suite (containerd's snapshots/testsuite is the model): one exported
 * function that checks the store informer contract (store/informer.ts) against a real nats-server,
 * run once per user of the contract. A user hands a factory that builds its informer over the
 * given source; the suite owns the bucket, the writes and the faults:
 *
 *   - synced fires once the initial snapshot is in, with every key (deleted ones absent);
 *   - puts, updates and deletes after synced reach the view and onChange, in order;
 *   - an older event still in flight after a newer local write is ignored (puts and deletes);
 *   - a killed watch is restarted and catches up with what changed while it was down;
 *   - a nats-server kill -9 and restart: the informer catches up;
 *   - the signal stops it (done resolves).
 *
 * To add a user: `informerConformance('my user', (source, opts) => ({ view, apply, done }))` in a
 * `*.test.ts` file (see test/integration/store/informer.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { silentLogger } from '../../lib/index.ts';
import { Bucket, connect, jsonCodec, type InformerChange, type InformerSource, type InformerView, type Watch, type WatchEvent } from '../../store/index.ts';
import { startNatsServer, type NatsServer } from './nats.ts';
import { waitFor } from './wait.ts';

/** Item is the suite's record type. */
export interface Item {
  n: number;
}

/** InformerUnderTest is what a user's factory returns: the read-only view and the owner's hooks. */
export interface InformerUnderTest<T> {
  view: InformerView<T>;
  /** apply records the owner's own write at its revision (store Informer.apply) */
  apply(key: string, value: T | undefined, revision: number): boolean;
  /** done resolves once the informer stopped after the signal aborted */
  done: Promise<void>;
}

/** InformerFactoryOptions is what the suite asks of a factory. */
export interface InformerFactoryOptions<T> {
  signal: AbortSignal;
  prefix?: string;
  onChange: (change: InformerChange<T>) => void;
}

/** InformerFactory builds the user's informer over `source` (a real bucket behind a fault injector). */
export type InformerFactory = (source: InformerSource<Item>, opts: InformerFactoryOptions<Item>) => InformerUnderTest<Item>;

/**
 * FaultySource is a real bucket whose watches the suite can hold (events stay "in flight" until
 * released) and kill (the current watch ends as a failure would end it).
 */
class FaultySource implements InformerSource<Item> {
  readonly name: string;
  opened = 0;
  private held = false;
  private waiters: (() => void)[] = [];
  private current: Watch<Item> | undefined;

  constructor(private readonly bucket: Bucket<Item>) {
    this.name = bucket.name;
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const w of this.waiters.splice(0)) w();
  }

  async kill(): Promise<void> {
    await this.current?.close();
  }

  watch(opts?: Parameters<Bucket<Item>['watch']>[0]): Watch<Item> {
    const w = this.bucket.watch(opts);
    this.current = w;
    this.opened++;
    const gate = async (): Promise<void> => {
      while (this.held) await new Promise<void>((r) => this.waiters.push(r));
    };
    return {
      get revision() {
        return w.revision;
      },
      get restarts() {
        return w.restarts;
      },
      closed: w.closed,
      close: () => w.close(),
      // A batch with any change in it waits whole (the informer reads batches).
      async *batches(): AsyncIterable<readonly WatchEvent<Item>[]> {
        for await (const batch of w.batches()) {
          if (batch.some((ev) => ev.type !== 'synced')) await gate();
          yield batch;
        }
      },
      async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent<Item>> {
        for await (const ev of w) {
          if (ev.type !== 'synced') await gate();
          yield ev;
        }
      },
    };
  }
}

/**
 * informerConformance registers the suite for one user of the informer contract; see the file
 * comment. It starts one nats-server for the suite and a fresh bucket per test.
 */
export function informerConformance(name: string, make: InformerFactory): void {
  describe(`informer conformance: ${name}`, () => {
    let server: NatsServer;
    let nc: NatsConnection;
    before(async () => {
      server = await startNatsServer();
      nc = await connect({ servers: server.url, name: 'informer-suite' });
    });
    after(async () => {
      await nc?.close();
      await server?.stop();
    });

    const setup = async (t: { after(fn: () => unknown): void }, prefix?: string) => {
      const bucket = await Bucket.open<Item>(nc, { name: `inf_${randomBytes(4).toString('hex')}`, history: 4, timeoutMs: 5000 }, jsonCodec<Item>(), { log: silentLogger() });
      const source = new FaultySource(bucket);
      const ac = new AbortController();
      const changes: InformerChange<Item>[] = [];
      const inf = make(source, { signal: ac.signal, ...(prefix ? { prefix } : {}), onChange: (c) => changes.push(c) });
      t.after(async () => {
        ac.abort();
        source.release();
        await inf.done;
      });
      return { bucket, source, ac, changes, inf, view: inf.view };
    };

    test('synced fires once the initial snapshot is in, with every live key and no deleted one', async (t) => {
      const bucket = await Bucket.open<Item>(nc, { name: `inf_${randomBytes(4).toString('hex')}`, history: 4 }, jsonCodec<Item>(), { log: silentLogger() });
      for (let i = 0; i < 50; i++) await bucket.put(`k${i}`, { n: i });
      await bucket.delete('k7');
      const ac = new AbortController();
      const changes: InformerChange<Item>[] = [];
      const inf = make(new FaultySource(bucket), { signal: ac.signal, onChange: (c) => changes.push(c) });
      t.after(async () => {
        ac.abort();
        await inf.done;
      });
      await waitFor('synced', () => inf.view.hasSynced, 30_000);
      await inf.view.synced;
      assert.equal(inf.view.entries.size, 49);
      assert.equal(inf.view.get('k7'), undefined);
      assert.deepEqual(inf.view.get('k49'), { n: 49 });
      assert.equal(inf.view.entry('k3')?.revision, (await bucket.get('k3'))?.revision);
      assert.ok(inf.view.revision >= (await bucket.lastRevision()), 'synced at or after the last revision before start');
      assert.equal(changes[0], undefined, 'the first change says "everything" (the snapshot)');
      assert.equal(changes.length, 1, 'one change for the whole snapshot');
    });

    test('puts, updates and deletes after synced reach the view and onChange', async (t) => {
      const { bucket, view, changes } = await setup(t);
      await view.synced;
      const r1 = await bucket.put('a', { n: 1 });
      const r2 = await bucket.update('a', { n: 2 }, r1);
      await bucket.put('b', { n: 5 });
      const r4 = await bucket.delete('a');
      assert.equal(await view.caughtUp(r4, 30_000), true);
      assert.equal(view.get('a'), undefined, 'deleted');
      assert.deepEqual(view.get('b'), { n: 5 });
      assert.deepEqual(view.values(), [{ n: 5 }]);
      const aChanges = changes.filter((c) => c?.key === 'a');
      assert.deepEqual(aChanges.map((c) => c?.next?.n), [1, 2, undefined]);
      assert.deepEqual(aChanges[2]?.prev, { n: 2 }, 'a delete tells what was there');
      assert.ok(r2 > r1);
    });

    test('an older event in flight after a newer local write is ignored (puts and deletes)', async (t) => {
      const { bucket, source, view, inf, changes } = await setup(t);
      await view.synced;
      source.hold();
      const r1 = await bucket.put('k', { n: 1 }); // delivered late: in flight until release
      const r2 = await bucket.update('k', { n: 2 }, r1);
      assert.equal(inf.apply('k', { n: 2 }, r2), true, 'the own write applies at once');
      assert.deepEqual(view.get('k'), { n: 2 });
      assert.equal(inf.apply('k', { n: 1 }, r1), false, 'an older revision never replaces a newer one');
      source.release();
      assert.equal(await view.caughtUp(r2, 30_000), true);
      assert.deepEqual(view.entry('k'), { value: { n: 2 }, revision: r2 });
      assert.ok(!changes.some((c) => c?.key === 'k' && c.next?.n === 1), 'never rolled back to n=1');

      source.hold();
      const r3 = await bucket.update('k', { n: 3 }, r2); // in flight
      const r4 = await bucket.delete('k', { revision: r3 });
      assert.equal(inf.apply('k', undefined, r4), true, 'the own delete applies at once');
      assert.equal(view.get('k'), undefined);
      source.release();
      assert.equal(await view.caughtUp(r4, 30_000), true);
      assert.equal(view.get('k'), undefined, 'a late put never resurrects a deleted key');
      assert.ok(!changes.some((c) => c?.key === 'k' && c.next?.n === 3), 'never showed n=3');
      const r5 = await bucket.create('k', { n: 5 });
      assert.equal(await view.caughtUp(r5, 30_000), true);
      assert.deepEqual(view.get('k'), { n: 5 }, 'a newer create after the delete is seen');
    });

    test('a killed watch is restarted and catches up with puts and deletes made while it was down', async (t) => {
      const { bucket, source, view } = await setup(t);
      await bucket.put('a', { n: 1 });
      await bucket.put('b', { n: 1 });
      await view.synced;
      await waitFor('a and b in the view', () => view.entries.size === 2, 30_000);
      const opened = source.opened;
      await source.kill();
      await bucket.delete('a');
      await bucket.put('b', { n: 2 });
      const last = await bucket.put('c', { n: 3 });
      assert.equal(await view.caughtUp(last, 30_000), true, 'caught up after the restart');
      assert.ok(source.opened > opened, 'a new watch was opened');
      assert.equal(view.hasSynced, true, 'stays synced across a restart');
      assert.equal(view.get('a'), undefined);
      assert.deepEqual(view.get('b'), { n: 2 });
      assert.deepEqual(view.get('c'), { n: 3 });
    });

    test('only keys below the prefix are followed', async (t) => {
      const { bucket, view } = await setup(t, 'in');
      await bucket.put('in.a', { n: 1 });
      await bucket.put('out.a', { n: 2 });
      await view.synced;
      const last = await bucket.put('in.b', { n: 3 });
      await bucket.put('out.b', { n: 4 });
      await waitFor('in.b', () => view.get('in.b'), 30_000);
      assert.deepEqual([...view.entries.keys()].sort(), ['in.a', 'in.b']);
      assert.ok(view.revision >= last);
    });

    test('a nats-server kill -9 and restart: the informer catches up', async (t) => {
      const { bucket, view } = await setup(t);
      await bucket.put('a', { n: 1 });
      await view.synced;
      await waitFor('a', () => view.get('a'), 30_000);
      await server.kill();
      await server.restart();
      const last = await waitFor('a write after the restart', async () => bucket.put('b', { n: 2 }), 60_000);
      await bucket.delete('a');
      assert.equal(await view.caughtUp(last, 60_000), true);
      await waitFor('the delete', () => view.get('a') === undefined, 60_000);
      assert.deepEqual(view.get('b'), { n: 2 });
    });

    test('aborting the signal stops the informer', async (t) => {
      const { ac, inf, view } = await setup(t);
      await view.synced;
      ac.abort();
      await inf.done;
      assert.equal(await view.caughtUp(Number.MAX_SAFE_INTEGER, 10_000), false, 'a stopped informer never catches up');
    });
  });
}
