import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageStore, exportOciLayout, importOciLayout, importRootfs, splitLayoutArg } from '../../../runtime/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { scratch } from '../../helpers/runtime.ts';

const tmp = scratch();

async function exported(): Promise<{ layout: string; store: ImageStore; digest: string; layer: string }> {
  const tree = await tmp.tree({ 'etc/motd': 'hello\n' });
  const store = await tmp.imageStore();
  const img = await importRootfs(store, tree, 'app:1');
  const layout = join(await tmp.dir('gitcell-layout-'), 'oci');
  await exportOciLayout(store, 'app:1', layout, 'one');
  await exportOciLayout(store, 'app:1', layout, 'two');
  return { layout, store, digest: img.manifestDigest, layer: img.layers[0]!.digest };
}

test('export adds tags to one layout; import picks by tag and round-trips the digest', async () => {
  const { layout, digest } = await exported();
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  assert.deepEqual(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']), ['one', 'two']);
  const other = await tmp.imageStore();
  assert.equal((await importOciLayout(other, layout, 'copy:1', 'two')).manifestDigest, digest);
  await assert.rejects(importOciLayout(other, layout, 'copy:2'), (e) => isGitcellError(e, 'E_IMAGE_NOT_FOUND') && /name one as DIR:TAG/.test((e as Error).message));
  await assert.rejects(importOciLayout(other, layout, 'copy:3', 'three'), (e) => isGitcellError(e, 'E_IMAGE_NOT_FOUND'));
  assert.deepEqual(splitLayoutArg('/a/b:v1'), { dir: '/a/b', tag: 'v1' });
  assert.deepEqual(splitLayoutArg('/a/b'), { dir: '/a/b' });
});

test('a hostile layout is rejected with a clear error and stores nothing wrong', async () => {
  const { layout, layer } = await exported();
  const blob = join(layout, 'blobs', 'sha256', layer.slice(7));
  const good = await readFile(blob);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 0xff;
  await writeFile(blob, flipped);
  const store = await tmp.imageStore();
  await assert.rejects(importOciLayout(store, layout, 'x', 'one'), (e) => isGitcellError(e, 'E_DIGEST_MISMATCH'));
  assert.equal(await store.content.has(layer), false);
  await rm(blob);
  await assert.rejects(importOciLayout(store, layout, 'x', 'one'), (e) => isGitcellError(e, 'E_BLOB_NOT_FOUND'));
  await writeFile(join(layout, 'index.json'), '{"manifests": [{"mediaType": "x", "digest": "sha256:../../etc", "size": 1}]}');
  await assert.rejects(importOciLayout(store, layout, 'x'), (e) => isGitcellError(e, 'E_MANIFEST_INVALID'));
  await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion": "9"}');
  await assert.rejects(importOciLayout(store, layout, 'x'), (e) => isGitcellError(e, 'E_LAYOUT_INVALID'));
  await assert.rejects(importOciLayout(store, await tmp.dir('gitcell-empty-'), 'x'), (e) => isGitcellError(e, 'E_LAYOUT_INVALID'));
  assert.deepEqual(await store.refs(), []);
});
