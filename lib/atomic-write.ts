/**
 * Atomic file replacement, the one gitcell uses for every small state file (journals, pid and
 * cluster files, image refs, key rings): write a temp file with a name no other writer uses (pid +
 * random), fsync it, rename it over the target, fsync the directory. A reader sees the old file or
 * the new one, never a torn one; two concurrent writers never write into each other's temp file
 * (a fixed `${path}.tmp` lets one rename the other's half-written data into place); a crash
 * leaves at worst a `.<name>.tmp-*` file beside the target, never a broken target.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** AtomicWriteOptions: the file mode of the new file (default 0o644 less the umask). */
export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the file and its directory (default true); false only for caches a crash may lose */
  durable?: boolean;
}

/**
 * A random part drawn once per process (two processes with one pid in different pid namespaces
 * differ by it) and a counter per call: randomBytes per call was 3 % of a hollow node process's
 * CPU at 10,000 nodes (two journal writes per task).
 */
const processTag = randomBytes(6).toString('hex');
let tempCounter = 0;

/** tempPathFor names a temp file beside `path` that no other writer (process or call) picks. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${processTag}-${(tempCounter++).toString(36)}`);
}

/** writeFileAtomic replaces `path` with `data` atomically: readers see the old file or the new one, never a torn one. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(path);
  const durable = opts.durable ?? true;
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    try {
      // The mode given at open is filtered by the umask; a key file must be exactly what was asked.
      if (opts.mode !== undefined) await fh.chmod(opts.mode);
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  if (durable) await syncDir(dirname(path));
}

/** writeFileAtomicSync is writeFileAtomic for the few callers that cannot await (exit hooks). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = tempPathFor(path);
  const durable = opts.durable ?? true;
  try {
    const fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
    try {
      if (opts.mode !== undefined) fchmodSync(fd, opts.mode);
      writeFileSync(fd, data);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) {
    try {
      const fd = openSync(dirname(path), 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Some filesystems refuse fsync on a directory; the rename itself already happened.
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself already happened.
  }
}
