// Test helper: a static binary that makes one syscall per line and prints how each ended, so tests
// can see, from inside a real container, what seccomp allows (busybox cannot make most of these
// calls). Built with the system gcc (scripts/bootstrap.sh installs gcc and libc6-dev).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTools } from './root.ts';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
static void report(const char *name, long r) {
  if (r != -1) printf("%s=ok\n", name);
  else if (errno == EPERM) printf("%s=EPERM\n", name);
  else printf("%s=%s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
}
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "x32") == 0) {
    /* an x32 ABI call: the x86_64 number with bit 30 set (__X32_SYSCALL_BIT) */
    report("x32_getpid", syscall(0x40000000 | SYS_getpid));
    return 0;
  }
  report("getpid", syscall(SYS_getpid));
  report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session keyring */, 0));
  report("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -3));
  report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
  report("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
  report("unshare_net", syscall(SYS_unshare, CLONE_NEWNET));
  report("mount", syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, 0));
  report("personality_no_randomize", syscall(SYS_personality, 0x0040000));
  report("socket_vsock", syscall(SYS_socket, 40, SOCK_STREAM, 0));
  report("socket_inet", syscall(SYS_socket, 2, SOCK_STREAM, 0));
  report("io_uring_setup", syscall(SYS_io_uring_setup, 1, 0));
  report("userfaultfd", syscall(SYS_userfaultfd, 0));
  report("name_to_handle_at", syscall(SYS_name_to_handle_at, -100, "/", 0, 0, 0));
  return 0;
}
`;

/** buildSyscallProbe compiles the probe into `dir` and returns its absolute path. */
export function buildSyscallProbe(dir: string): string {
  requireTools('gcc');
  writeFileSync(join(dir, 'probe.c'), SOURCE);
  const out = join(dir, 'syscall-probe');
  execFileSync('gcc', ['-static', '-O1', '-o', out, join(dir, 'probe.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

/** parseProbe turns the probe's output into name -> "ok" | "EPERM" | errno name. */
export function parseProbe(out: string): Record<string, string> {
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=') as [string, string]));
}
