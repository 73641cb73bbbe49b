import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, readdir, readlink, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { exportOciLayout, importOciLayout, importRootfs } from '../../../runtime/index.ts';
import { requireTool } from '../../helpers/tools.ts';
import { scratch } from '../../helpers/runtime.ts';

const run = promisify(execFile);
const tmp = scratch();

/** tree lists every path under dir with its type, mode and content/target, for comparing rootfs. */
async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(dir, p));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) { out.push(`d ${p} ${mode}`); out.push(...(await tree(dir, p))); }
    else if (st.isSymbolicLink()) out.push(`l ${p} -> ${await readlink(join(dir, p))}`);
    else out.push(`f ${p} ${mode} ${st.size} ${(await readFile(join(dir, p))).subarray(0, 64).toString('hex')}`);
  }
  return out;
}

test('umoci unpacks gitcell\'s OCI layout export to the same root filesystem', async () => {
  await requireTool('umoci');
  const rootfs = await tmp.busyboxRootfs();
  const store = await tmp.imageStore();
  const img = await importRootfs(store, rootfs, 'busybox:1');
  const layout = join(await tmp.dir('gitcell-layout-'), 'oci');
  const entry = await exportOciLayout(store, 'busybox:1', layout, 'v1');
  assert.equal(entry.digest, img.manifestDigest);
  const bundle = join(await tmp.dir('gitcell-umoci-'), 'bundle');
  await run('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
  assert.deepEqual(await tree(join(bundle, 'rootfs')), await tree(rootfs));
});

test('skopeo copies gitcell\'s export, and gitcell imports skopeo\'s copy with identical digests', async () => {
  await requireTool('skopeo');
  const rootfs = await tmp.busyboxRootfs();
  const store = await tmp.imageStore();
  const img = await importRootfs(store, rootfs, 'busybox:2');
  const base = await tmp.dir('gitcell-layout-');
  await exportOciLayout(store, img.ref, join(base, 'a'), 'v2');
  await run('skopeo', ['copy', '--quiet', `oci:${join(base, 'a')}:v2`, `oci:${join(base, 'b')}:copied`]);
  const other = await tmp.imageStore();
  const back = await importOciLayout(other, join(base, 'b'), 'again:v2', 'copied');
  assert.equal(back.manifestDigest, img.manifestDigest);
  assert.deepEqual(back.diffIds, img.diffIds);
  assert.equal(back.ref, 'localhost/again:v2');
});
