/** The sample images of `gitcell up`, built from busybox-static into the store the agents share. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, buildBusyboxRootfs, importRootfs } from '../../runtime/index.ts';

/** SAMPLE_IMAGE is the image every sample-repo manifest runs. */
export const SAMPLE_IMAGE = 'localhost/busybox:latest';

/** ensureSampleImages imports busybox as SAMPLE_IMAGE into `imageRoot` unless it is there; true when imported. */
export async function ensureSampleImages(imageRoot: string): Promise<boolean> {
  const store = new ImageStore(imageRoot);
  if ((await store.list()).some((i) => i.ref === SAMPLE_IMAGE)) return false;
  const rootfs = await mkdtemp(join(tmpdir(), 'gitcell-up-busybox-'));
  try {
    await buildBusyboxRootfs(rootfs);
    // An uncompressed layer: gzip of busybox (2 MB) costs ~90 ms of CPU here and each node's unpack
    // a gunzip more, on up's path to its first task; the blob stays on this machine.
    await importRootfs(store, rootfs, SAMPLE_IMAGE, { gzip: false });
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
  return true;
}
