import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { isGitcellError, silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, jsonCodec, StoreErrorCodes } from '../../../store/index.ts';
import { startNatsCluster, type NatsCluster } from '../../helpers/nats.ts';

interface Seq {
  n: number;
}

/** streamLeader returns the index of the server leading the bucket's stream. */
async function streamLeader(cluster: NatsCluster, stream: string, url: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 100; i++) {
      const info = await jsm.streams.info(stream).catch(() => undefined);
      const leader = info?.cluster?.leader;
      const idx = cluster.servers.findIndex((s) => s.name === leader);
      if (idx >= 0) return idx;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await nc.close();
  }
  throw new Error(`no leader for ${stream}`);
}

test('R3 cluster: kill -9 of a follower, then of the stream leader, while writing a numbered sequence', async (t) => {
  const cluster = await startNatsCluster({ t });
  const nc = await connect({ servers: cluster.urls, name: 'writer' });
  const watcherNc = await connect({ servers: [...cluster.urls].reverse(), name: 'watcher' });
  t.after(() => Promise.all([nc.close(), watcherNc.close()]));
  const cfg = { name: `f_${randomBytes(4).toString('hex')}`, replicas: 3, history: 1, timeoutMs: 2000 };
  const bucket = await Bucket.open<Seq>(nc, cfg, jsonCodec<Seq>(), { log: silentLogger() });
  const watchBucket = await Bucket.bind<Seq>(watcherNc, cfg, jsonCodec<Seq>(), { log: silentLogger() });

  const seen = new Set<number>();
  const revisions = new Set<number>();
  let dupes = 0;
  const w = watchBucket.watch({ prefix: 'seq' });
  t.after(() => w.close());
  const watching = (async () => {
    for await (const ev of w) {
      if (ev.type !== 'put') continue;
      // A retried write whose first attempt was stored after all shows the same n at two
      // revisions; a revision seen twice would be the watcher's fault.
      if (revisions.has(ev.revision)) dupes++;
      revisions.add(ev.revision);
      seen.add(ev.value.n);
    }
  })();

  const acked = new Map<number, number>(); // n -> revision
  let n = 0;
  let lastAck = Date.now();
  let maxGap = 0;
  // commit writes until `count` more are acknowledged; an unacknowledged write is retried with the
  // same number (it may or may not have been stored: both are fine, its key just gets rewritten).
  async function commit(count: number): Promise<void> {
    const until = acked.size + count;
    while (acked.size < until) {
      try {
        const rev = await bucket.put(`seq.${n}`, { n });
        acked.set(n, rev);
        const now = Date.now();
        maxGap = Math.max(maxGap, now - lastAck);
        lastAck = now;
        n++;
      } catch (err) {
        if (!isGitcellError(err, StoreErrorCodes.Unavailable) && !isGitcellError(err, StoreErrorCodes.Failed)) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  const stalls: Record<string, number> = {};
  await commit(200);
  const leader = await streamLeader(cluster, bucket.stream, cluster.url);
  const follower = [0, 1, 2].find((i) => i !== leader)!;
  for (const [label, victim] of [
    ['follower', follower],
    ['stream leader', leader],
  ] as const) {
    maxGap = 0;
    lastAck = Date.now();
    const writing = commit(400);
    await new Promise((r) => setTimeout(r, 100)); // mid-sequence
    await cluster.kill(victim);
    await writing; // writes resume: 400 more acknowledged after the kill
    stalls[label] = maxGap;
    // Every acknowledged write is readable from the surviving majority (leader reads).
    const stored = await bucket.list('seq');
    const byN = new Map(stored.map((r) => [r.value.n, r.revision]));
    const lost = [...acked.keys()].filter((k) => !byN.has(k));
    assert.deepEqual(lost, [], `after killing the ${label}, ${lost.length} acknowledged writes are gone`);
    await cluster.restart(victim);
  }
  const deadline = Date.now() + 30_000;
  while ([...acked.keys()].some((k) => !seen.has(k)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await w.close();
  await watching;
  const unseen = [...acked.keys()].filter((k) => !seen.has(k));
  assert.deepEqual(unseen, [], 'the watcher saw every acknowledged write');
  assert.equal(dupes, 0, 'no revision delivered twice');
  t.diagnostic(`write stall after kill -9: follower ${stalls.follower} ms, stream leader ${stalls['stream leader']} ms; watcher consumer restarts ${w.restarts}`);
});

test('R3 cluster: a read right after a CAS write sees it, even through a server that is not the stream leader', async (t) => {
  const cluster = await startNatsCluster({ t });
  const setup = await connect({ servers: cluster.urls });
  t.after(() => setup.close());
  const cfg = { name: `ryw_${randomBytes(4).toString('hex')}`, replicas: 3 };
  const b0 = await Bucket.open<Seq>(setup, cfg, jsonCodec<Seq>(), { log: silentLogger() });
  const leader = await streamLeader(cluster, b0.stream, cluster.url);
  // Connect only to a follower: without leader reads, direct gets could be answered by a lagging replica.
  const follower = cluster.servers[(leader + 1) % 3]!;
  const nc = await connect({ servers: follower.url });
  t.after(() => nc.close());
  const b = await Bucket.bind<Seq>(nc, cfg, jsonCodec<Seq>(), { log: silentLogger() });
  let rev = await b.put('k', { n: 0 });
  for (let n = 1; n <= 300; n++) {
    rev = await b.update('k', { n }, rev);
    const got = await b.get('k');
    assert.equal(got?.revision, rev, `read after write ${n} returned revision ${got?.revision}, wrote ${rev}`);
    assert.equal(got?.value.n, n);
  }
  const r = await b.updateWithRetry('k', (cur) => ({ n: (cur?.n ?? 0) + 1 }));
  assert.equal((await b.get('k'))?.revision, r?.revision);
});
