import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, stat, symlink, writeFile, link } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ImageStore, buildBusyboxRootfs, importRootfs, type ResolvedImage } from '../../../runtime/index.ts';
import { MediaTypes, sha256Digest } from '../../../runtime/image/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { scratch } from '../../helpers/runtime.ts';

const tmp = scratch();
const fixed = new Date('2024-01-01T00:00:00Z');

async function layerEntries(store: ImageStore, img: ResolvedImage, i = 0): Promise<tar.Header[]> {
  const ex = tar.extract();
  const src = await store.content.openBlob(img.layers[i]!.digest);
  (img.layers[i]!.mediaType.endsWith('gzip') ? src.pipe(createGunzip()) : src).pipe(ex);
  const out: tar.Header[] = [];
  for await (const e of ex) { out.push(e.header); e.resume(); }
  return out;
}

async function smallTree(): Promise<string> {
  const dir = await tmp.dir('gitcell-tree-');
  await mkdir(join(dir, 'etc'));
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'etc', 'hello'), 'hi\n');
  await writeFile(join(dir, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  await link(join(dir, 'bin', 'tool'), join(dir, 'bin', 'tool2'));
  await symlink('tool', join(dir, 'bin', 'alias'));
  return dir;
}

test('importRootfs makes a resolvable one-layer OCI image with a gzip layer and diff_ids', async () => {
  const store = await tmp.imageStore();
  const img = await importRootfs(store, await smallTree(), 'small:v1', { mtime: fixed });
  assert.equal(img.ref, 'localhost/small:v1');
  assert.equal(img.layers.length, 1);
  assert.equal(img.layers[0]!.mediaType, MediaTypes.ociLayerGzip);
  assert.equal(img.diffIds.length, 1);
  assert.deepEqual(img.config.Cmd, ['/bin/sh']);
  const again = await store.resolve('localhost/small:v1');
  assert.deepEqual(again, img);
  const entries = await layerEntries(store, img);
  assert.deepEqual(entries.map((e) => `${e.type}:${e.name}`), [
    'directory:bin', 'symlink:bin/alias', 'file:bin/tool', 'link:bin/tool2', 'directory:etc', 'file:etc/hello',
  ]);
  assert.equal(entries.find((e) => e.name === 'bin/tool2')!.linkname, 'bin/tool');
  assert.ok(entries.every((e) => e.mtime.getTime() === fixed.getTime()));
  // the diffId is the digest of the uncompressed tar
  const plain = await new Promise<Buffer>((resolve, reject) => {
    store.content.openBlob(img.layers[0]!.digest).then((s) => {
      const parts: Buffer[] = [];
      s.pipe(createGunzip()).on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
    }, reject);
  });
  assert.equal(sha256Digest(plain), img.diffIds[0]);
});

test('importing the same tree twice with a fixed mtime gives the same digest', async () => {
  const store = await tmp.imageStore();
  const tree = await smallTree();
  const a = await importRootfs(store, tree, 'a', { mtime: fixed });
  const b = await importRootfs(store, tree, 'b', { mtime: fixed });
  assert.equal(a.manifestDigest, b.manifestDigest);
  assert.equal(a.diffIds[0], b.diffIds[0]);
});

test('buildBusyboxRootfs gives a shell, applets and passwd', async () => {
  const dir = await tmp.dir('gitcell-bb-');
  await buildBusyboxRootfs(dir);
  // Applets are hard links of busybox (no inode each: rootfs.ts).
  const busybox = await stat(join(dir, 'bin', 'busybox'));
  for (const applet of ['sh', 'httpd']) assert.equal((await lstat(join(dir, 'bin', applet))).ino, busybox.ino);
  const store = await tmp.imageStore();
  const img = await importRootfs(store, dir, 'busybox', { mtime: fixed });
  assert.equal(img.ref, 'localhost/busybox:latest');
  const names = (await layerEntries(store, img)).map((e) => e.name);
  assert.ok(names.includes('bin/busybox') && names.includes('etc/passwd') && names.includes('tmp'));
});

test('list, tag and remove', async () => {
  const store = await tmp.imageStore();
  const img = await importRootfs(store, await smallTree(), 'one:v1');
  await store.tag('one:v2', img.manifestDigest);
  const list = await store.list();
  assert.deepEqual(list.map((l) => l.ref), ['localhost/one:v1', 'localhost/one:v2']);
  assert.ok(list.every((l) => l.manifestDigest === img.manifestDigest && l.size > 0 && l.error === undefined));
  await store.remove('one:v1');
  await assert.rejects(store.resolve('one:v1'), (e) => isGitcellError(e, 'E_IMAGE_NOT_FOUND'));
  await assert.rejects(store.remove('one:v1'), (e) => isGitcellError(e, 'E_IMAGE_NOT_FOUND'));
  assert.equal((await store.resolve('one:v2')).manifestDigest, img.manifestDigest);
  // by digest, without a tag, while the blobs are still there
  assert.equal((await store.resolve(`one@${img.manifestDigest}`)).manifestDigest, img.manifestDigest);
});

test('an OCI index resolves to its linux/amd64 manifest; Docker schema2 and plain layers work', async () => {
  const store = await tmp.imageStore();
  const layer = Buffer.alloc(1024); // an empty tar: two zero blocks
  const layerDesc = await store.content.writeBlob(layer, { mediaType: MediaTypes.dockerLayer });
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=1'], Cmd: ['true'] }, rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } }));
  const cfgDesc = await store.content.writeBlob(cfg);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.dockerManifest, config: { mediaType: MediaTypes.dockerConfig, digest: cfgDesc.digest, size: cfgDesc.size }, layers: [{ mediaType: MediaTypes.dockerLayer, digest: layerDesc.digest, size: layerDesc.size }] }));
  const mDesc = await store.content.writeBlob(manifest);
  const other = `sha256:${'b'.repeat(64)}`; // arm64 manifest not present locally: never read
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [
    { mediaType: MediaTypes.dockerManifest, digest: other, size: 10, platform: { os: 'linux', architecture: 'arm64' } },
    { mediaType: MediaTypes.dockerManifest, digest: mDesc.digest, size: mDesc.size, platform: { os: 'linux', architecture: 'amd64' } },
  ] }));
  const iDesc = await store.content.writeBlob(index);
  await store.tag('multi:1', iDesc.digest);
  const img = await store.resolve('multi:1');
  assert.equal(img.manifestDigest, mDesc.digest);
  assert.equal(img.manifest.mediaType, MediaTypes.dockerManifest);
  assert.deepEqual(img.config, { Env: ['A=1'], Cmd: ['true'] });
  assert.equal(img.layers[0]!.mediaType, MediaTypes.dockerLayer);
  // commit-style putImage on top of it: base layers first, OCI media types, config merged
  const upper = await store.content.writeBlob(Buffer.alloc(2048), { mediaType: MediaTypes.ociLayer });
  const child = await store.putImage('child:1', { base: img, addLayers: [{ descriptor: upper, diffId: sha256Digest(Buffer.alloc(2048)) }], config: { Cmd: ['sh'] } });
  assert.deepEqual(child.layers.map((l) => l.digest), [layerDesc.digest, upper.digest]);
  assert.deepEqual(child.layers.map((l) => l.mediaType), [MediaTypes.ociLayer, MediaTypes.ociLayer]);
  assert.deepEqual(child.diffIds, [sha256Digest(layer), sha256Digest(Buffer.alloc(2048))]);
  assert.deepEqual(child.config, { Env: ['A=1'], Cmd: ['sh'] });
  // an index with no amd64 entry
  const armOnly = await store.content.writeBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [{ mediaType: MediaTypes.ociManifest, digest: other, size: 1, platform: { os: 'linux', architecture: 'arm64' } }] })));
  await store.tag('arm:1', armOnly.digest);
  await assert.rejects(store.resolve('arm:1'), (e) => isGitcellError(e, 'E_PLATFORM_NOT_FOUND'));
});

test('broken manifests and configs give E_MANIFEST_INVALID naming the field', async () => {
  const store = await tmp.imageStore();
  const bad = await store.content.writeBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: 'sha256:nope', size: 1 }, layers: [] })));
  await assert.rejects(store.tag('bad', bad.digest), (e) => isGitcellError(e, 'E_MANIFEST_INVALID') && /config\.digest/.test((e as Error).message));
  const notJson = await store.content.writeBlob(Buffer.from('{{{'));
  await assert.rejects(store.tag('bad', notJson.digest), (e) => isGitcellError(e, 'E_MANIFEST_INVALID'));
  const zstd = await store.content.writeBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: bad.digest, size: 1 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: bad.digest, size: 1 }] })));
  await assert.rejects(store.tag('bad', zstd.digest), (e) => isGitcellError(e, 'E_LAYER_UNSUPPORTED'));
});
