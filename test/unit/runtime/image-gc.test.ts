import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importRootfs } from '../../../runtime/index.ts';
import { gcBlobs } from '../../../runtime/image/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { scratch } from '../../helpers/runtime.ts';

const tmp = scratch();
const tree = (content: string) => tmp.tree({ 'etc/file': content });

test('gcBlobs removes only blobs no reference or kept manifest reaches', async () => {
  const store = await tmp.imageStore();
  const a = await importRootfs(store, await tree('a'), 'a');
  const b = await importRootfs(store, await tree('b'), 'b');
  const c = await importRootfs(store, await tree('c'), 'c');
  const stray = await store.content.writeBlob(Buffer.from('stray'));
  await store.remove('b');
  await store.remove('c');
  const dry = await gcBlobs(store, { keepManifests: [c.manifestDigest], dryRun: true });
  assert.ok(dry.removed.includes(stray.digest));
  assert.ok(await store.content.has(stray.digest), 'a dry run deletes nothing');
  const res = await gcBlobs(store, { keepManifests: [c.manifestDigest] });
  const bBlobs = [b.manifestDigest, b.configDigest, ...b.layers.map((l) => l.digest)];
  assert.deepEqual(new Set(res.removed), new Set([stray.digest, ...bBlobs]));
  for (const d of bBlobs) assert.equal(await store.content.has(d), false);
  assert.equal((await store.resolve('a')).manifestDigest, a.manifestDigest);
  assert.equal((await store.resolveDigest('c', c.manifestDigest)).manifestDigest, c.manifestDigest);
  assert.deepEqual(res.keptImages.map((k) => k.diffIds).sort(), [a.diffIds, c.diffIds].sort());
  assert.equal((await gcBlobs(store, { keepManifests: [c.manifestDigest] })).removed.length, 0);
});

test('a damaged ref file stops gc with E_REF_INVALID instead of dropping its image', async () => {
  const store = await tmp.imageStore();
  const a = await importRootfs(store, await tree('a'), 'a');
  await writeFile(join(store.refsDir, `${'0'.repeat(64)}.json`), '{"ref": "localhost/b:latest", "digest": 42');
  await assert.rejects(gcBlobs(store), (e) => isGitcellError(e, 'E_REF_INVALID') && /ref file .*0000\.json is damaged/.test((e as Error).message));
  assert.ok(await store.content.has(a.layers[0]!.digest));
});
