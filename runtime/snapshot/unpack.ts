// unpackLayer applies one OCI layer tar to an empty directory, treating every byte as hostile.
//
//   blob ─▶ gunzip? ─▶ meter (size limit + diffID hash) ─▶ tar-stream extract ─▶ apply entry
//                                                                              └▶ at the end: whiteouts,
//                                                                                 opaque markers, dir times
//
// Safety rests on four rules, each enforced in one place:
//  1. names are cleaned by cleanEntryName (no `..`, absolute paths contained);
//  2. every parent component is lstat'ed and must be a real directory: nothing is ever written
//     through a symlink (ParentResolver, with a cache that is invalidated whenever an entry is replaced);
//  3. files are created with O_EXCL|O_NOFOLLOW after unlinking what was there, so a duplicate entry
//     never writes through an earlier symlink or hardlink;
//  4. metadata calls never follow symlinks (lchown, lutimes), and device nodes are never created.
// File system calls are synchronous on purpose: each is microseconds, a layer has thousands, and the
// promise round trip per call would cost more than the call itself; the event loop still turns between
// tar chunks.
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { GitcellError, RuntimeError } from '../../lib/errors.ts';
import type { RuntimeErrorCode } from '../../lib/error-codes.ts';
import { HashCounter } from '../../lib/hash-counter.ts';
import { classifyWhiteout, cleanEntryName, safeMode, type EntryPath } from './paths.ts';
import { makeWhiteouts, markOpaque } from './fsops.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** UnpackLimits bounds what one layer may cost: decompressed bytes (gzip bombs) and entry count. */
export interface UnpackLimits {
  maxBytes: number;
  maxEntries: number;
}

/** defaultUnpackLimits returns the limits used when a caller gives none: 16 GiB and 1M entries. */
export function defaultUnpackLimits(): UnpackLimits {
  return { maxBytes: 16 * 1024 ** 3, maxEntries: 1_000_000 };
}

/** UnpackOptions: whether the stream is gzip, limits, and the diffID the uncompressed tar must have. */
export interface UnpackOptions {
  gzip: boolean;
  limits?: Partial<UnpackLimits>;
  expectedDiffId?: string;
  /** layer is a label for error messages (a digest or a test name). */
  layer?: string;
}

/** UnpackResult reports what was applied and what was skipped (device nodes, AUFS meta files). */
export interface UnpackResult {
  entries: number;
  bytes: number;
  diffId: string;
  whiteouts: number;
  opaques: number;
  /** opaqueDirs are the directories (relative, '' = root) marked opaque, for lookups without xattrs. */
  opaqueDirs: string[];
  skipped: { name: string; reason: string }[];
}

/** Entry is one tar entry being applied: its cleaned path (relative and absolute) and its safe metadata. */
interface Entry {
  h: tar.Header;
  parts: EntryPath;
  rel: string;
  abs: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

/** UNPACK_YIELD_EVERY: entries applied between two turns of the event loop. */
const UNPACK_YIELD_EVERY = 16;

/** unpackLayer streams `input` (a layer blob) into the empty directory `dir`, refusing any entry that would write outside it or through a link. */
export async function unpackLayer(input: Readable, dir: string, opts: UnpackOptions): Promise<UnpackResult> {
  const limits = { ...defaultUnpackLimits(), ...opts.limits };
  const label = opts.layer ?? 'layer';
  // The decompressed bytes are counted and hashed (the diff ID) and capped: gzip bombs stop here.
  const meter = new HashCounter(limits.maxBytes, label, (layer, limit) =>
    new RuntimeError(ErrorCodes.LayerTooLarge, `${layer}: more than ${limit} bytes once decompressed`, { layer, limit }));
  const extract = tar.extract();
  const stages: Readable[] = opts.gzip ? [input, createGunzip(), meter] : [input, meter];
  const fail = (err: unknown): void => {
    for (const s of stages) s.destroy();
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!;
    s.on('error', (err) => fail(wrapStreamError(err, label)));
    const next = stages[i + 1];
    if (next) s.pipe(next as Transform);
  }
  meter.pipe(extract as unknown as NodeJS.WritableStream); // streamx Writable speaks node's pipe protocol

  const applier = new Applier(dir, label);
  const skipped: { name: string; reason: string }[] = [];
  let entries = 0;
  try {
    for await (const entry of extract) {
      entries++;
      // A turn of the event loop every 16 entries: entries without data (directories, links) are
      // applied in one chain of promise continuations, so an unpack held its process's thread from
      // the first entry to the last. Under `gitcell up` the three agents share one process and each
      // unpacks the sample image while it waits for its subnet: their subnets were taken in only
      // once all three unpacks had ended (the unpack-yields test).
      if (entries % UNPACK_YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      if (entries > limits.maxEntries) {
        throw new RuntimeError(ErrorCodes.LayerTooManyEntries, `${label}: more than ${limits.maxEntries} entries`, { layer: label, limit: limits.maxEntries });
      }
      const h = entry.header;
      if ((h.size ?? 0) > limits.maxBytes) {
        throw new RuntimeError(ErrorCodes.LayerTooLarge, `${label}: entry "${h.name}" declares ${h.size} bytes, over the limit of ${limits.maxBytes}`, { layer: label, entry: h.name, limit: limits.maxBytes });
      }
      const skip = await applier.apply(h, entry);
      if (skip) skipped.push({ name: h.name, reason: skip });
      entry.resume(); // drain whatever the applier did not read (skipped entries)
    }
  } catch (err) {
    fail(err);
    throw wrapStreamError(err, label);
  }
  await applier.finish();
  const diffId = meter.digest();
  if (opts.expectedDiffId && opts.expectedDiffId !== diffId) {
    throw new RuntimeError(ErrorCodes.LayerDiffidMismatch, `${label}: uncompressed content has ${diffId}, the image says ${opts.expectedDiffId}`, { layer: label, expected: opts.expectedDiffId, actual: diffId });
  }
  return { entries, bytes: meter.bytes, diffId, whiteouts: applier.whiteoutCount, opaques: applier.opaqueCount, opaqueDirs: applier.opaqueDirs, skipped };
}

function wrapStreamError(err: unknown, label: string): Error {
  if (err instanceof GitcellError) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
    return new RuntimeError(ErrorCodes.LayerCorrupt, `${label}: gzip stream is corrupt: ${e.message}`, { layer: label });
  }
  if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code) && e.syscall) {
    return new RuntimeError(ErrorCodes.LayerApplyFailed, `${label}: ${e.syscall} failed: ${e.message}`, { layer: label, errno: e.code });
  }
  return new RuntimeError(ErrorCodes.LayerCorrupt, `${label}: not a valid tar stream: ${e?.message ?? String(err)}`, { layer: label });
}

const O_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** Applier turns tar entries into files below `root`; it owns the invariants listed at the top. */
class Applier {
  private readonly dirs = new Set<string>(['']); // relative paths known to be real directories
  private readonly whiteouts = new Map<string, EntryPath>();
  private readonly opaque = new Map<string, EntryPath>();
  private readonly dirTimes: { rel: string; parts: EntryPath; mtime: Date }[] = [];
  whiteoutCount = 0;
  opaqueCount = 0;
  opaqueDirs: string[] = [];

  constructor(private readonly root: string, private readonly label: string) {}

  private refuse(code: RuntimeErrorCode, name: string, reason: string): never {
    throw new RuntimeError(code, `${this.label}: entry "${name}": ${reason}`, { layer: this.label, entry: name, reason });
  }

  /** parentOf makes sure every parent of `parts` is a real directory, creating missing ones. */
  private parentOf(parts: EntryPath, name: string, create: boolean): string | undefined {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i]! : `${rel}/${parts[i]}`;
      if (this.dirs.has(rel)) continue;
      const abs = join(this.root, rel);
      const st = lstatOrNull(abs);
      if (st === null) {
        if (!create) return undefined;
        fs.mkdirSync(abs, 0o755);
      } else if (st.isSymbolicLink()) {
        if (!create) return undefined;
        this.refuse(ErrorCodes.LayerUnsafeLink, name, `parent "${rel}" is a symlink; writing through symlinks is refused`);
      } else if (!st.isDirectory()) {
        if (!create) return undefined;
        this.refuse(ErrorCodes.LayerUnsafePath, name, `parent "${rel}" is not a directory`);
      }
      this.dirs.add(rel);
    }
    return rel;
  }

  /** clear removes whatever sits at rel (a later duplicate entry wins) and forgets cached dirs below. */
  private clear(rel: string, abs: string, keepDir: boolean): fs.Stats | null {
    const st = lstatOrNull(abs);
    if (st === null) return null;
    if (st.isDirectory()) {
      if (keepDir) return st;
      fs.rmSync(abs, { recursive: true, force: true }); // rm never follows symlinks inside the tree
      for (const d of this.dirs) if (d === rel || d.startsWith(`${rel}/`)) this.dirs.delete(d);
    } else fs.unlinkSync(abs);
    return st;
  }

  /** apply handles one entry and returns a reason when it was skipped rather than applied. */
  async apply(h: tar.Header, body: AsyncIterable<unknown>): Promise<string | undefined> {
    const cleaned = cleanEntryName(h.name);
    if (!cleaned.ok) this.refuse(ErrorCodes.LayerUnsafePath, h.name, cleaned.reason);
    const parts = cleaned.parts;
    const wh = classifyWhiteout(parts);
    if (wh.kind !== 'none') return this.applyWhiteout(h, parts, wh);
    const rel = parts.join('/');
    const abs = rel === '' ? this.root : join(this.root, rel);
    if (rel === '' && h.type !== 'directory') this.refuse(ErrorCodes.LayerUnsafePath, h.name, 'only a directory may name the root');
    if (rel !== '') this.parentOf(parts, h.name, true);
    const e: Entry = {
      h, parts, rel, abs,
      mode: safeMode(h.mode, h.type === 'directory' ? 0o755 : 0o644),
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      mtime: h.mtime ?? new Date(0),
    };
    switch (h.type) {
      case 'directory':
        return this.applyDirectory(e);
      case 'file':
      case 'contiguous-file':
        return this.applyFile(e, body);
      case 'symlink':
        return this.applySymlink(e);
      case 'link':
        return this.applyHardlink(e);
      case 'fifo':
        return 'fifo entries are not created';
      case 'character-device':
      case 'block-device':
        return 'device nodes are never created from a layer';
      default:
        return `unsupported entry type ${h.type}`;
    }
  }

  /** applyWhiteout records a whiteout or opaque marker (applied in finish) or skips AUFS metadata. */
  private applyWhiteout(h: tar.Header, parts: EntryPath, wh: Exclude<ReturnType<typeof classifyWhiteout>, { kind: 'none' }>): string | undefined {
    switch (wh.kind) {
      case 'invalid':
        this.refuse(ErrorCodes.LayerBadWhiteout, h.name, wh.reason);
      case 'meta':
        return 'AUFS metadata entry';
      case 'opaque':
        this.parentOf(parts, h.name, true);
        this.opaque.set(wh.dir.join('/'), wh.dir);
        return undefined;
      case 'whiteout':
        this.parentOf(wh.target, h.name, true);
        this.whiteouts.set(wh.target.join('/'), wh.target);
        return undefined;
    }
  }

  private applyDirectory(e: Entry): undefined {
    const { rel, abs, parts, mode } = e;
    const prev = rel === '' ? lstatOrNull(abs) : this.clear(rel, abs, true);
    if (prev === null || !prev.isDirectory()) fs.mkdirSync(abs, mode);
    // A whiteout of the same name earlier in this layer hid the lower entry: keep it hidden.
    if (this.whiteouts.delete(rel)) this.opaque.set(rel, parts);
    fs.lchownSync(abs, e.uid, e.gid);
    fs.chmodSync(abs, mode); // abs is a real directory here: chmod cannot follow a link
    this.dirs.add(rel);
    this.dirTimes.push({ rel, parts, mtime: e.mtime });
    return undefined;
  }

  private async applyFile(e: Entry, body: AsyncIterable<unknown>): Promise<undefined> {
    this.clear(e.rel, e.abs, false);
    this.whiteouts.delete(e.rel);
    const fd = fs.openSync(e.abs, O_FLAGS, 0o600);
    try {
      for await (const chunk of body) writeAll(fd, chunk as Buffer);
      fs.fchownSync(fd, e.uid, e.gid);
      fs.fchmodSync(fd, e.mode);
      fs.futimesSync(fd, e.mtime, e.mtime);
    } finally {
      fs.closeSync(fd);
    }
    return undefined;
  }

  private applySymlink(e: Entry): undefined {
    this.clear(e.rel, e.abs, false);
    this.whiteouts.delete(e.rel);
    // The target is stored, never followed by us; inside the container it resolves in its root.
    fs.symlinkSync(e.h.linkname ?? '', e.abs);
    fs.lchownSync(e.abs, e.uid, e.gid);
    fs.lutimesSync(e.abs, e.mtime, e.mtime);
    return undefined;
  }

  /** applyHardlink links to a file this layer already wrote; any other target is refused. */
  private applyHardlink(e: Entry): string | undefined {
    const { h, rel, abs } = e;
    const target = cleanEntryName(h.linkname ?? '');
    if (!target.ok) this.refuse(ErrorCodes.LayerUnsafeLink, h.name, `hardlink target "${h.linkname}": ${target.reason}`);
    const trel = target.parts.join('/');
    if (trel === '' || this.parentOf(target.parts, h.name, false) === undefined) {
      this.refuse(ErrorCodes.LayerUnsafeLink, h.name, `hardlink target "${h.linkname}" is not a file inside this layer`);
    }
    const tabs = join(this.root, trel);
    const tst = lstatOrNull(tabs);
    if (tst === null || tst.isDirectory()) this.refuse(ErrorCodes.LayerUnsafeLink, h.name, `hardlink target "${h.linkname}" is not a file inside this layer`);
    if (trel === rel) return 'hardlink to itself';
    this.clear(rel, abs, false);
    this.whiteouts.delete(rel);
    fs.linkSync(tabs, abs); // link(2) does not follow a symlink target on Linux
    return undefined;
  }

  /** finish applies what only makes sense once all entries are known: whiteouts, opaque dirs, times. */
  async finish(): Promise<void> {
    const devs: string[] = [];
    for (const [rel, parts] of this.whiteouts) {
      if (this.parentOf(parts, rel, false) === undefined) continue; // parent replaced: nothing to hide
      const abs = join(this.root, rel);
      const st = lstatOrNull(abs);
      if (st === null) devs.push(abs);
      else if (st.isDirectory()) this.opaque.set(rel, parts); // same-layer dir: hide only the lower one
      // a same-layer file or link already hides the lower entry
    }
    const opq: string[] = [];
    for (const [rel, parts] of this.opaque) {
      if (rel !== '' && this.parentOf(parts, rel, false) === undefined) continue;
      const abs = rel === '' ? this.root : join(this.root, rel);
      const st = lstatOrNull(abs);
      if (st?.isDirectory()) {
        opq.push(abs);
        this.opaqueDirs.push(rel);
      }
    }
    await makeWhiteouts(devs);
    await markOpaque(opq);
    this.whiteoutCount = devs.length;
    this.opaqueCount = opq.length;
    // Directory times last (children changed them), deepest first, never following a link.
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const { rel, parts, mtime } = this.dirTimes[i]!;
      if (rel !== '' && this.parentOf(parts, rel, false) === undefined) continue;
      const abs = rel === '' ? this.root : join(this.root, rel);
      if (lstatOrNull(abs)?.isDirectory()) fs.lutimesSync(abs, mtime, mtime);
    }
  }
}

function lstatOrNull(path: string): fs.Stats | null {
  try {
    return fs.lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function writeAll(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}
