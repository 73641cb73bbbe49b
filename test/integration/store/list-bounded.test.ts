// A list (a watch until `synced`) and a watch end when their server is gone for good: a list fails
// with E_UNAVAILABLE after its deadline or once the connection closes, never a partial answer or a
// wait without end, and a watch on a closed connection ends, so nothing keeps a process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isGitcellError, silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, jsonCodec, StoreErrorCodes } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

interface Rec {
  n: number;
}

test('list fails with E_UNAVAILABLE when the server is gone (deadline), and at once when the connection closes; watches end', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url, name: 'lister' });
  t.after(() => nc.close());
  const b = await Bucket.open<Rec>(nc, { name: `l_${randomBytes(4).toString('hex')}`, history: 1, timeoutMs: 2000 }, jsonCodec<Rec>(), { log: silentLogger() });
  await b.put('a.1', { n: 1 });
  assert.deepEqual((await b.list('a')).map((r) => r.key), ['a.1']);

  await server.kill();
  const unavailable = (err: unknown) => isGitcellError(err, StoreErrorCodes.Unavailable);
  await assert.rejects(b.listWithRevision('a', { timeoutMs: 1500 }), (err: unknown) => unavailable(err) && /not complete after 1\.5 s/.test(String(err)));

  const w = b.watch({ prefix: 'a' });
  const pending = b.list('a'); // default deadline: a minute
  await nc.close();
  await assert.rejects(pending, (err: unknown) => unavailable(err) && /connection closed/.test(String(err)));
  // The watch ends by itself within a few heartbeats of the close.
  const ended = await Promise.race([w.closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 15_000))]);
  assert.equal(ended, true, 'a watch on a closed connection ends');
});
