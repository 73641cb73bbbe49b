// Test helper: a runtime root with a busybox image, a ContainerManager on a unique cgroup parent, and
// the leak check every runtime test ends with (mounts, cgroups, runc containers); and, for tests that
// need no root, a scratch space of temp dirs and image/content stores removed after the file.
import * as fs from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ContainerManager, ImageStore, buildBusyboxRootfs, importRootfs, listCgroups, readMounts, removeCgroup } from '../../runtime/index.ts';
import { ContentStore } from '../../runtime/image/index.ts';
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
  requireTools('runc', 'conmon', 'mount', 'mknod', 'setfattr', 'getfattr', 'busybox');
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
      manager.close(); // with no container left, it removes its state directory on the tmpfs
      const leaks = await findLeaks(root, cgroupParent, manager);
      if (fs.existsSync(manager.stateRoot)) leaks.push(`state directory ${manager.stateRoot}`);
      // Remove what is left either way, so one failure does not poison the next run.
      for (const m of readMounts().filter((m) => m.target.startsWith(root) || m.target.startsWith(manager.stateRoot)).reverse()) {
        try { (await import('node:child_process')).execFileSync('umount', ['-l', m.target]); } catch { /* gone */ }
      }
      removeCgroup(`/${cgroupParent}`);
      // The shared "gitcell-test" level stays: removing it could race another file's runc mkdir.
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(manager.stateRoot, { recursive: true, force: true });
      return leaks;
    },
  };
}

/**
 * useRuntimeFixture gives a test file one runtimeFixture: its `before` hook fills in the returned
 * object, its `after` hook deletes everything and fails the file if any mount, cgroup or runc
 * container was left behind. Call it at the top level of the file; use the object only in tests.
 */
export function useRuntimeFixture(name: string): RuntimeFixture {
  const fx = {} as RuntimeFixture;
  let built = false;
  before(async () => {
    Object.assign(fx, await runtimeFixture(name));
    built = true;
  });
  after(async () => {
    if (!built) return;
    assert.deepEqual(await fx.cleanup(), [], 'no mounts, cgroups or runc containers left behind');
  });
  return fx;
}

/** findLeaks lists mounts below root, cgroups below the parent and containers runc still knows. */
export async function findLeaks(root: string, cgroupParent: string, manager: ContainerManager): Promise<string[]> {
  const leaks: string[] = [];
  for (const m of readMounts()) if (m.target.startsWith(root) || m.target.startsWith(manager.stateRoot)) leaks.push(`mount ${m.target}`);
  for (const c of listCgroups(cgroupParent)) leaks.push(`cgroup ${c}`);
  for (const c of await manager.runc.list()) leaks.push(`runc container ${c.id} (${c.status})`);
  return leaks;
}

/**
 * Scratch is one test file's disposable state: temp dirs, the stores made in them, and whatever else
 * must be undone (a registry's stop). Everything goes in cleanup(), last made first.
 */
export interface Scratch {
  /** dir makes a fresh empty temp dir whose name starts with prefix. */
  dir(prefix: string): Promise<string>;
  /** imageStore makes an ImageStore on a fresh temp root. */
  imageStore(): Promise<ImageStore>;
  /** contentStore makes a ContentStore in a fresh temp dir. */
  contentStore(): Promise<ContentStore>;
  /** tree makes a temp dir holding `files` (relative path to content), parents created as needed. */
  tree(files: Record<string, string>): Promise<string>;
  /** busyboxRootfs builds a runnable busybox root filesystem in a fresh temp dir. */
  busyboxRootfs(): Promise<string>;
  /** defer adds an undo step to cleanup(). */
  defer(undo: () => Promise<void> | void): void;
  /** cleanup runs every undo step, newest first, each once. */
  cleanup(): Promise<void>;
}

/**
 * scratch makes a Scratch and registers its cleanup() as an `after` hook of the calling test file,
 * so call it at the top level of the file: nothing it made outlives the file, pass or fail.
 */
export function scratch(): Scratch {
  const undo: (() => Promise<void> | void)[] = [];
  const s: Scratch = {
    async dir(prefix) {
      const d = await mkdtemp(join(tmpdir(), prefix));
      undo.push(() => rm(d, { recursive: true, force: true }));
      return d;
    },
    async imageStore() {
      return new ImageStore(await s.dir('gitcell-root-'));
    },
    async contentStore() {
      return new ContentStore(await s.dir('gitcell-content-'));
    },
    async tree(files) {
      const d = await s.dir('gitcell-tree-');
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(d, path)), { recursive: true });
        await writeFile(join(d, path), content);
      }
      return d;
    },
    async busyboxRootfs() {
      const d = await s.dir('gitcell-bb-');
      await buildBusyboxRootfs(d);
      return d;
    },
    defer(fn) {
      undo.push(fn);
    },
    async cleanup() {
      while (undo.length > 0) await undo.pop()!();
    },
  };
  after(() => s.cleanup());
  return s;
}
