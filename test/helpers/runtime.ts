// Test helper: a runtime root with a busybox image, a ContainerManager on a unique cgroup parent, and
// the leak check every runtime test ends with (mounts, cgroups, runc containers).
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContainerManager, ImageStore, buildBusyboxRootfs, importRootfs, listCgroups, readMounts, removeCgroup,
} from '../../runtime/index.ts';
import { requireRoot, requireTools } from './root.ts';

/** RuntimeFixture is one isolated runtime root for a test file. */
export interface RuntimeFixture {
  root: string;
  images: ImageStore;
  manager: ContainerManager;
  cgroupParent: string;
  /** image is a busybox image ("busybox:test") every test can run. */
  image: string;
  cleanup(): Promise<string[]>;
}

/** runtimeFixture builds the root and the busybox image; cleanup() deletes everything and returns leaks. */
export async function runtimeFixture(name: string): Promise<RuntimeFixture> {
  requireRoot();
  requireTools('runc', 'mount', 'mknod', 'setfattr', 'getfattr', 'busybox');
  const root = fs.mkdtempSync(join(tmpdir(), `gitcell-${name}-`));
  const images = new ImageStore(root);
  const rfs = join(root, 'busybox-rootfs');
  fs.mkdirSync(rfs);
  await buildBusyboxRootfs(rfs);
  await importRootfs(images, rfs, 'busybox:test');
  fs.rmSync(rfs, { recursive: true, force: true });
  const cgroupParent = `gitcell-test/${name}-${randomBytes(3).toString('hex')}`;
  const manager = new ContainerManager({ root, images, cgroupParent });
  return {
    root, images, manager, cgroupParent, image: 'busybox:test',
    async cleanup(): Promise<string[]> {
      for (const c of manager.list()) await manager.delete(c.id, { force: true }).catch(() => undefined);
      const leaks = await findLeaks(root, cgroupParent, manager);
      // Remove what is left either way, so one failure does not poison the next run.
      for (const m of readMounts().filter((m) => m.target.startsWith(root)).reverse()) {
        try { (await import('node:child_process')).execFileSync('umount', ['-l', m.target]); } catch { /* gone */ }
      }
      removeCgroup(`/${cgroupParent}`);
      // The shared "gitcell-test" level stays: removing it could race another file's runc mkdir.
      fs.rmSync(root, { recursive: true, force: true });
      return leaks;
    },
  };
}

/** findLeaks lists mounts below root, cgroups below the parent and containers runc still knows. */
export async function findLeaks(root: string, cgroupParent: string, manager: ContainerManager): Promise<string[]> {
  const leaks: string[] = [];
  for (const m of readMounts()) if (m.target.startsWith(root)) leaks.push(`mount ${m.target}`);
  for (const c of listCgroups(cgroupParent)) leaks.push(`cgroup ${c}`);
  for (const c of await manager.runc.list()) leaks.push(`runc container ${c.id} (${c.status})`);
  return leaks;
}
