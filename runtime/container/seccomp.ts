// The seccomp profile every container gets. Docker's profile is an allow list of ~350 syscalls; this
// is its deny-list dual for the calls that matter: everything that changes the host (mounts, modules,
// kexec, reboot, swap, clocks), everything that reaches into other processes or the kernel's keyring
// (ptrace, process_vm_*, kcmp, keyctl), eBPF and perf, and new user namespaces (the usual first step
// of a kernel exploit). Capabilities already block most of these; seccomp is the second wall.

/** DENIED_SYSCALLS are refused with EPERM in every container. */
export const DENIED_SYSCALLS = [
  // file systems and the root
  'mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
  'open_by_handle_at', 'name_to_handle_at', 'quotactl', 'quotactl_fd', 'nfsservctl',
  // kernel code and machine state
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'create_module', 'get_kernel_syms', 'query_module',
  'reboot', 'swapon', 'swapoff', 'acct', 'syslog', 'iopl', 'ioperm', 'uselib', 'lookup_dcookie', 'vhangup', 'sysfs', '_sysctl',
  'settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64', 'adjtimex',
  // other processes and the kernel's secrets
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'keyctl', 'add_key', 'request_key',
  // kernel attack surface
  'bpf', 'perf_event_open', 'userfaultfd',
  // namespaces
  'unshare', 'setns',
] as const;

const CLONE_NEWUSER = 0x10000000;

/** LinuxSeccomp is the config.json shape runc 1.1 reads (the subset gitcell writes). */
export interface LinuxSeccomp {
  defaultAction: string;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: { index: number; value: number; valueTwo?: number; op: string }[] }[];
}

/** defaultSeccomp returns the profile: allow by default, deny DENIED_SYSCALLS, no clone(CLONE_NEWUSER). */
export function defaultSeccomp(): LinuxSeccomp {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      // clone with CLONE_NEWUSER would open a user namespace; plain fork/thread clones pass.
      { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }] },
      // clone3 passes its flags in memory seccomp cannot read: ENOSYS makes libc fall back to clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ],
  };
}
