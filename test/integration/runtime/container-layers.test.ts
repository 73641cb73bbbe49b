// Layers and commit through real overlayfs and runc: deletions and opaque directories across layers,
// the root filesystem against `umoci unpack` of the same image exported as an OCI layout, and
// `commit` round trips (changes and deletions survive).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { commitContainer, exportOciLayout, readMounts, type ContainerOptions, type ResolvedImage } from '../../../runtime/index.ts';
import { MediaTypes } from '../../../runtime/image/index.ts';
import { waitForFile } from '../../../runtime/container/index.ts';
import { buildTar, treeFingerprint, type TarEntry } from '../../helpers/tar.ts';
import { runtimeFixture, type RuntimeFixture } from '../../helpers/runtime.ts';
import { requireTools } from '../../helpers/root.ts';

let fx: RuntimeFixture;
let layered: ResolvedImage;
const mounts: string[] = [];

async function addLayer(entries: TarEntry[]): Promise<{ descriptor: { mediaType: string; digest: string; size: number }; diffId: string }> {
  const raw = await buildTar(entries);
  const descriptor = await fx.images.content.writeBlob(raw);
  return { descriptor: { ...descriptor, mediaType: MediaTypes.ociLayer }, diffId: `sha256:${createHash('sha256').update(raw).digest('hex')}` };
}

before(async () => {
  requireTools('umoci');
  fx = await runtimeFixture('layers');
  const base = await fx.images.resolve(fx.image);
  const l2 = await addLayer([
    { name: 'etc/', type: 'directory' }, { name: 'etc/.wh.group', content: '' },
    { name: 'data/', type: 'directory' }, { name: 'data/dir1/', type: 'directory' },
    { name: 'data/dir1/a', content: 'a' }, { name: 'data/dir1/b', content: 'b' }, { name: 'data/doomed', content: 'x' },
    { name: 'data/link', type: 'symlink', linkname: 'dir1/a' }, { name: 'data/hard', type: 'link', linkname: 'data/dir1/b' },
  ]);
  const l3 = await addLayer([
    { name: 'data/', type: 'directory' }, { name: 'data/.wh.doomed', content: '' },
    { name: 'data/dir1/', type: 'directory' }, { name: 'data/dir1/c', content: 'c' }, { name: 'data/dir1/.wh..wh..opq', content: '' },
  ]);
  layered = await fx.images.putImage('layered:v1', { base, addLayers: [l2, l3] });
});
after(async () => {
  for (const m of mounts.reverse()) {
    try { execFileSync('umount', [m]); } catch { /* gone */ }
  }
  if (!fx) return;
  assert.deepEqual(await fx.cleanup(), [], 'no mounts, cgroups or runc containers left behind');
});

async function runToEnd(opts: ContainerOptions): Promise<{ exitCode: number; out: string; id: string }> {
  const c = await fx.manager.run(opts);
  const exit = await fx.manager.wait(c.id, { timeoutMs: 30_000 });
  const out = fx.manager.logs(c.id).filter((l) => l.stream === 'stdout').map((l) => l.text).join('\n');
  return { exitCode: exit.exitCode, out, id: c.id };
}

test('a file deleted in a later layer is absent; an opaque directory hides the lower content', async () => {
  const r = await runToEnd({ image: 'layered:v1', command: ['sh', '-c', 'ls /data/dir1; test -e /data/doomed && echo doomed-present; test -e /etc/group && echo group-present; cat /etc/passwd | head -1'] });
  assert.deepEqual(r.out.split('\n'), ['c', 'root:x:0:0:root:/root:/bin/sh']);
  assert.equal(r.exitCode, 0);
  await fx.manager.delete(r.id);
});

test('an image of 45 layers runs: past one page of mount options the host mounts with relative paths', async () => {
  let image = await fx.images.resolve(fx.image);
  const added = [];
  for (let i = 0; i < 44; i++) added.push(await addLayer([{ name: `many/f${i}`, content: String(i) }]));
  image = await fx.images.putImage('many:v1', { base: image, addLayers: added });
  assert.equal(image.layers.length, 45);
  const r = await runToEnd({ image: 'many:v1', command: ['sh', '-c', 'ls /many | wc -l; cat /many/f43'] });
  assert.equal(r.out, '44\n43');
  const rootfs = fx.manager.pathsOf(r.id).rootfs;
  assert.ok(readMounts().some((m) => m.target === rootfs && m.source === `gitcell-${r.id}`), 'mounted on the host');
  await fx.manager.delete(r.id);
  assert.equal(readMounts().some((m) => m.target === rootfs), false, 'and unmounted on delete');
});

test('the root filesystem equals what umoci unpack makes of the same image', async () => {
  const layout = join(fx.root, 'oci-layout');
  await exportOciLayout(fx.images, 'layered:v1', layout, 'v1');
  const out = join(fx.root, 'umoci-out');
  execFileSync('umoci', ['unpack', '--image', `${layout}:v1`, out], { stdio: 'pipe' });
  const lowers = await fx.manager.snapshots.prepare(fx.images.content, layered.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: layered.diffIds[i]! })));
  const merged = fs.mkdtempSync(join(fx.root, 'merged-'));
  execFileSync('mount', ['-t', 'overlay', 'gitcell-test', '-o', `lowerdir=${[...lowers].reverse().join(':')}`, merged]);
  mounts.push(merged);
  const ours = treeFingerprint(merged).slice(1); // the root directory itself: umoci sets it from the config
  const theirs = treeFingerprint(join(out, 'rootfs')).slice(1);
  assert.ok(ours.length > 100, `a real tree was compared (${ours.length} entries)`);
  assert.deepEqual(ours, theirs);
});

test('commit turns the read-write layer into a layer: changes and deletions survive a run of the new image', async () => {
  const r = await runToEnd({
    image: 'layered:v1', name: 'to-commit',
    command: ['sh', '-c', 'echo new > /new.txt; rm /etc/passwd; rm -rf /data/dir1; mkdir /data/dir1; echo d > /data/dir1/d; echo changed > /etc/hostname; echo ok'],
  });
  assert.equal(r.out, 'ok');
  const committed = await commitContainer(fx.manager, 'to-commit', 'committed:v1');
  assert.equal(committed.layers.length, layered.layers.length + 1);
  assert.deepEqual(committed.diffIds.slice(0, -1), layered.diffIds, 'the base layers are reused');

  // The new layer speaks OCI: whiteout and opaque entries, no per-container files.
  const names: string[] = [];
  const extract = tar.extract();
  const blob = await fx.images.content.openBlob(committed.layers.at(-1)!.digest);
  blob.pipe(createGunzip()).pipe(extract as unknown as NodeJS.WritableStream);
  for await (const e of extract) {
    names.push(e.header.name);
    e.resume();
  }
  assert.ok(names.includes('etc/.wh.passwd'), names.join(' '));
  assert.ok(names.includes('data/dir1/.wh..wh..opq'), names.join(' '));
  assert.ok(names.includes('new.txt'));
  assert.ok(!names.includes('etc/hostname'), 'per-container files stay out of images');
  await fx.manager.delete('to-commit');

  const again = await runToEnd({ image: 'committed:v1', command: ['sh', '-c', 'cat /new.txt; test -e /etc/passwd && echo passwd-present || echo passwd-gone; ls /data/dir1; cat /data/link 2>&1'] });
  assert.deepEqual(again.out.split('\n'), ['new', 'passwd-gone', 'd', 'cat: can\'t open \'/data/link\': No such file or directory']);
  await fx.manager.delete(again.id);
});

test('commit of a running container freezes it for the walk and lets it run on', async () => {
  const c = await fx.manager.run({ image: fx.image, command: ['sh', '-c', 'echo live > /live; while :; do sleep 0.1; done'] });
  const live = join(fx.manager.pathsOf(c.id).upper, 'live');
  await waitForFile(fx.manager.pathsOf(c.id).upper, ['live'], 30_000);
  while (fs.readFileSync(live, 'utf8') !== 'live\n') await new Promise((r) => setTimeout(r, 20));
  const img = await commitContainer(fx.manager, c.id, 'live:v1');
  assert.equal((await fx.manager.runc.state(c.id))?.status, 'running', 'resumed after the commit');
  await fx.manager.delete(c.id, { force: true });
  const r = await runToEnd({ image: img.ref, command: ['cat', '/live'] });
  assert.equal(r.out, 'live');
  await fx.manager.delete(r.id);
});
