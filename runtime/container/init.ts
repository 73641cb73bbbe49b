// The init layer: the per-container files every container expects (/etc/hostname, /etc/hosts,
// /etc/resolv.conf) and the mount points runc will mount on, as a lower layer above the image. Keeping
// them out of the read-write layer keeps `commit` free of them, as Docker's "-init" layer does.
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import type { ExtraMount } from './spec.ts';

/** InitLayerInput: hostname, extra /etc/hosts entries, nameservers and the task's extra mounts. */
export interface InitLayerInput {
  hostname: string;
  hosts?: Record<string, string>;
  dns?: string[];
  /** the search path (with explicit nameservers only) */
  dnsSearch?: string[];
  /** resolver options such as `ndots:5` (with explicit nameservers only) */
  dnsOptions?: string[];
  mounts?: ExtraMount[];
}

/** hostsFile renders /etc/hosts: loopback names, the container's hostname, then extra entries. */
export function hostsFile(hostname: string, extra: Record<string, string> = {}): string {
  const lines = ['127.0.0.1\tlocalhost', `127.0.1.1\t${hostname}`, '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const [name, ip] of Object.entries(extra)) lines.push(`${ip}\t${name}`);
  return `${lines.join('\n')}\n`;
}

/**
 * resolvConf renders /etc/resolv.conf from explicit nameservers (with their search path and
 * options, as a node's cluster DNS gives them), or else the host's, dropping loopback resolvers
 * (127.0.0.53 and friends are unreachable from the container's network namespace).
 */
export function resolvConf(dns: string[] | undefined, hostText = '', search: string[] = [], options: string[] = []): string {
  if (dns) {
    const lines = dns.map((s) => `nameserver ${s}`);
    if (search.length) lines.push(`search ${search.join(' ')}`);
    if (options.length) lines.push(`options ${options.join(' ')}`);
    return lines.map((l) => `${l}\n`).join('');
  }
  return hostText
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l))
    .map((l) => `${l}\n`)
    .join('')
    .replace(/\n+$/, '\n');
}

/**
 * MOUNT_POINTS are the directories on the root file system that runc mounts on in every container
 * (see defaultSpec()). The mount points under /dev (pts, shm, mqueue) and /sys (fs/cgroup) are not
 * among them: runc mounts its tmpfs on /dev and sysfs on /sys first, and makes or finds those inside
 * them, never in the overlay. Each directory here is a mkdir per container create (6 of 11 gone).
 */
export const MOUNT_POINTS = ['proc', 'sys', 'dev', 'etc', 'tmp'];

/** makeMountPoints makes MOUNT_POINTS in the (empty) init layer `dir`: the same for every container. */
function makeMountPoints(dir: string): void {
  for (const d of MOUNT_POINTS) fs.mkdirSync(join(dir, d), { mode: 0o755 });
  fs.chmodSync(join(dir, 'tmp'), 0o1777);
}

/**
 * makeSkeleton makes the directories every container has, the same for all (a warm monitor's spare
 * makes them ahead, so its container's create does not: ~1 ms of a start). On the disk of ROOT: the
 * container directory, logs/ (root only: output may carry secrets), the overlay's upper/ and work/
 * (one file system). In its state directory on a tmpfs (state-root.ts): the init layer init/ with its
 * mount points and the mount point rootfs/, which only a living container needs (4 directory
 * operations on the disk instead of 11).
 */
export function makeSkeleton(p: { dir: string; state: string; logs: string; init: string; upper: string; work: string; rootfs: string }): void {
  fs.mkdirSync(p.dir, { mode: 0o711 });
  fs.mkdirSync(p.logs, { mode: 0o700 });
  fs.mkdirSync(p.state, { mode: 0o711 });
  for (const d of [p.init, p.upper, p.work, p.rootfs]) fs.mkdirSync(d, { mode: 0o755 });
  makeMountPoints(p.init);
}

/** writeInitLayer fills the init layer `dir`, which makeSkeleton made with its mount points. */
export function writeInitLayer(dir: string, input: InitLayerInput): void {
  fs.writeFileSync(join(dir, 'etc', 'hostname'), `${input.hostname}\n`, { mode: 0o644 });
  fs.writeFileSync(join(dir, 'etc', 'hosts'), hostsFile(input.hostname, input.hosts), { mode: 0o644 });
  let host = '';
  try {
    host = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // no resolver on the host: the container gets an empty resolv.conf
  }
  fs.writeFileSync(join(dir, 'etc', 'resolv.conf'), resolvConf(input.dns, host, input.dnsSearch, input.dnsOptions), { mode: 0o644 });
  for (const m of input.mounts ?? []) {
    const target = join(dir, m.destination);
    const isFile = m.type === 'bind' && fs.statSync(m.source, { throwIfNoEntry: false })?.isFile();
    fs.mkdirSync(isFile ? dirname(target) : target, { recursive: true, mode: 0o755 });
    // runc gives a tmpfs the mode of the directory it covers, so the mount point carries the mode.
    if (m.type === 'tmpfs') fs.chmodSync(target, m.mode ?? 0o755);
    if (isFile && !fs.existsSync(target)) fs.writeFileSync(target, '', { mode: 0o644 });
  }
}
