import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageStore, importRootfs, pullImage, pushImage, type ResolvedImage } from '../../../runtime/index.ts';
import { writeLayerFromDir } from '../../../runtime/image/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { registryStarter, type TestRegistry } from '../../helpers/registry.ts';
import { startProxy, type ProxyMode, type TestProxy } from '../../helpers/proxy.ts';
import { scratch } from '../../helpers/runtime.ts';

const tmp = scratch();
const registry = registryStarter(tmp);

let rootfs: string;
before(async () => {
  rootfs = await tmp.busyboxRootfs();
});

async function sampleImage(store: ImageStore, ref: string): Promise<ResolvedImage> {
  return importRootfs(store, rootfs, ref);
}

/** pushedSample pushes the sample image as `repo` (NAME:TAG) to a fresh anonymous registry. */
async function pushedSample(repo: string): Promise<{ reg: TestRegistry; img: ResolvedImage }> {
  const reg = await registry();
  const src = await tmp.imageStore();
  const img = await sampleImage(src, `${reg.domain}/${repo}`);
  await pushImage(src, `${reg.domain}/${repo}`);
  return { reg, img };
}

/** proxied starts a proxy with `mode`'s faults in front of reg, stopped after the file. */
async function proxied(reg: TestRegistry, mode?: ProxyMode): Promise<TestProxy> {
  const p = await startProxy(reg.domain, mode);
  tmp.defer(p.stop);
  return p;
}

test('push to docker-registry, remove locally, pull back: identical digests (anonymous)', async () => {
  const reg = await registry();
  const store = await tmp.imageStore();
  const ref = `${reg.domain}/samples/busybox:v1`;
  const img = await sampleImage(store, ref);
  // small chunks so the upload really is several PATCH requests
  const pushed = await pushImage(store, ref, { chunkSize: 256 * 1024 });
  assert.equal(pushed.digest, img.manifestDigest);
  await store.remove(ref);
  for (const l of img.layers) await store.content.delete(l.digest);
  await store.content.delete(img.configDigest);
  await assert.rejects(store.resolve(ref), (e) => isGitcellError(e, 'E_IMAGE_NOT_FOUND'));
  const pulled = await pullImage(store, ref);
  assert.equal(pulled.manifestDigest, img.manifestDigest);
  assert.equal(pulled.configDigest, img.configDigest);
  assert.deepEqual(pulled.layers, img.layers);
  assert.deepEqual(pulled.diffIds, img.diffIds);
  // a second push finds every blob present (HEAD) and still succeeds
  assert.equal((await pushImage(store, ref)).digest, img.manifestDigest);
  // unknown tags are a clear error
  await assert.rejects(pullImage(await tmp.imageStore(), `${reg.domain}/samples/busybox:nope`), (e) => isGitcellError(e, 'E_IMAGE_NOT_FOUND'));
});

test('htpasswd basic auth: refused without or with wrong credentials, works with the right ones', async () => {
  const reg = await registry({ kind: 'basic', username: 'alice', password: 's3cret' });
  const store = await tmp.imageStore();
  const ref = `${reg.domain}/private/app:1`;
  const img = await sampleImage(store, ref);
  await assert.rejects(pushImage(store, ref), (e) => isGitcellError(e, 'E_REGISTRY_UNAUTHORIZED'));
  await assert.rejects(pushImage(store, ref, { credentials: { username: 'alice', password: 'wrong' } }), (e) => isGitcellError(e, 'E_REGISTRY_UNAUTHORIZED'));
  await pushImage(store, ref, { credentials: { username: 'alice', password: 's3cret' } });
  const other = await tmp.imageStore();
  await assert.rejects(pullImage(other, ref), (e) => isGitcellError(e, 'E_REGISTRY_UNAUTHORIZED'));
  const pulled = await pullImage(other, ref, { credentials: { username: 'alice', password: 's3cret' } });
  assert.equal(pulled.manifestDigest, img.manifestDigest);
});

test('bearer token auth: challenge, token from the realm with basic credentials, retry', async () => {
  const reg = await registry({ kind: 'token', username: 'bob', password: 'tok3n' });
  const store = await tmp.imageStore();
  const ref = `${reg.domain}/team/web:2`;
  const img = await sampleImage(store, ref);
  await assert.rejects(pushImage(store, ref, { credentials: { username: 'bob', password: 'nope' } }), (e) => isGitcellError(e, 'E_REGISTRY_UNAUTHORIZED'));
  await pushImage(store, ref, { credentials: { username: 'bob', password: 'tok3n' } });
  assert.ok(reg.tokenRequests.some((r) => r.user === 'bob' && r.scope.includes('repository:team/web:pull,push')), JSON.stringify(reg.tokenRequests));
  const other = await tmp.imageStore();
  const pulled = await pullImage(other, ref, { credentials: { username: 'bob', password: 'tok3n' } });
  assert.equal(pulled.manifestDigest, img.manifestDigest);
  assert.ok(reg.tokenRequests.some((r) => r.scope.includes('repository:team/web:pull')));
});

test('a registry serving a blob whose digest does not match is rejected and nothing is stored', async () => {
  const { reg, img } = await pushedSample('evil/app:1');
  const proxy = await proxied(reg, { corrupt: [img.layers[0]!.digest] });
  const store = await tmp.imageStore();
  await assert.rejects(pullImage(store, `${proxy.domain}/evil/app:1`), (e) => isGitcellError(e, 'E_DIGEST_MISMATCH'));
  assert.equal(await store.content.has(img.layers[0]!.digest), false);
  assert.deepEqual(await store.refs(), []);
  // neither the bad blob nor a partial file is left behind
  assert.deepEqual((await readdir(store.content.ingestDir)).filter((n) => !n.endsWith('.lock')), []);
  assert.deepEqual(await store.content.list(), [img.configDigest]);
});

test('a manifest that does not match its digest, or a blob longer than its descriptor, is rejected', async () => {
  const { reg, img } = await pushedSample('evil/two:1');
  const badManifests = await proxied(reg, { corruptManifests: true });
  const store = await tmp.imageStore();
  await assert.rejects(pullImage(store, `${badManifests.domain}/evil/two:1`), (e) => isGitcellError(e, 'E_DIGEST_MISMATCH'));
  await assert.rejects(pullImage(store, `${badManifests.domain}/evil/two@${img.manifestDigest}`), (e) => isGitcellError(e, 'E_DIGEST_MISMATCH'));
  assert.deepEqual(await store.content.list(), []);
  const longBlobs = await proxied(reg, { extend: true });
  await assert.rejects(pullImage(store, `${longBlobs.domain}/evil/two:1`), (e) => isGitcellError(e, 'E_SIZE_MISMATCH'));
  assert.deepEqual(await store.content.list(), []);
  assert.deepEqual(await store.refs(), []);
});

test('two pulls of one image at once in one process download each blob once', async () => {
  const { reg, img } = await pushedSample('twice/app:1');
  const proxy = await proxied(reg, { delayMs: 300 });
  const store = await tmp.imageStore();
  const [a, b] = await Promise.all([pullImage(store, `${proxy.domain}/twice/app:1`), pullImage(store, `${proxy.domain}/twice/app:1`)]);
  assert.equal(a.manifestDigest, img.manifestDigest);
  assert.equal(b.manifestDigest, img.manifestDigest);
  const layerGets = proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(img.layers[0]!.digest));
  assert.equal(layerGets.length, 1);
});

test('a stalled layer download is aborted and resumes with a Range request from the partial file', async () => {
  const { reg, img } = await pushedSample('flaky/app:1');
  const cut = 100_000;
  assert.ok(img.layers[0]!.size > cut * 2, 'the layer must be bigger than the cut');
  const proxy = await proxied(reg, { cutAfter: cut, stall: true });
  const store = await tmp.imageStore();
  const pulled = await pullImage(store, `${proxy.domain}/flaky/app:1`, { idleTimeoutMs: 500 });
  assert.equal(pulled.manifestDigest, img.manifestDigest);
  const ranges = proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(img.layers[0]!.digest)).map((r) => r.range);
  // everything before the stall was kept: the second request asks for exactly the rest
  assert.deepEqual(ranges, [undefined, `bytes=${cut}-`]);
});

test('a dropped connection mid-layer is retried and the pull completes with the right digests', async () => {
  const { reg, img } = await pushedSample('flaky/drop:1');
  const proxy = await proxied(reg, { cutAfter: 100_000 });
  const store = await tmp.imageStore();
  const pulled = await pullImage(store, `${proxy.domain}/flaky/drop:1`);
  assert.equal(pulled.manifestDigest, img.manifestDigest);
  assert.deepEqual(pulled.diffIds, img.diffIds);
  const gets = proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(img.layers[0]!.digest));
  assert.equal(gets.length, 2);
});

test('a download interrupted in one run resumes from the partial file in the next', async () => {
  const { reg, img } = await pushedSample('flaky/two:1');
  const cut = 50_000;
  const proxy = await proxied(reg, { cutAfter: cut, stall: true });
  const store = await tmp.imageStore();
  await assert.rejects(pullImage(store, `${proxy.domain}/flaky/two:1`, { retries: 0, idleTimeoutMs: 500 }), (e) => isGitcellError(e, 'E_TRANSFER_INTERRUPTED'));
  assert.deepEqual(await store.refs(), []);
  const pulled = await pullImage(store, `${proxy.domain}/flaky/two:1`);
  assert.equal(pulled.manifestDigest, img.manifestDigest);
  const ranges = proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(img.layers[0]!.digest)).map((r) => r.range);
  assert.deepEqual(ranges, [undefined, `bytes=${cut}-`]);
});

test('cross-repository mount with token auth: the second push sends no layer bytes', async () => {
  const reg = await registry({ kind: 'token', username: 'bob', password: 'tok3n' });
  const creds = { username: 'bob', password: 'tok3n' };
  const store = await tmp.imageStore();
  const img = await sampleImage(store, `${reg.domain}/team/a:1`);
  await pushImage(store, `${reg.domain}/team/a:1`, { credentials: creds });
  const proxy = await proxied(reg);
  await store.tag(`${proxy.domain}/team/b:1`, img.manifestDigest);
  const out = await pushImage(store, `${proxy.domain}/team/b:1`, { credentials: creds, mountFrom: 'team/a' });
  assert.equal(out.digest, img.manifestDigest);
  const mounts = proxy.requests.filter((r) => r.method === 'POST' && r.path.includes('mount='));
  assert.equal(mounts.length, 2, 'layer and config offered as mounts');
  assert.equal(proxy.requests.filter((r) => r.method === 'PATCH').length, 0, 'no bytes uploaded');
  assert.ok(reg.tokenRequests.some((r) => r.scope.includes('repository:team/a:pull') && r.scope.includes('repository:team/b:pull,push')));
  const pulled = await pullImage(await tmp.imageStore(), `${reg.domain}/team/b:1`, { credentials: creds });
  assert.equal(pulled.manifestDigest, img.manifestDigest);
});

test('pulling an image index from docker-registry picks the linux/amd64 manifest', async () => {
  const reg = await registry();
  const store = await tmp.imageStore();
  const amd = await sampleImage(store, `${reg.domain}/multi/app:amd64`);
  await pushImage(store, `${reg.domain}/multi/app:amd64`);
  // an arm64 variant: same layer, a config that says arm64 (its own digest)
  const arm = await store.putImage(`${reg.domain}/multi/app:arm64`, { addLayers: amd.layers.map((l, i) => ({ descriptor: l, diffId: amd.diffIds[i]! })), created: '2024-01-01T00:00:00Z' });
  const armConfig = JSON.parse((await store.content.readBlob(arm.configDigest)).toString());
  armConfig.architecture = 'arm64';
  const armCfgDesc = await store.content.writeBlob(Buffer.from(JSON.stringify(armConfig)));
  const armManifest = JSON.parse((await store.content.readBlob(arm.manifestDigest)).toString());
  armManifest.config = { ...armManifest.config, digest: armCfgDesc.digest, size: armCfgDesc.size };
  const armMDesc = await store.content.writeBlob(Buffer.from(JSON.stringify(armManifest)));
  await store.tag(`${reg.domain}/multi/app:arm64`, armMDesc.digest);
  await pushImage(store, `${reg.domain}/multi/app:arm64`);
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: armMDesc.digest, size: armMDesc.size, platform: { os: 'linux', architecture: 'arm64' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.manifestDigest, size: amd.manifest.size, platform: { os: 'linux', architecture: 'amd64' } },
  ] }));
  const put = await fetch(`http://${reg.domain}/v2/multi/app/manifests/all`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: index });
  assert.equal(put.status, 201, await put.text());
  const other = await tmp.imageStore();
  const pulled = await pullImage(other, `${reg.domain}/multi/app:all`);
  assert.equal(pulled.manifestDigest, amd.manifestDigest);
  assert.equal((await other.getRef(`${reg.domain}/multi/app:all`))?.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(await other.content.has(armMDesc.digest), false, 'other platforms are not downloaded');
  // pulling by digest works too and is verified
  const byDigest = await pullImage(other, `${reg.domain}/multi/app@${amd.manifestDigest}`);
  assert.equal(byDigest.manifestDigest, amd.manifestDigest);
  // pushing the pulled index: only amd64 is local, so the amd64 manifest goes alone
  assert.equal((await pushImage(other, `${reg.domain}/multi/amd-only:1`, { source: `${reg.domain}/multi/app:all` })).digest, amd.manifestDigest);
  // pushing a local index whose platforms are all present pushes them all and the index itself
  const indexDesc = await store.content.writeBlob(index);
  await store.tag(`${reg.domain}/multi/copy:all`, indexDesc.digest);
  const pushed = await pushImage(store, `${reg.domain}/multi/copy:all`);
  assert.equal(pushed.digest, indexDesc.digest);
  const third = await tmp.imageStore();
  assert.equal((await pullImage(third, `${reg.domain}/multi/copy:all`)).manifestDigest, amd.manifestDigest);
  assert.equal((await third.getRef(`${reg.domain}/multi/copy:all`))?.digest, indexDesc.digest);
});

test('layer downloads run concurrently, never more than the bound', async () => {
  const reg = await registry();
  const store = await tmp.imageStore();
  const layers = [];
  for (let i = 0; i < 5; i++) {
    const dir = await tmp.dir('gitcell-layer-');
    await writeFile(join(dir, `file-${i}`), `layer ${i}\n`.repeat(1000));
    layers.push(await writeLayerFromDir(store, dir));
  }
  const img = await store.putImage(`${reg.domain}/many/layers:1`, { addLayers: layers });
  await pushImage(store, img.ref);
  const proxy = await proxied(reg, { delayMs: 1000 });
  const other = await tmp.imageStore();
  const pulled = await pullImage(other, `${proxy.domain}/many/layers:1`, { concurrency: 2 });
  assert.equal(pulled.manifestDigest, img.manifestDigest);
  assert.equal(pulled.layers.length, 5);
  assert.equal(proxy.peakBlobGets, 2);
});

test('a layer declared over the configured cap is refused before any blob is requested', async () => {
  const { reg, img } = await pushedSample('big/app:1');
  const proxy = await proxied(reg);
  const store = await tmp.imageStore();
  const cap = img.layers[0]!.size - 1;
  await assert.rejects(pullImage(store, `${proxy.domain}/big/app:1`, { maxBlobBytes: cap }), (e) => {
    assert.ok(isGitcellError(e, 'E_BLOB_TOO_LARGE'), String(e));
    assert.match(e.message, new RegExp(`declares ${img.layers[0]!.size} bytes, over the ${cap}-byte cap`));
    return true;
  });
  assert.deepEqual(proxy.requests.filter((r) => r.path.includes('/blobs/')), [], 'no blob was requested, not even the config');
  assert.deepEqual(await store.content.list(), []);
  assert.deepEqual(await store.refs(), []);
});

/**
 * lyingRegistry is a registry on 127.0.0.1 that serves one image whose manifest lies: `layerSize`
 * for its only layer, and a config blob announced with a Content-Length far beyond its descriptor
 * (then a few bytes and silence). It records the blob paths requested.
 */
async function lyingRegistry(layerSize: number): Promise<{ domain: string; blobGets: string[]; configDigest: string }> {
  const { createServer } = await import('node:http');
  const { createHash } = await import('node:crypto');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] } }));
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'2'.repeat(64)}`, size: layerSize }],
  }));
  const blobGets: string[] = [];
  const open = new Set<import('node:http').ServerResponse>();
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/v2/') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
    if (url.includes('/manifests/')) { res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': manifest.length }).end(manifest); return; }
    if (url.includes('/blobs/')) {
      blobGets.push(url);
      // Announces 10 GiB, sends the real config, then holds the connection open and silent.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(10 * 1024 ** 3) });
      res.write(config);
      open.add(res);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tmp.defer(() => new Promise<void>((r) => { for (const res of open) res.destroy(); server.close(() => r()); }));
  return { domain: `127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`, blobGets, configDigest };
}

test('a registry lying about sizes: a declared size over the default cap, or a body announced longer than its descriptor, is refused at once', async () => {
  const huge = await lyingRegistry(2 ** 45); // 32 TiB, over the 10 GiB default
  const store = await tmp.imageStore();
  await assert.rejects(pullImage(store, `${huge.domain}/lie/app:1`), (e) => isGitcellError(e, 'E_BLOB_TOO_LARGE') && /declares 35184372088832 bytes/.test(e.message));
  assert.deepEqual(huge.blobGets, [], 'refused before downloading anything');
  // Within the cap, the config blob is announced as 10 GiB: refused from the headers, before its
  // body is read (without that check the pull would wait on the silent connection and retry).
  const liar = await lyingRegistry(1024);
  const started = Date.now();
  await assert.rejects(pullImage(store, `${liar.domain}/lie/app:1`, { idleTimeoutMs: 60_000 }), (e) => isGitcellError(e, 'E_SIZE_MISMATCH') && /announced as 10737418240 bytes/.test(e.message));
  assert.deepEqual(liar.blobGets, [`/v2/lie/app/blobs/${liar.configDigest}`]);
  assert.ok(Date.now() - started < 50_000, 'no wait for the idle timeout');
  assert.deepEqual(await store.content.list(), []);
  assert.deepEqual((await readdir(store.content.ingestDir)).filter((n) => !n.endsWith('.lock')), [], 'no partial file kept');
});
