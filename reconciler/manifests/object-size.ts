// How big a Git object is once inflated, read without inflating it: a few compressed bytes of a
// loose object's header, or a packed object's entry header (and, for a delta, the delta's own
// header). A small object that inflates to gigabytes (a zip bomb) is refused before anything reads
// it whole; isomorphic-git would inflate it in memory first and ask questions later.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants, inflateSync } from 'node:zlib';
import { GitcellError, GitError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** ObjectSize is an object's type ('delta' when packed as a delta of another) and inflated size, and where it lives. */
export interface ObjectSize {
  type: 'commit' | 'tree' | 'blob' | 'tag' | 'delta';
  size: number;
  where: 'loose' | 'packed';
}

/** PACK_TYPES maps a pack entry's type number to its name (6 and 7 are deltas). */
const PACK_TYPES: Record<number, Exclude<ObjectSize['type'], 'delta'> | 'ofs-delta' | 'ref-delta'> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag', 6: 'ofs-delta', 7: 'ref-delta' };

/** HEAD_BYTES of compressed input inflate to at most ~1,000 times as much: enough for any header, never a bomb. */
const HEAD_BYTES = 64;

/** inflateHead inflates the start of a zlib stream, however much of it is missing, bounded by HEAD_BYTES. */
function inflateHead(compressed: Uint8Array): Buffer {
  return inflateSync(compressed.subarray(0, HEAD_BYTES), { finishFlush: constants.Z_SYNC_FLUSH });
}

/** looseObjectPath is where git keeps object `oid` unpacked. */
export function looseObjectPath(gitdir: string, oid: string): string {
  return join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
}

/** looseSize reads "<type> <size>\0" from the head of a loose object; undefined when there is none. */
function looseSize(gitdir: string, oid: string): ObjectSize | undefined {
  const path = looseObjectPath(gitdir, oid);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    const head = inflateHead(buf.subarray(0, n));
    const m = /^(commit|tree|blob|tag) (\d+)\0/.exec(head.toString('latin1', 0, Math.min(head.length, 40)));
    return m ? { type: m[1] as ObjectSize['type'], size: Number(m[2]), where: 'loose' } : undefined;
  } catch {
    return undefined; // not a zlib stream: isomorphic-git's own read reports the corruption
  } finally {
    closeSync(fd);
  }
}

interface PackIndex {
  pack: string;
  count: number;
  data: Buffer;
  key: string;
}

/** indexes caches parsed pack indexes per gitdir (keyed by the idx files' names, sizes and mtimes). */
const indexes = new Map<string, PackIndex[]>();

function packIndexes(gitdir: string): PackIndex[] {
  const dir = join(gitdir, 'objects', 'pack');
  if (!existsSync(dir)) return [];
  const idxFiles = readdirSync(dir).filter((f) => f.endsWith('.idx')).sort();
  const keyOf = (f: string) => {
    const st = statSync(join(dir, f));
    return `${f}:${st.size}:${st.mtimeMs}`;
  };
  const keys = idxFiles.map(keyOf);
  const cached = indexes.get(gitdir);
  if (cached && cached.length === keys.length && cached.every((c, i) => c.key === keys[i])) return cached;
  const out: PackIndex[] = [];
  idxFiles.forEach((f, i) => {
    const data = readFileSync(join(dir, f));
    // Version 2 only (git's default since 1.5.2): magic \377tOc, version 2, 256 fan-out entries.
    if (data.readUInt32BE(0) !== 0xff744f63 || data.readUInt32BE(4) !== 2) return;
    out.push({ pack: join(dir, f.replace(/\.idx$/, '.pack')), count: data.readUInt32BE(8 + 255 * 4), data, key: keys[i]! });
  });
  indexes.set(gitdir, out);
  return out;
}

/** offsetOf finds `oid` in a pack index (binary search within its fan-out bucket). */
function offsetOf(idx: PackIndex, oid: string): number | undefined {
  const want = Buffer.from(oid, 'hex');
  const first = want[0]!;
  const fan = 8;
  let lo = first === 0 ? 0 : idx.data.readUInt32BE(fan + (first - 1) * 4);
  let hi = idx.data.readUInt32BE(fan + first * 4);
  const names = fan + 256 * 4;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = idx.data.compare(want, 0, 20, names + mid * 20, names + mid * 20 + 20);
    if (c === 0) {
      const offsets = names + idx.count * 24; // after the names (20 bytes each) and CRCs (4 each)
      const off = idx.data.readUInt32BE(offsets + mid * 4);
      if (!(off & 0x80000000)) return off;
      const large = offsets + idx.count * 4 + (off & 0x7fffffff) * 8;
      return Number(idx.data.readBigUInt64BE(large));
    }
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return undefined;
}

/** packedSize reads a pack entry's header, and for a delta the size its result will have. */
function packedSize(pack: string, offset: number): ObjectSize | undefined {
  const fd = openSync(pack, 'r');
  try {
    const buf = Buffer.alloc(32 + HEAD_BYTES);
    const n = readSync(fd, buf, 0, buf.length, offset);
    let i = 0;
    let byte = buf[i++]!;
    const typeNo = (byte >> 4) & 7;
    while (byte & 0x80 && i < n) byte = buf[i++]!; // the entry's own size: the delta's, for deltas
    const type = PACK_TYPES[typeNo];
    if (type === undefined) return undefined;
    if (type === 'ref-delta') i += 20;
    else if (type === 'ofs-delta') while (buf[i++]! & 0x80 && i < n);
    if (type !== 'ofs-delta' && type !== 'ref-delta') {
      return { type, size: entrySize(buf), where: 'packed' };
    }
    // A delta starts with two varints: the base's size, then the result's.
    const head = inflateHead(buf.subarray(i, n));
    let p = 0;
    const varint = (): number => {
      let v = 0;
      let shift = 0;
      for (;;) {
        const b = head[p++];
        if (b === undefined) throw new Error('truncated delta header');
        v += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80)) return v;
      }
    };
    varint();
    const size = varint();
    return { type: 'delta', size, where: 'packed' };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** entrySize decodes a pack entry header's size (4 bits, then 7 bits per continuation byte). */
function entrySize(buf: Buffer): number {
  let size = buf[0]! & 0x0f;
  let shift = 4;
  for (let i = 0; buf[i]! & 0x80; i++) {
    size += (buf[i + 1]! & 0x7f) * 2 ** shift;
    shift += 7;
  }
  return size;
}

/**
 * objectSize returns how big object `oid` of the repository at `gitdir` is once inflated, reading
 * only headers; undefined when it is not found here (isomorphic-git then reports it as it does).
 */
export function objectSize(gitdir: string, oid: string): ObjectSize | undefined {
  const loose = looseSize(gitdir, oid);
  if (loose) return loose;
  for (const idx of packIndexes(gitdir)) {
    const off = offsetOf(idx, oid);
    if (off !== undefined) return packedSize(idx.pack, off);
  }
  return undefined;
}

/** objectTooLarge is the error for an object over a limit, naming it, what it is to us and the limit. */
export function objectTooLarge(oid: string, what: string, size: number | undefined, limit: number): GitcellError {
  const inflates = size === undefined ? 'inflates to more than' : `inflates to ${size} bytes, over`;
  return new GitError(ErrorCodes.GitObjectTooLarge, `git object ${oid} (${what}) ${inflates} the limit of ${limit} bytes: refused without reading it`, { oid, what, size, limit });
}

/**
 * assertObjectWithin throws E_GIT_OBJECT_TOO_LARGE when object `oid` (`what`: "tree deploy/",
 * "commit", a file name) inflates to more than `limit` bytes, judged from its header alone.
 */
export function assertObjectWithin(gitdir: string, oid: string, limit: number, what: string): void {
  const s = objectSize(gitdir, oid);
  if (s && s.size > limit) throw objectTooLarge(oid, what, s.size, limit);
}
