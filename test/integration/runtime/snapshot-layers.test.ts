// Snapshots through a real overlayfs mount: whiteouts delete, opaque markers hide (wherever they sit in
// the tar), concurrent unpacks of one layer end in one snapshot, prune removes what is not kept.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Snapshotter, chainIds, listOpaque, type BlobSource, type LayerRef } from '../../../runtime/snapshot/index.ts';
import { buildTar, type TarEntry } from '../../helpers/tar.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';

let base = '';
const mounts: string[] = [];

before(() => {
  requireRoot();
  requireTools('mknod', 'setfattr', 'getfattr', 'mount');
  base = fs.mkdtempSync(join(tmpdir(), 'gitcell-snap-'));
});
after(() => {
  for (const m of mounts) {
    try { execFileSync('umount', [m]); } catch { /* already gone */ }
  }
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

/** blobs keeps layer blobs by digest, as runtime/image's ContentStore does on disk. */
class Blobs implements BlobSource {
  private readonly map = new Map<string, Buffer>();
  opened = 0;
  async add(entries: TarEntry[], gzip = false): Promise<LayerRef> {
    const raw = await buildTar(entries);
    const blob = gzip ? (await import('node:zlib')).gzipSync(raw) : raw;
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    this.map.set(digest, blob);
    return { digest, diffId: `sha256:${createHash('sha256').update(raw).digest('hex')}`, mediaType: gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar' };
  }
  async openBlob(digest: string): Promise<Readable> {
    this.opened++;
    const b = this.map.get(digest);
    if (!b) throw new Error(`no blob ${digest}`);
    return Readable.from([b.subarray(0, 1000), b.subarray(1000)]); // two chunks: headers split across writes
  }
}

function overlay(lowers: string[]): string {
  const target = fs.mkdtempSync(join(base, 'merged-'));
  execFileSync('mount', ['-t', 'overlay', 'gitcell-test', '-o', `lowerdir=${[...lowers].reverse().join(':')}`, target]);
  mounts.push(target);
  return target;
}

test('whiteouts and opaque markers, in any tar position, shape the merged overlay view', async () => {
  const blobs = new Blobs();
  const l1 = await blobs.add([
    { name: 'etc/', type: 'directory' }, { name: 'etc/a', content: 'a' }, { name: 'etc/b', content: 'b' },
    { name: 'keep/x', content: 'x' }, { name: 'opq/old', content: 'old' }, { name: 'gone/sub/f', content: 'f' },
    { name: 'samelayer/old', content: 'old' },
  ]);
  const l2 = await blobs.add([
    { name: 'etc/.wh.a', content: '' },
    { name: 'opq/', type: 'directory' }, { name: 'opq/new', content: 'new' },
    { name: 'opq/.wh..wh..opq', content: '' }, // after the directory's own content, still applies
    { name: '.wh.gone', content: '' },
    { name: 'samelayer/.wh..wh..opq', content: '' }, // before the directory entry itself
    { name: 'samelayer/', type: 'directory' }, { name: 'samelayer/new', content: 'n' },
  ], true);
  const snaps = new Snapshotter(join(base, 'root1'));
  const dirs = await snaps.prepare(blobs, [l1, l2]);
  const ids = chainIds([l1.diffId, l2.diffId]);
  assert.deepEqual(dirs, ids.map((c) => snaps.path(c)));

  const wh = fs.lstatSync(join(dirs[1]!, 'etc', 'a'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0/0 character device');
  assert.deepEqual((await listOpaque(dirs[1]!)).sort(), [join(dirs[1]!, 'opq'), join(dirs[1]!, 'samelayer')]);
  assert.equal(fs.readFileSync(join(dirs[1]!, 'opq', 'new'), 'utf8'), 'new', 'same-layer content survives its opaque marker');

  // readLayered answers like the merged view, without a mount (used to resolve users before start)
  assert.equal(snaps.readLayered(ids, 'etc/a'), '', 'whited out');
  assert.equal(snaps.readLayered(ids, 'etc/b'), 'b');
  assert.equal(snaps.readLayered(ids, 'opq/old'), '', 'hidden by the opaque directory');
  assert.equal(snaps.readLayered(ids, 'opq/new'), 'new');
  assert.equal(snaps.readLayered(ids, 'keep/x'), 'x');
  assert.equal(snaps.readLayered(ids, 'gone/sub/f'), '', 'a whited-out parent hides its subtree');
  assert.equal(snaps.readLayered(ids.slice(0, 1), 'etc/a'), 'a', 'the lower chain alone still has it');

  const merged = overlay(dirs);
  assert.deepEqual(fs.readdirSync(join(merged, 'etc')).sort(), ['b']);
  assert.deepEqual(fs.readdirSync(join(merged, 'opq')), ['new']);
  assert.deepEqual(fs.readdirSync(join(merged, 'samelayer')), ['new']);
  assert.equal(fs.existsSync(join(merged, 'gone')), false);
  assert.equal(fs.readFileSync(join(merged, 'keep', 'x'), 'utf8'), 'x');
});

test('a whiteout followed by a directory of the same name in one layer hides the lower directory', async () => {
  const blobs = new Blobs();
  const l1 = await blobs.add([{ name: 'd/lower', content: 'l' }]);
  const l2 = await blobs.add([{ name: '.wh.d', content: '' }, { name: 'd/', type: 'directory' }, { name: 'd/upper', content: 'u' }]);
  const snaps = new Snapshotter(join(base, 'root2'));
  const merged = overlay(await snaps.prepare(blobs, [l1, l2]));
  assert.deepEqual(fs.readdirSync(join(merged, 'd')), ['upper']);
});

test('concurrent unpacks of one layer, in one process and across two, commit one snapshot', async () => {
  const blobs = new Blobs();
  const files: TarEntry[] = Array.from({ length: 300 }, (_, i) => ({ name: `f/${i}`, content: `file ${i}` }));
  const l1 = await blobs.add(files, true);
  const root = join(base, 'root3');
  const a = new Snapshotter(root);
  const b = new Snapshotter(root); // a second instance stands for a second process: no shared memory
  const results = await Promise.all([a.prepare(blobs, [l1]), a.prepare(blobs, [l1]), b.prepare(blobs, [l1]), b.prepare(blobs, [l1])]);
  for (const r of results) assert.deepEqual(r, results[0]);
  assert.equal(blobs.opened, 2, 'each instance unpacked once');
  assert.deepEqual(fs.readdirSync(join(root, 'snapshots')), [chainIds([l1.diffId])[0]!.slice(7)], 'no temp dir left behind');
  assert.equal(fs.readdirSync(join(results[0]![0]!, 'f')).length, 300);
  await a.prepare(blobs, [l1]);
  assert.equal(blobs.opened, 2, 'a committed snapshot is never unpacked again');
});

test('prune removes snapshots that are not kept and a failed unpack leaves nothing', async () => {
  const blobs = new Blobs();
  const l1 = await blobs.add([{ name: 'a', content: 'a' }]);
  const l2 = await blobs.add([{ name: 'b', content: 'b' }]);
  const snaps = new Snapshotter(join(base, 'root4'));
  const [c1, c2] = chainIds([l1.diffId, l2.diffId]);
  await snaps.prepare(blobs, [l1, l2]);
  assert.equal(snaps.list().length, 2);
  assert.deepEqual(snaps.prune([c1!]), [c2]);
  assert.deepEqual(snaps.list().map((s) => s.chainId), [c1]);

  const bad = await blobs.add([{ name: '../x', content: 'x' }]);
  await assert.rejects(snaps.prepare(blobs, [bad]), /E_LAYER_UNSAFE_PATH|\.\./);
  assert.deepEqual(fs.readdirSync(snaps.dir), [c1!.slice(7)], 'the temp dir of the failed unpack is gone');
});
