// Runtime gc: what an image reference or a container needs stays, the rest goes, blobs and snapshots alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { collectGarbage, importRootfs } from '../../../runtime/index.ts';
import { chainIds } from '../../../runtime/snapshot/index.ts';
import { useRuntimeFixture } from '../../helpers/runtime.ts';

const fx = useRuntimeFixture('gc');

test('a container keeps its image\'s blobs and snapshots after the reference is gone; delete releases them', async () => {
  const other = join(fx.root, 'other-rootfs');
  fs.mkdirSync(join(other, 'bin'), { recursive: true });
  fs.writeFileSync(join(other, 'bin', 'hello'), 'hi');
  const otherImage = await importRootfs(fx.images, other, 'other:v1');
  const busybox = await fx.images.resolve(fx.image);
  const [busyboxChain] = chainIds(busybox.diffIds);
  await fx.manager.snapshots.prepare(fx.images.content, otherImage.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: otherImage.diffIds[i]! })));

  const c = await fx.manager.create({ image: fx.image, command: ['true'] });
  await fx.images.remove(fx.image);
  const dry = await collectGarbage({ root: fx.root, images: fx.images, dryRun: true });
  assert.deepEqual(dry.snapshotsRemoved, []);
  assert.deepEqual(dry.blobs.removed, []);

  const first = await collectGarbage({ root: fx.root, images: fx.images });
  assert.deepEqual(first.blobs.removed, [], 'the container still needs busybox\'s blobs');
  assert.ok(fx.manager.snapshots.has(busyboxChain!), 'and its snapshot');
  assert.equal(first.containers, 1);

  await fx.manager.delete(c.id);
  const second = await collectGarbage({ root: fx.root, images: fx.images });
  assert.deepEqual(second.snapshotsRemoved, [busyboxChain]);
  assert.ok(second.blobs.removed.includes(busybox.layers[0]!.digest), 'the busybox layer blob is gone');
  assert.ok(second.blobs.removed.includes(busybox.manifestDigest));
  assert.equal(fx.manager.snapshots.has(busyboxChain!), false);
  assert.ok(fx.manager.snapshots.has(chainIds(otherImage.diffIds)[0]!), 'a referenced image keeps its snapshot');
  assert.ok(await fx.images.content.has(otherImage.layers[0]!.digest));
});
