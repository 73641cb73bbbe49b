// Overlay mounts of a container's root filesystem. The mount is computed by a pure function (as
// containerd's overlay snapshotter does) and performed by `mount(8)`, Node having no mount(2).
import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { relative } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import type { OciMount } from './spec.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

const run = promisify(execFile);

/** OverlayPlan is everything mount(8) needs; `cwd` is set when lowerdirs are given relative to it. */
export interface OverlayPlan {
  source: string;
  target: string;
  options: string;
  cwd?: string;
}

/** OverlayInput: lower dirs bottom first (image layers), the init layer, upper, work and target. */
export interface OverlayInput {
  id: string;
  lowers: readonly string[];
  init: string;
  upper: string;
  work: string;
  target: string;
  /** base lets the plan fall back to paths relative to it when absolute ones overflow a page. */
  base?: string;
}

/** MAX_MOUNT_OPTIONS is the kernel's limit on the option string (one page, minus a margin). */
export const MAX_MOUNT_OPTIONS = 4000;

/**
 * overlayMount computes the overlay mount: lowerdir lists the init layer first, then image layers
 * top to bottom (overlayfs wants the uppermost lower first). The source is `gitcell-<id>` so a leaked
 * mount names its owner in /proc/mounts.
 */
export function overlayMount(input: OverlayInput): OverlayPlan {
  const lowers = [input.init, ...[...input.lowers].reverse()];
  const opts = (p: (s: string) => string): string =>
    `lowerdir=${lowers.map(p).join(':')},upperdir=${p(input.upper)},workdir=${p(input.work)},index=off,redirect_dir=off,metacopy=off`;
  for (const dir of [...lowers, input.upper, input.work]) {
    if (/[,:\\]/.test(dir)) throw new RuntimeError(ErrorCodes.MountBadPath, `overlay path ${dir} contains "," ":" or "\\", which mount options cannot carry`, { path: dir });
  }
  const absolute = opts((s) => s);
  const plan: OverlayPlan = { source: `gitcell-${input.id}`, target: input.target, options: absolute };
  if (absolute.length <= MAX_MOUNT_OPTIONS || !input.base) return plan;
  const base = input.base;
  const rel = opts((s) => relative(base, s));
  if (rel.length > MAX_MOUNT_OPTIONS) {
    throw new RuntimeError(ErrorCodes.MountTooManyLayers, `${input.lowers.length} layers do not fit in one overlay mount`, { layers: input.lowers.length });
  }
  return { ...plan, options: rel, cwd: base };
}

/**
 * overlayRootMount turns a plan into the first config.json mount: runc mounts the overlay on the
 * bundle's rootfs inside the container's own mount namespace, before /proc and friends, so the host
 * never sees it (nothing to leak, nothing to unmount) and no mount(8) process is spent per start.
 * Only for plans without `cwd`: runc's init does not run from a directory relative paths could use.
 */
export function overlayRootMount(plan: OverlayPlan): OciMount {
  return { destination: '/', type: 'overlay', source: plan.source, options: plan.options.split(',') };
}

/** mountOverlay performs a plan on the host (tests and tools that want a merged view). */
export async function mountOverlay(plan: OverlayPlan): Promise<void> {
  try {
    await run('mount', ['-t', 'overlay', plan.source, '-o', plan.options, plan.target], plan.cwd ? { cwd: plan.cwd } : {});
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new RuntimeError(ErrorCodes.MountFailed, `mounting the root filesystem at ${plan.target} failed: ${(e.stderr ?? e.message).trim()}`, { target: plan.target });
  }
}

/** MountEntry is one line of /proc/self/mountinfo reduced to what leak checks need. */
export interface MountEntry {
  target: string;
  fstype: string;
  source: string;
}

/** readMounts parses /proc/self/mountinfo (octal escapes in paths decoded). */
export function readMounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    const target = pre?.split(' ')[4];
    const [fstype, source] = (post ?? '').split(' ');
    if (target && fstype) out.push({ target: unescapeMount(target), fstype, source: unescapeMount(source ?? '') });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** isMounted tells whether a path is a mount point right now. */
export function isMounted(target: string): boolean {
  return readMounts().some((m) => m.target === target);
}

/** unmount removes a mount (lazily when busy); a path that is not mounted is fine. */
export async function unmount(target: string): Promise<void> {
  if (!isMounted(target)) return;
  try {
    await run('umount', [target]);
  } catch {
    await run('umount', ['-l', target]).catch((err: { stderr?: string; message: string }) => {
      if (isMounted(target)) throw new RuntimeError(ErrorCodes.UnmountFailed, `unmounting ${target} failed: ${(err.stderr ?? err.message).trim()}`, { target });
    });
  }
}
