import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isGitcellError, silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, jsonCodec, StoreErrorCodes } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

interface Seq {
  n: number;
}

test('a watcher sees every revision exactly once across a nats-server kill -9 and restart', async (t) => {
  const server = await startNatsServer({ t });
  const writerNc = await connect({ servers: server.url, name: 'writer' });
  const watcherNc = await connect({ servers: server.url, name: 'watcher' });
  t.after(() => Promise.all([writerNc.close(), watcherNc.close()]));
  const cfg = { name: `w_${randomBytes(4).toString('hex')}`, history: 64, timeoutMs: 2000 };
  const writer = await Bucket.open<Seq>(writerNc, cfg, jsonCodec<Seq>(), { log: silentLogger() });
  const reader = await Bucket.bind<Seq>(watcherNc, cfg, jsonCodec<Seq>(), { log: silentLogger() });

  const delivered: number[] = [];
  const deliveredSet = new Set<number>();
  let dupes = 0;
  let outOfOrder = 0;
  const w = reader.watch({ prefix: 'seq' });
  t.after(() => w.close());
  const watching = (async () => {
    for await (const ev of w) {
      if (ev.type === 'synced') continue;
      if (deliveredSet.has(ev.revision)) dupes++;
      if (delivered.length && ev.revision <= delivered[delivered.length - 1]!) outOfOrder++;
      delivered.push(ev.revision);
      deliveredSet.add(ev.revision);
    }
  })();

  const acked: number[] = [];
  const total = 600;
  let restarted = false;
  for (let n = 0; n < total; n++) {
    if (n === 250) {
      await server.restart(); // kill -9, then start again on the same port and data
      restarted = true;
    }
    const key = `seq.k${n % 40}`;
    for (;;) {
      try {
        // Every 10th operation is a delete, so the watcher must carry both kinds across the restart.
        acked.push(n % 10 === 9 ? await writer.delete(key) : await writer.put(key, { n }));
        break;
      } catch (err) {
        if (!isGitcellError(err, StoreErrorCodes.Unavailable)) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  assert.ok(restarted);
  const last = acked[acked.length - 1]!;
  const deadline = Date.now() + 20_000;
  while (!deliveredSet.has(last) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await w.close();
  await watching;
  const missing = acked.filter((r) => !deliveredSet.has(r));
  assert.deepEqual(missing, [], `watcher missed ${missing.length} acknowledged revisions`);
  assert.equal(dupes, 0, 'no revision delivered twice');
  assert.equal(outOfOrder, 0, 'revisions delivered in order');
  assert.ok(w.restarts >= 1, 'the watcher had to re-create its consumer');
  t.diagnostic(`acked ${acked.length}, delivered ${delivered.length}, consumer restarts ${w.restarts}`);
});
