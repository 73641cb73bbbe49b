import { NetworkError } from '../../lib/errors.ts';
import { readdirIfExists } from '../../lib/fs.ts';
import { runCommand } from './exec.ts';
import { findExecutable, pathDirs } from '../../lib/fs.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** NETNS_DIR is where `ip netns` keeps its bind-mounted namespaces (iproute2's fixed location). */
export const NETNS_DIR = '/var/run/netns';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;

/** validateNetnsName rejects names `ip netns` would misread or that could escape NETNS_DIR. */
export function validateNetnsName(name: string): void {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw new NetworkError(ErrorCodes.NetnsName, `network namespace name "${name}" is invalid: use letters, digits, '.', '_' and '-' (at most 201 characters)`, { name });
  }
}

/** netnsPath is the path a runtime joins (`linux.namespaces[].path`) and CNI gets as CNI_NETNS. */
export function netnsPath(name: string): string {
  validateNetnsName(name);
  return `${NETNS_DIR}/${name}`;
}

/** listNetns returns the names of every named network namespace on the machine. */
export async function listNetns(): Promise<string[]> {
  return (await readdirIfExists(NETNS_DIR)).sort();
}

/** netnsExists tells whether a named network namespace exists. */
export async function netnsExists(name: string): Promise<boolean> {
  return (await listNetns()).includes(name);
}

/**
 * createNetns makes a named network namespace with its loopback up, in one `ip -batch` process
 * (`netns add`, then `ip link set lo up` inside it): what the CNI loopback plugin did, without a
 * second process from the caller and a Go runtime start (~15 ms of CPU each on the start path).
 * An existing namespace is kept (a restarted agent finishing a half-done start must not fail on its
 * own leftovers) and gets its loopback up.
 */
export async function createNetns(name: string): Promise<string> {
  const path = netnsPath(name);
  const ip = ipBinary();
  const exists = await netnsExists(name);
  const lines = [...(exists ? [] : [`netns add ${name}`]), `netns exec ${name} ${ip} link set lo up`];
  const r = await runCommand(ip, ['-batch', '-'], { input: `${lines.join('\n')}\n`, helper: true });
  if (r.code !== 0 && !(await netnsExists(name))) {
    throw new NetworkError(ErrorCodes.NetnsCreate, `cannot create network namespace ${name}: ${r.stderr.trim()}`, { name });
  }
  return path;
}

/** deleteNetns removes a named network namespace; a missing one is not an error (idempotent). */
export async function deleteNetns(name: string): Promise<void> {
  validateNetnsName(name);
  if (!(await netnsExists(name))) return;
  const r = await runCommand(ipBinary(), ['netns', 'delete', name], { helper: true });
  if (r.code !== 0 && (await netnsExists(name))) {
    throw new NetworkError(ErrorCodes.NetnsDelete, `cannot delete network namespace ${name}: ${r.stderr.trim()}`, { name });
  }
}

/** execInNetns runs a command inside a named network namespace (`ip netns exec`). */
export function execInNetns(name: string, argv: string[], options: { timeoutMs?: number } = {}) {
  validateNetnsName(name);
  return runCommand(ipBinary(), ['netns', 'exec', name, ...argv], options);
}

let ipPath: string | undefined;

/** ipBinary is iproute2's `ip` by absolute path (lib findExecutable), looked up once. */
export function ipBinary(): string {
  ipPath ??= findExecutable('ip', ['/usr/sbin', '/sbin', '/usr/bin', '/bin', ...pathDirs()]) ?? 'ip';
  return ipPath;
}
