import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../lib/index.ts';
import { restoreLeaseBucket } from '../../../scheduler/service/liveness.ts';

test('restoreLeaseBucket makes the lease bucket again only when a pass failed on a missing stream', async () => {
  let ensured = 0;
  const bucket = { name: 'gitcell_heartbeats', ensure: async () => void ensured++ };
  await restoreLeaseBucket(bucket, new Error('info gitcell_heartbeats: stream not found'), silentLogger());
  assert.equal(ensured, 1, 'the memory-stored stream gone with a nats-server restart');
  for (const err of [new Error('timeout waiting for the JetStream acknowledgement'), new Error('fenced'), 'string']) {
    await restoreLeaseBucket(bucket, err, silentLogger());
  }
  assert.equal(ensured, 1, 'any other failure: nothing made');
  // Made by someone else meanwhile, or not allowed: logged, never thrown into the pass loop.
  await restoreLeaseBucket({ name: 'b', ensure: async () => { throw new Error('permissions violation'); } }, new Error('stream not found'), silentLogger());
});
