// Where a container's config.json lives. runc reads it once, at `runc run`, and it holds the whole
// process environment: a container given secret values (ContainerOptions.secretEnv) gets its bundle
// on a tiny tmpfs of its own (`<dir>/bundle`, mounted by create, unmounted by delete), so those
// values live in memory only and never reach the disk ROOT is on. Other containers keep config.json
// in `<dir>` (no mount(8) process per create). The root filesystem path in config.json is absolute,
// so the bundle directory may sit anywhere.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import { unmount } from './mounts.ts';
import type { OciSpec } from './spec.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { runChecked } from '../network/exec.ts';

/** run: the tmpfs mount through the spawn helper, not a fork of the agent (runChecked). */
const run = runChecked;

/** BUNDLE_TMPFS_BYTES sizes a secret bundle's tmpfs: config.json with a large environment fits. */
export const BUNDLE_TMPFS_BYTES = 4 * 1024 * 1024;

/** TMPFS_MAGIC and RAMFS_MAGIC are statfs(2) f_type values of memory-backed file systems. */
export const TMPFS_MAGIC = 0x01021994;
export const RAMFS_MAGIC = 0x858458f6;

/** isMemoryBacked tells whether `dir` is on tmpfs or ramfs (nothing written there reaches a disk). */
export function isMemoryBacked(dir: string): boolean {
  const t = fs.statfsSync(dir).type;
  return t === TMPFS_MAGIC || t === RAMFS_MAGIC;
}

/** secretBundleDir is the tmpfs bundle directory of the container whose directory is `dir`. */
export function secretBundleDir(dir: string): string {
  return join(dir, 'bundle');
}

/**
 * writeBundle writes config.json for the container in `dir` and returns the bundle directory runc
 * must be given. With `inMemory`, it first mounts a private tmpfs at `<dir>/bundle` (mode 0700) and
 * checks that the file system really is memory-backed before a byte is written: the check stands
 * between a secret and the disk, so a failed mount is an error, never a silent fallback.
 */
export async function writeBundle(dir: string, id: string, spec: OciSpec, inMemory: boolean): Promise<string> {
  // Compact: runc reads it once, people rarely; indented it was twice the bytes (16 KB, the seccomp list).
  const text = JSON.stringify(spec);
  if (!inMemory) {
    fs.writeFileSync(join(dir, 'config.json'), text, { mode: 0o600 });
    return dir;
  }
  const bundle = secretBundleDir(dir);
  fs.mkdirSync(bundle, { mode: 0o700 });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${BUNDLE_TMPFS_BYTES},mode=0700,nosuid,nodev,noexec`, `gitcell-bundle-${id}`, bundle]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new RuntimeError(ErrorCodes.MountFailed, `mounting the in-memory bundle at ${bundle} failed: ${(e.stderr ?? e.message).trim()}`, { target: bundle });
  }
  if (!isMemoryBacked(bundle)) {
    throw new RuntimeError(ErrorCodes.MountFailed, `${bundle} is not on tmpfs after mounting it; not writing secret values there`, { target: bundle });
  }
  fs.writeFileSync(join(bundle, 'config.json'), text, { mode: 0o600 });
  return bundle;
}

/** releaseBundle unmounts a container's in-memory bundle, if it has one; safe to repeat. */
export async function releaseBundle(dir: string): Promise<void> {
  await unmount(secretBundleDir(dir));
}
