// Resolving a container user ("", "uid", "uid:gid", "name", "name:group") against the image's own
// /etc/passwd and /etc/group, read without following symlinks: the image is hostile too.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GitcellError, RuntimeError } from '../../lib/errors.ts';
import { readFileNoFollow } from '../../lib/fs.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import type { ResolvedImage } from '../image/index.ts';
import type { ContainerOptions } from './options.ts';

/** ResolvedUser is what the OCI spec's process.user needs, plus HOME for the environment. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/** PasswdEntry / GroupEntry are the fields of /etc/passwd and /etc/group gitcell uses. */
export interface PasswdEntry { name: string; uid: number; gid: number; home: string }
export interface GroupEntry { name: string; gid: number; members: string[] }

/** parsePasswd reads passwd(5) text, ignoring malformed lines. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
  }
  return out;
}

/** parseGroup reads group(5) text, ignoring malformed lines. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3] ? f[3].split(',').filter(Boolean) : [] });
  }
  return out;
}

const MAX_ID = 2 ** 32 - 2;

/** resolveUser is the pure core: a user string against parsed passwd and group entries. */
export function resolveUser(user: string | undefined, passwd: PasswdEntry[], groups: GroupEntry[]): ResolvedUser {
  const spec = (user ?? '').trim();
  if (spec === '') {
    const root = passwd.find((p) => p.uid === 0);
    return { uid: 0, gid: 0, additionalGids: [], home: root?.home ?? '/root' };
  }
  const [u, g, extra] = spec.split(':');
  if (extra !== undefined || u === undefined || u === '') throw bad(spec, 'expected uid, uid:gid, name or name:group');
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    if (uid > MAX_ID) throw bad(spec, 'uid out of range');
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === u);
    if (!entry) throw bad(spec, `no user "${u}" in the image's /etc/passwd`);
    uid = entry.uid;
  }
  let gid: number;
  if (g === undefined || g === '') gid = entry?.gid ?? 0;
  else if (/^\d+$/.test(g)) {
    gid = Number(g);
    if (gid > MAX_ID) throw bad(spec, 'gid out of range');
  } else {
    const grp = groups.find((x) => x.name === g);
    if (!grp) throw bad(spec, `no group "${g}" in the image's /etc/group`);
    gid = grp.gid;
  }
  const name = entry?.name;
  const additionalGids = name ? groups.filter((x) => x.members.includes(name) && x.gid !== gid).map((x) => x.gid) : [];
  return { uid, gid, additionalGids, home: entry?.home ?? '/' };
}

function bad(user: string, reason: string): GitcellError {
  return new RuntimeError(ErrorCodes.ContainerUser, `user "${user}": ${reason}`, { field: 'user', user, reason });
}

/** readImageFile reads rootfs/etc/NAME when it is a regular file reached through real directories. */
export function readImageFile(rootfs: string, rel: string, maxBytes = 1024 * 1024): string {
  let path = rootfs;
  const parts = rel.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    path = join(path, parts[i]!);
    const st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (!st) return '';
    const last = i === parts.length - 1;
    if (last ? !st.isFile() : !st.isDirectory()) return ''; // a symlink anywhere: ignore the file
    if (last && st.size > maxBytes) return '';
  }
  return readFileNoFollow(path);
}

/** resolveImageUser resolves a user string against the files of a mounted root filesystem. */
export function resolveImageUser(rootfs: string, user: string | undefined): ResolvedUser {
  return resolveUser(user, parsePasswd(readImageFile(rootfs, 'etc/passwd')), parseGroup(readImageFile(rootfs, 'etc/group')));
}

/**
 * resolveContainerUser resolves the process user: `runAsUser` (else `user`, else the image's USER)
 * against the image's own passwd and group files (`readLayered` reads a path through its layers),
 * `runAsGroup` over the gid, then `runAsNonRoot` refuses uid 0 with E_CONTAINER_RUNASNONROOT
 * (Kubernetes' "container has runAsNonRoot and image will run as root").
 */
export function resolveContainerUser(opts: ContainerOptions, image: ResolvedImage, readLayered: (path: string) => string): ResolvedUser {
  const spec = opts.runAsUser !== undefined ? String(opts.runAsUser) : (opts.user ?? image.config.User);
  const resolved = resolveUser(spec, parsePasswd(readLayered('etc/passwd')), parseGroup(readLayered('etc/group')));
  const user = opts.runAsGroup !== undefined ? { ...resolved, gid: opts.runAsGroup, additionalGids: resolved.additionalGids.filter((g) => g !== opts.runAsGroup) } : resolved;
  if (opts.runAsNonRoot && user.uid === 0) {
    const source = opts.runAsUser !== undefined ? 'runAsUser is 0' : opts.user ? `user "${opts.user}" is root` : `image ${image.ref} runs as root (USER "${image.config.User ?? ''}")`;
    throw new RuntimeError(ErrorCodes.ContainerRunAsNonRoot, `runAsNonRoot is set but ${source}: set runAsUser to a non-zero uid or use an image with a non-root USER`, { field: 'runAsNonRoot', image: image.ref });
  }
  return user;
}
