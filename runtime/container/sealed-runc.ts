// A sealed in-memory copy of runc, made once per process, that `runc create` (under conmon) is
// started from.
//
// Why: runc 1.1 protects its binary from the container (CVE-2019-5736) in `runc init`: unless
// /proc/self/exe is already a memfd sealed with exactly F_SEAL_SEAL|SHRINK|GROW|WRITE
// (libcontainer/nsenter/cloned_binary.c, is_self_cloned), init makes a read-only bind mount of its
// own binary (try_bindfd: a temp file, mount, remount read-only, open, lazy umount) or an 8.7 MB
// memfd copy, and execs itself AGAIN from it, before any container work. That is a second exec of
// the 8.7 MB Go binary (ld.so, relocations, the nsexec constructor) plus four mount-table changes on
// every container start: on this machine the second exec alone was 4% of the whole start tree's CPU
// (perf, 50 starts), and every start waited for it.
//
// Started from this copy, runc create's /proc/self/exe is the sealed memfd, so is its init's (it
// execs /proc/self/exe), and init skips the clone: same protection (no process, root included, can
// write, truncate or grow a sealed memfd), one exec fewer. runc itself treats such a memfd as its own
// clone ("an admin could bind-mount a sealed memfd to /usr/bin/runc to allow re-use").
//
//   perl (once): memfd_create ─▶ copy BIN ─▶ F_ADD_SEALS ─▶ prints the fd ─▶ waits for stdin's end
//   this process: open /proc/<perl>/fd/<n> read-only (its own reference) ─▶ end perl's stdin
//   runc path for conmon -r and runc exec: /proc/<this pid>/fd/<fd>   (valid while this process lives)
//
// Only create uses it: `runc exec` runs a command of the task's choosing, and an exec of a script
// whose interpreter is /proc/self/exe would run runc itself inside the container, where a process
// could open the copy for writing: no write gets through the seals, but a file open for writing
// cannot be executed (ETXTBSY), which would stop every later start of this process. A create runs
// nothing of the container's before runc init (not dumpable inside it) has exec'ed the entrypoint.
//
// Node has no memfd_create; perl is Essential in Debian (perl-base), so it is always there. The copy
// is 8.7 MB of shared memory per process (not in its RSS). When anything fails (no perl, another
// architecture), callers get the binary's own path and runc clones itself as before.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { silentLogger, type Logger } from '../../lib/log.ts';

/** PERL is Debian's perl (package perl-base, Essential: present on every Debian system). */
export const PERL = '/usr/bin/perl';

// x86_64 syscall numbers (perl-base has no syscall.ph): memfd_create 319, fcntl 72.
// 3 = MFD_CLOEXEC|MFD_ALLOW_SEALING; 1033 = F_ADD_SEALS; 15 = F_SEAL_SEAL|SHRINK|GROW|WRITE (runc's RUNC_MEMFD_SEALS).
const SEAL_SCRIPT = String.raw`
use strict;
my ($bin) = @ARGV;
my $name = "runc";
my $fd = syscall(319, $name, 3);
die "memfd_create: $!\n" if $fd < 0;
open(my $out, ">&=", $fd) or die "fdopen: $!\n";
open(my $in, "<", $bin) or die "$bin: $!\n";
binmode $in; binmode $out;
my ($buf, $total) = ("", 0);
while (my $n = sysread($in, $buf, 1 << 20)) {
  my $off = 0;
  while ($off < $n) { my $w = syswrite($out, $buf, $n - $off, $off); die "write: $!\n" unless defined $w; $off += $w; }
  $total += $n;
}
die "$bin: short copy ($total bytes)\n" unless $total == -s $in;
die "seal: $!\n" if syscall(72, $fd, 1033, 15) < 0;
$| = 1;
print "$fd\n";
<STDIN>;
`;

/** SEAL_TIMEOUT_MS bounds the copy (8.7 MB on a loaded machine takes well under a second). */
export const SEAL_TIMEOUT_MS = 30_000;

/**
 * sealedCopy copies `bin` into a memfd sealed as runc seals its own clone and returns the path
 * this process can exec it by (`/proc/<pid>/fd/<n>`, valid while this process lives). It rejects
 * when perl cannot make it.
 */
export function sealedCopy(bin: string, timeoutMs = SEAL_TIMEOUT_MS): Promise<string> {
  if (process.arch !== 'x64') return Promise.reject(new Error(`sealed runc copies are made on x86_64 only (this is ${process.arch})`));
  return new Promise((resolve, reject) => {
    const child = spawn(PERL, ['-e', SEAL_SCRIPT, bin], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
    let out = '';
    let err = '';
    let settled = false;
    let held: string | undefined;
    const finish = (e: Error | undefined, path?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdin.end(); // perl's copy is closed once it returns: this process holds its own
      if (e) {
        child.kill('SIGKILL');
        reject(e);
      } else resolve(path!);
    };
    const timer = setTimeout(() => finish(new Error(`perl did not seal a copy of ${bin} within ${timeoutMs} ms`)), timeoutMs);
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      try {
        const n = Number(out.slice(0, nl));
        const fd = fs.openSync(`/proc/${child.pid}/fd/${n}`, 'r');
        if (fs.fstatSync(fd).size !== fs.statSync(bin).size) throw new Error(`the sealed copy of ${bin} has the wrong size`);
        // Not usable before perl is gone: while its writable descriptor is open, exec of the copy
        // fails with ETXTBSY (seen: the first start of `gitcell up` failed and waited out its backoff).
        held = `/proc/${process.pid}/fd/${fd}`;
        child.stdin.end();
      } catch (e) {
        finish(e as Error);
      }
    });
    child.on('error', (e) => finish(new Error(`cannot start ${PERL}: ${e.message}`)));
    child.on('close', (code) => finish(held && code === 0 ? undefined : new Error(`perl could not seal a copy of ${bin} (exit ${code}): ${err.trim()}`), held));
  });
}

const copies = new Map<string, Promise<string>>();

/**
 * runcForInit is the path to start `runc create` from: the
 * process's sealed copy of `bin`, made at the first call; `bin` itself when no copy can be made
 * (logged once). Never rejects.
 */
export function runcForInit(bin: string, log: Logger = silentLogger()): Promise<string> {
  let p = copies.get(bin);
  if (!p) {
    p = sealedCopy(bin).catch((err: Error) => {
      log.warn({ runc: bin, err: err.message }, 'no sealed copy of runc: runc init clones its binary on every start');
      return bin;
    });
    copies.set(bin, p);
  }
  return p;
}
