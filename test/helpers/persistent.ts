// Test helper: find a secret on persistent storage. Walks every directory below the given roots
// without following symlinks, skips memory-backed file systems (tmpfs, ramfs: what is there never
// reaches a disk) and pseudo file systems, and reads every regular file looking for the needle.
import * as fs from 'node:fs';
import { join } from 'node:path';

const MEMORY_OR_PSEUDO = new Set([
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0x9fa0, // proc
  0x62656572, // sysfs
  0x27e0eb, // cgroup v1
  0x63677270, // cgroup v2
]);

/** filesHolding returns every regular file on a persistent file system below `roots` that contains `needle`. */
export function filesHolding(roots: readonly string[], needle: string | Buffer): string[] {
  const want = Buffer.isBuffer(needle) ? needle : Buffer.from(needle);
  const hits: string[] = [];
  const walk = (dir: string): void => {
    let st: fs.StatsFs;
    try {
      st = fs.statfsSync(dir);
    } catch {
      return; // gone while walking
    }
    if (MEMORY_OR_PSEUDO.has(st.type)) return;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          if (fs.readFileSync(p).includes(want)) hits.push(p);
        } catch {
          // removed while walking
        }
      }
    }
  };
  for (const r of roots) walk(r);
  return hits;
}
