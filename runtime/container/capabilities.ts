// Linux capabilities of a container: Docker's default set, the set a task may add back (Kubernetes'
// restricted profile allows only NET_BIND_SERVICE; gitcell allows re-adding what Docker grants by
// default, after a `drop: [ALL]`), and the pure function applying a task's add/drop.
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** DEFAULT_CAPABILITIES is Docker's default capability set; everything else is dropped. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
] as const;

/** ADDABLE_CAPABILITIES are what a task may add: Docker's defaults, nothing that reaches the host. */
export const ADDABLE_CAPABILITIES: readonly string[] = DEFAULT_CAPABILITIES;

/** ALL_CAPABILITIES names every capability of Linux 6.x, the ones a task may drop. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** capName normalises "net_bind_service", "NET_BIND_SERVICE" or "CAP_NET_BIND_SERVICE" to the CAP_ form. */
export function capName(name: string): string {
  const up = name.trim().toUpperCase();
  return up === 'ALL' || up.startsWith('CAP_') ? up : `CAP_${up}`;
}

/**
 * applyCapabilities returns the bounding set after a task's `drop` (names or "ALL") then `add`
 * (only ADDABLE_CAPABILITIES), starting from DEFAULT_CAPABILITIES. E_CONTAINER_INVALID names the
 * field and the capability when one is unknown or not addable.
 */
export function applyCapabilities(drop: readonly string[] = [], add: readonly string[] = []): string[] {
  const known = new Set<string>(ALL_CAPABILITIES);
  let set = new Set<string>(DEFAULT_CAPABILITIES);
  for (const raw of drop) {
    const c = capName(raw);
    if (c === 'ALL') set = new Set();
    else if (!known.has(c)) throw new RuntimeError(ErrorCodes.ContainerInvalid, `container option capDrop: unknown capability "${raw}"`, { field: 'capDrop', value: raw });
    else set.delete(c);
  }
  for (const raw of add) {
    const c = capName(raw);
    if (!ADDABLE_CAPABILITIES.includes(c)) {
      throw new RuntimeError(ErrorCodes.ContainerInvalid, `container option capAdd: "${raw}" may not be added (allowed: ${ADDABLE_CAPABILITIES.map((x) => x.slice(4)).join(', ')})`, { field: 'capAdd', value: raw });
    }
    set.add(c);
  }
  // Keep Docker's order for a stable config.json.
  return ALL_CAPABILITIES.filter((c) => set.has(c));
}
