// Test helper: integration tests need root and real tools; a missing one fails loudly (never skips).
import { execFileSync } from 'node:child_process';

/** requireRoot throws a clear error when the test does not run as root. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this integration test needs root (overlayfs, mknod, cgroups, runc); run it as root');
}

/** requireTools throws when one of the binaries is not on PATH, naming the bootstrap script. */
export function requireTools(...tools: string[]): void {
  for (const t of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${t} is not installed: run scripts/bootstrap.sh (as root)`);
    }
  }
}
