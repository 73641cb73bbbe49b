// The seccomp profile every container gets: an ALLOW LIST, modelled on Docker's default profile
// (moby/profiles/seccomp/default.json, Kubernetes' RuntimeDefault): a syscall not named here fails
// with EPERM. Grouped by what the calls are for, so a review can see why each is here; the 32-bit
// twins (`*32`, `*64`) are listed because an x86 binary in an amd64 image uses them (the x32 ABI is
// not allowed at all, see seccompProfile).
//
// Stricter than Docker's: ptrace, process_vm_readv/writev, name_to_handle_at, adjtimex and
// clock_adjtime stay out even though Docker allows them (a task has no business reading another
// process's memory, the host's file handles or the clock's tuning). Calls Docker grants only with a
// capability (chroot with CAP_SYS_CHROOT, ...) follow the container's bounding set.
// runc 1.1 ignores names its libseccomp does not know, and answers ENOSYS (not EPERM) for syscalls
// newer than every name of the profile, so libc falls back to older calls.
import { DEFAULT_CAPABILITIES } from './capabilities.ts';

/** DENIED_SYSCALLS are never allowed, whatever the capabilities: the allow list must not name them. */
export const DENIED_SYSCALLS = [
  // file systems and the root
  'mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
  'open_by_handle_at', 'name_to_handle_at', 'quotactl', 'quotactl_fd', 'nfsservctl',
  // kernel code and machine state
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'create_module', 'get_kernel_syms', 'query_module',
  'reboot', 'swapon', 'swapoff', 'acct', 'syslog', 'iopl', 'ioperm', 'uselib', 'lookup_dcookie', 'vhangup', 'sysfs', '_sysctl',
  'settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64', 'adjtimex',
  // other processes and the kernel's secrets
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'process_madvise', 'keyctl', 'add_key', 'request_key',
  // kernel attack surface
  'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  // namespaces and host identity
  'unshare', 'setns', 'sethostname', 'setdomainname',
] as const;

/** ALLOWED_SYSCALLS maps each purpose to the syscalls every container may make for it. */
export const ALLOWED_SYSCALLS = {
  files: [
    'access', 'faccessat', 'faccessat2', 'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'read', 'readv', 'pread64', 'preadv', 'preadv2',
    'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'lseek', '_llseek', 'dup', 'dup2', 'dup3', 'fcntl', 'fcntl64', 'flock', 'ioctl',
    'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'fstatat64', 'newfstatat', 'statx', 'statmount', 'listmount', 'statfs', 'statfs64', 'fstatfs', 'fstatfs64',
    'getdents', 'getdents64', 'getcwd', 'chdir', 'fchdir', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'rmdir', 'rename', 'renameat', 'renameat2',
    'link', 'linkat', 'symlink', 'symlinkat', 'unlink', 'unlinkat', 'readlink', 'readlinkat', 'truncate', 'truncate64', 'ftruncate', 'ftruncate64',
    'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'chown32', 'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32', 'umask',
    'utime', 'utimes', 'utimensat', 'utimensat_time64', 'futimesat', 'fallocate', 'fadvise64', 'fadvise64_64', 'readahead',
    'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'copy_file_range', 'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice',
    'getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat', 'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat', 'listxattr', 'llistxattr', 'flistxattr', 'listxattrat',
    'removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat', 'memfd_create', 'memfd_secret', 'cachestat',
  ],
  events: [
    'select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64',
    'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2',
    'eventfd', 'eventfd2', 'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'fanotify_mark',
    'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_settime', 'timerfd_settime64', 'timerfd_gettime', 'timerfd_gettime64',
    'io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'pipe', 'pipe2',
  ],
  memory: [
    'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2', 'mlockall', 'munlock', 'munlockall',
    'remap_file_pages', 'membarrier', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'mseal', 'map_shadow_stack',
  ],
  processes: [
    'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'waitpid', 'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp',
    'setpgid', 'getsid', 'setsid', 'set_tid_address', 'set_robust_list', 'get_robust_list', 'rseq', 'prctl', 'arch_prctl', 'modify_ldt',
    'set_thread_area', 'get_thread_area', 'getrlimit', 'ugetrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'times', 'getpriority', 'setpriority',
    'capget', 'capset', 'seccomp', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self', 'pidfd_open', 'pidfd_send_signal',
    'process_mrelease', 'getcpu', 'futex', 'futex_time64', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue', 'restart_syscall', 'uretprobe',
  ],
  identity: [
    'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'getresuid', 'getresuid32', 'getresgid', 'getresgid32',
    'getgroups', 'getgroups32', 'setuid', 'setuid32', 'setgid', 'setgid32', 'setreuid', 'setreuid32', 'setregid', 'setregid32',
    'setresuid', 'setresuid32', 'setresgid', 'setresgid32', 'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32', 'setgroups', 'setgroups32', 'uname', 'sysinfo',
  ],
  signals: [
    'kill', 'tkill', 'tgkill', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
    'rt_sigtimedwait_time64', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'sigprocmask', 'sigreturn', 'pause', 'alarm',
  ],
  time: [
    'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64', 'clock_nanosleep', 'clock_nanosleep_time64', 'nanosleep',
    'gettimeofday', 'time', 'getitimer', 'setitimer', 'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_gettime64',
    'timer_settime', 'timer_settime64',
  ],
  scheduling: [
    'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getattr', 'sched_setattr', 'sched_getparam', 'sched_setparam',
    'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_rr_get_interval',
    'sched_rr_get_interval_time64', 'ioprio_get', 'ioprio_set', 'getrandom',
  ],
  network: [
    'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'shutdown', 'getsockname', 'getpeername', 'getsockopt', 'setsockopt',
    'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom', 'recvmsg', 'recvmmsg', 'recvmmsg_time64', 'socketcall',
  ],
  ipc: [
    'ipc', 'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'semctl', 'msgget', 'msgsnd', 'msgrcv', 'msgctl',
    'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedsend_time64', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_notify', 'mq_getsetattr',
  ],
} as const;

/** CAPABILITY_SYSCALLS are allowed only when the container's bounding set holds the capability (as Docker does). */
export const CAPABILITY_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
};

/** CLONE_NAMESPACE_FLAGS: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET; clone with any of them is refused. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const AF_ALG = 38;
const AF_VSOCK = 40;
/** PERSONALITIES are the personality(2) values allowed: Linux, its 32-bit-address variant, and the query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** SeccompArg is one argument comparison of a rule (libseccomp's SCMP_CMP_*). */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** LinuxSeccomp is the config.json shape runc 1.1 reads (the subset gitcell writes). */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

const EPERM = 1;
const ENOSYS = 38;

/**
 * seccompProfile returns the allow-list profile for a container whose bounding set is `caps`
 * (CAP_ names): everything else fails with EPERM. Pure; one rule per purpose plus the argument rules.
 */
export function seccompProfile(caps: readonly string[]): LinuxSeccomp {
  const allowed: string[] = Object.values(ALLOWED_SYSCALLS).flat();
  for (const [cap, names] of Object.entries(CAPABILITY_SYSCALLS)) if (caps.includes(cap)) allowed.push(...names);
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    // No SCMP_ARCH_X32: libseccomp then makes the x86_64 filter send every x32 call (number with
    // bit 30 set) to the bad-arch action, so the x32 ABI is denied outright (stricter, and Debian's
    // kernels leave it off: syscall.x32=n). The third filter section was ~13 ms of CPU in every
    // `runc init` (libseccomp building it: 43 -> 30 ms per init, 3 x 15 starts, load 12-20).
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [
      { names: allowed, action: 'SCMP_ACT_ALLOW' },
      // clone only without namespace flags: threads and forks pass, new namespaces do not.
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      // clone3 passes its flags in memory seccomp cannot read: ENOSYS makes libc fall back to clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
      // Every socket family but AF_ALG (kernel crypto) and AF_VSOCK (the hypervisor's channel).
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_ALG, op: 'SCMP_CMP_LT' }] },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_ALG + 1, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_GT' }] },
      ...PERSONALITIES.map((p) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }] })),
    ],
  };
}

/** allowedSyscalls lists the names a profile allows unconditionally or under argument rules. */
export function allowedSyscalls(profile: LinuxSeccomp): Set<string> {
  return new Set(profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names));
}

/** defaultSeccomp is the profile of a container with Docker's default capabilities. */
export function defaultSeccomp(caps: readonly string[] = DEFAULT_CAPABILITIES): LinuxSeccomp {
  return seccompProfile(caps);
}
