// Test helper: builds layer tarballs in memory with tar-stream, including the malformed ones a
// hostile registry could serve (patched sizes), and fingerprints directory trees.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

/** TarEntry is one entry of a test tarball; `content` makes a file unless `type` says otherwise. */
export interface TarEntry {
  name: string;
  type?: tar.Header['type'];
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
}

/** buildTar packs entries in order (duplicates allowed) and gzips when asked. */
export async function buildTar(entries: readonly TarEntry[], opts: { gzip?: boolean } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? (e.content !== undefined ? 'file' : 'directory');
    const body = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    const header = {
      name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0,
      mtime: new Date(1_700_000_000_000), linkname: e.linkname ?? '', devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
      size: body?.length ?? 0,
    };
    await new Promise<void>((resolve, reject) => pack.entry(header, body ?? '', (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  const raw = Buffer.concat(chunks);
  return opts.gzip ? gzipSync(raw) : raw;
}

/** withDeclaredSize rewrites the size field of the first header (and its checksum), as an attacker would. */
export function withDeclaredSize(tarball: Buffer, size: number): Buffer {
  const out = Buffer.from(tarball);
  out.write(size.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i]!;
  out.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return out;
}

/** treeFingerprint lists every path below `dir` with type, mode, owner, size, content hash and link target. */
export function treeFingerprint(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = rel === '' ? dir : join(dir, rel);
    const st = fs.lstatSync(abs);
    let detail = '';
    if (st.isFile()) detail = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    else if (st.isSymbolicLink()) detail = `-> ${fs.readlinkSync(abs)}`;
    else if (st.isCharacterDevice() || st.isBlockDevice()) detail = `dev ${st.rdev}`;
    out.push(`${rel || '.'} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size} ${detail}`);
    if (st.isDirectory()) for (const name of fs.readdirSync(abs).sort()) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (!skip(child)) walk(child);
    }
  };
  walk('');
  return out;
}
