// Container options as callers give them, and their validation at the boundary: every refusal names
// the field and the reason (E_CONTAINER_INVALID), so bad input from a manifest never reaches runc.
import type { ResolvedImage } from '../image/index.ts';
import { isAbsolute, posix } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import { applyCapabilities } from './capabilities.ts';
import type { ContainerResources, ExtraMount } from './spec.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** ContainerOptions: what a caller (CLI, agent) asks for. Only `image` is required. */
export interface ContainerOptions extends ContainerResources {
  /** image reference as the ImageStore resolves it. */
  image: string;
  name?: string;
  /** command replaces the image's Cmd (the image's Entrypoint stays), as `docker run IMAGE CMD...`. */
  command?: string[];
  entrypoint?: string[];
  /** env entries "K=V" override the image's by key. */
  env?: string[];
  /**
   * secretEnv entries "K=V" override `env` by key. They are kept in memory only: the container's
   * config.json then lives on a tmpfs of its own (bundle.ts), never on the disk under ROOT.
   */
  secretEnv?: string[];
  cwd?: string;
  /** user: "", "uid", "uid:gid", "name" or "name:group", resolved in the image's /etc/passwd. */
  user?: string;
  /** runAsUser replaces the uid of `user` (or of the image's USER); its primary group from the image. */
  runAsUser?: number;
  /** runAsGroup replaces the primary gid, whatever `user` says. */
  runAsGroup?: number;
  /** runAsNonRoot refuses to create the container when its user resolves to uid 0 (E_CONTAINER_RUNASNONROOT). */
  runAsNonRoot?: boolean;
  /** readOnlyRootfs makes the root file system read-only (mounts and /dev/shm stay writable). */
  readOnlyRootfs?: boolean;
  /** capDrop removes capabilities (names, with or without CAP_, or "ALL") from Docker's default set. */
  capDrop?: string[];
  /** capAdd adds capabilities back, only from ADDABLE_CAPABILITIES. */
  capAdd?: string[];
  hostname?: string;
  /** cgroupParent groups containers per caller, e.g. "gitcell/node-1" (default "gitcell"). */
  cgroupParent?: string;
  hosts?: Record<string, string>;
  dns?: string[];
  /** dnsSearch is the resolv.conf search path (e.g. `default.svc.cluster.local svc.cluster.local cluster.local`) */
  dnsSearch?: string[];
  /** dnsOptions are resolv.conf options (e.g. `ndots:5`) */
  dnsOptions?: string[];
  labels?: Record<string, string>;
  log?: { maxBytes?: number; keep?: number };
}

/** NAME_PATTERN is what a container name may look like (Docker's rule, bounded). */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

function invalid(field: string, reason: string, value?: unknown): never {
  throw new RuntimeError(ErrorCodes.ContainerInvalid, `container option ${field}: ${reason}`, { field, reason, value });
}

function cleanAbsolute(field: string, p: string): string {
  if (typeof p !== 'string' || !isAbsolute(p) || p.includes('\0')) invalid(field, 'must be an absolute path', p);
  if (p.split('/').includes('..')) invalid(field, 'must not contain ".."', p);
  return posix.normalize(p);
}

function positiveInt(field: string, v: number | undefined, min = 1): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) invalid(field, `must be an integer >= ${min}`, v);
}

/** validateOptions checks every field and returns a normalised copy. */
export function validateOptions(o: ContainerOptions): ContainerOptions {
  if (!o || typeof o.image !== 'string' || o.image.trim() === '') invalid('image', 'is required');
  if (o.name !== undefined && !NAME_PATTERN.test(o.name)) invalid('name', `must match ${NAME_PATTERN}`, o.name);
  for (const f of ['command', 'entrypoint'] as const) {
    const v = o[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((a) => typeof a !== 'string' || a.includes('\0')))) invalid(f, 'must be a list of strings', v);
  }
  for (const f of ['env', 'secretEnv'] as const) {
    // A secretEnv value is never echoed back in the error: only its key.
    for (const e of o[f] ?? []) if (typeof e !== 'string' || !/^[^=\0]+=/.test(e) || e.includes('\0')) invalid(f, 'entries must look like KEY=VALUE', f === 'env' ? e : String(e).split('=')[0]);
  }
  if (o.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(o.hostname)) invalid('hostname', 'must be a DNS name of at most 63 characters', o.hostname);
  for (const f of ['runAsUser', 'runAsGroup'] as const) {
    const v = o[f];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0 || v > 2 ** 32 - 2)) invalid(f, 'must be an integer id from 0 to 4294967294', v);
  }
  for (const f of ['capDrop', 'capAdd'] as const) {
    const v = o[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((c) => typeof c !== 'string'))) invalid(f, 'must be a list of capability names', v);
  }
  if (o.capDrop !== undefined || o.capAdd !== undefined) applyCapabilities(o.capDrop, o.capAdd); // names checked here
  positiveInt('memoryBytes', o.memoryBytes, 4 * 1024 * 1024);
  positiveInt('cpuMillis', o.cpuMillis, 10);
  positiveInt('cpuShares', o.cpuShares, 2);
  positiveInt('pidsLimit', o.pidsLimit, 1);
  const mounts = (o.mounts ?? []).map((m, i): ExtraMount => {
    const dest = cleanAbsolute(`mounts[${i}].destination`, m.destination);
    if (dest === '/' || /^\/(proc|sys|dev)(\/|$)/.test(dest)) invalid(`mounts[${i}].destination`, 'must not cover /, /proc, /sys or /dev', dest);
    if (m.type === 'bind') return { type: 'bind', source: cleanAbsolute(`mounts[${i}].source`, m.source), destination: dest, readonly: m.readonly !== false };
    if (m.type === 'tmpfs') {
      positiveInt(`mounts[${i}].sizeBytes`, m.sizeBytes);
      if (m.mode !== undefined && (!Number.isInteger(m.mode) || m.mode < 0 || m.mode > 0o7777)) invalid(`mounts[${i}].mode`, 'must be a file mode', m.mode);
      return { type: 'tmpfs', destination: dest, ...(m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}), ...(m.mode !== undefined ? { mode: m.mode } : {}) };
    }
    return invalid(`mounts[${i}].type`, 'must be "bind" or "tmpfs"', (m as { type: unknown }).type);
  });
  if (o.cwd !== undefined) cleanAbsolute('cwd', o.cwd);
  if (o.netnsPath !== undefined) cleanAbsolute('netnsPath', o.netnsPath);
  for (const [name, ip] of Object.entries(o.hosts ?? {})) {
    if (!/^[a-zA-Z0-9.-]+$/.test(name) || !/^[0-9a-fA-F.:]+$/.test(ip)) invalid('hosts', 'entries must map a host name to an IP address', { [name]: ip });
  }
  for (const s of o.dns ?? []) if (!/^[0-9a-fA-F.:]+$/.test(s)) invalid('dns', 'entries must be IP addresses', s);
  positiveInt('log.maxBytes', o.log?.maxBytes, 1024);
  positiveInt('log.keep', o.log?.keep, 1);
  return { ...o, mounts };
}

/** mergeEnv applies `over` on top of `base` by key, keeping first-seen order. */
export function mergeEnv(base: readonly string[], over: readonly string[]): string[] {
  const map = new Map<string, string>();
  for (const e of [...base, ...over]) {
    const i = e.indexOf('=');
    if (i > 0) map.set(e.slice(0, i), e);
  }
  return [...map.values()];
}

/** argsOf is the process's argv: the entrypoint (the option's, else the image's) then the command; E_CONTAINER_INVALID when empty. */
export function argsOf(image: ResolvedImage, opts: ContainerOptions): string[] {
  const entrypoint = opts.entrypoint ?? image.config.Entrypoint ?? [];
  const cmd = opts.command ?? (opts.entrypoint ? [] : image.config.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new RuntimeError(ErrorCodes.ContainerInvalid, `container option command: image ${image.ref} has no Entrypoint or Cmd, give a command`, { field: 'command' });
  return args;
}
