// Snapshotter: one directory per layer, keyed by chain ID, unpacked once and shared by every container.
//
//   prepare(layers) ─▶ chainIds ─▶ for each missing: unpack into snapshots/.tmp-XXXX/fs ─▶ rename to
//                                  snapshots/<chain-hex>/ (atomic; a lost race just drops the temp dir)
//
// The rename is the only commit point, so a crash leaves at worst a .tmp-* directory (pruned later) and
// two processes unpacking the same layer both end with one complete snapshot.
import * as fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { RuntimeError } from '../../lib/errors.ts';
import { readdirSyncOrEmpty, readFileNoFollow } from '../../lib/fs.ts';
import { unpackLayer, type UnpackLimits, type UnpackResult } from './unpack.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** LayerRef is what the snapshotter needs of one image layer (an OCI descriptor plus its diffID). */
export interface LayerRef {
  digest: string;
  mediaType: string;
  diffId: string;
}

/** BlobSource is the part of the content store the snapshotter reads (runtime/image's ContentStore). */
export interface BlobSource {
  openBlob(digest: string): Promise<Readable>;
}

/** SnapshotInfo describes one committed snapshot, as listed by Snapshotter.list(). */
export interface SnapshotInfo {
  chainId: string;
  diffId: string;
  layerDigest: string;
  bytes: number;
  entries: number;
  createdAt: string;
  /** opaqueDirs lists this layer's opaque directories (relative), so lookups need no getfattr. */
  opaqueDirs?: string[];
}

/**
 * chainIds computes OCI chain IDs bottom first: chainID(L0) = diffID(L0),
 * chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). A chain ID names a layer *with* everything
 * below it, which is why two images sharing a base share its snapshots.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    checkDigest(diffId, 'diffID');
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : `sha256:${createHash('sha256').update(`${prev} ${diffId}`).digest('hex')}`);
  }
  return out;
}

/** layerIsGzip tells from a layer media type whether its blob is gzip; unknown compressions fail. */
export function layerIsGzip(mediaType: string): boolean {
  if (/gzip$/.test(mediaType)) return true;
  if (/tar$/.test(mediaType)) return false;
  throw new RuntimeError(ErrorCodes.LayerUnsupported, `layer media type ${mediaType} is not supported (only tar and tar+gzip)`, { mediaType });
}

function checkDigest(d: string, what: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(d);
  if (!m) throw new RuntimeError(ErrorCodes.BadDigest, `${what} "${d}" is not a sha256 digest`, { digest: d });
  return m[1]!;
}

/** SnapshotterOptions: unpack limits and how old a temp dir must be before prune removes it. */
export interface SnapshotterOptions {
  limits?: Partial<UnpackLimits>;
  staleTempMs?: number;
}

/** Snapshotter owns ROOT/snapshots (see the contract in RUNTIME-CONTRACT.md). */
export class Snapshotter {
  readonly dir: string;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(root: string, private readonly opts: SnapshotterOptions = {}) {
    this.dir = join(resolve(root), 'snapshots'); // absolute: its paths reach mount(8) and runc
  }

  /** path returns the lower directory of a chain ID (whether or not it exists yet). */
  path(chainId: string): string {
    return join(this.dir, checkDigest(chainId, 'chain ID'), 'fs');
  }

  /** has tells whether the snapshot of a chain ID is committed. */
  has(chainId: string): boolean {
    return fs.existsSync(join(this.dir, checkDigest(chainId, 'chain ID'), 'meta.json'));
  }

  /**
   * prepare makes sure every layer is unpacked and returns their directories bottom first. Layers are
   * unpacked one after another (each is CPU and disk bound; parallel unpacks only thrash two cores).
   */
  async prepare(source: BlobSource, layers: readonly LayerRef[]): Promise<string[]> {
    const ids = chainIds(layers.map((l) => l.diffId));
    const dirs: string[] = [];
    for (let i = 0; i < layers.length; i++) dirs.push(await this.unpack(source, layers[i]!, ids[i]!));
    return dirs;
  }

  /** unpack commits the snapshot of one layer under its chain ID, once, and returns its directory. */
  unpack(source: BlobSource, layer: LayerRef, chainId: string): Promise<string> {
    if (this.has(chainId)) return Promise.resolve(this.path(chainId));
    let p = this.inflight.get(chainId);
    if (!p) {
      p = this.unpackOnce(source, layer, chainId).finally(() => this.inflight.delete(chainId));
      this.inflight.set(chainId, p);
    }
    return p;
  }

  private async unpackOnce(source: BlobSource, layer: LayerRef, chainId: string): Promise<string> {
    const hex = checkDigest(chainId, 'chain ID');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.tmp-${hex.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    fs.mkdirSync(join(tmp, 'fs'), { recursive: true });
    try {
      const gzip = layerIsGzip(layer.mediaType);
      const blob = await source.openBlob(layer.digest);
      const result: UnpackResult = await unpackLayer(blob, join(tmp, 'fs'), {
        gzip,
        expectedDiffId: layer.diffId,
        layer: layer.digest,
        ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      });
      const info: SnapshotInfo = {
        chainId, diffId: layer.diffId, layerDigest: layer.digest, bytes: result.bytes, entries: result.entries, createdAt: new Date().toISOString(), opaqueDirs: result.opaqueDirs,
      };
      fs.writeFileSync(join(tmp, 'meta.json'), `${JSON.stringify(info)}\n`);
      try {
        fs.renameSync(tmp, join(this.dir, hex));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        fs.rmSync(tmp, { recursive: true, force: true }); // another process won the race: same content
      }
      return this.path(chainId);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** info returns the metadata of a committed snapshot, or undefined. */
  info(chainId: string): SnapshotInfo | undefined {
    try {
      return JSON.parse(fs.readFileSync(join(this.dir, checkDigest(chainId, 'chain ID'), 'meta.json'), 'utf8')) as SnapshotInfo;
    } catch {
      return undefined;
    }
  }

  /**
   * readLayered reads a small regular file (e.g. "etc/passwd") as the merged view of `chain` (chain
   * IDs bottom first) would show it, without mounting: top layer first, stopping at a whiteout, a
   * non-directory parent or an opaque parent; never following a symlink. '' when absent.
   */
  readLayered(chain: readonly string[], rel: string, maxBytes = 1024 * 1024): string {
    const parts = rel.split('/').filter(Boolean);
    for (let i = chain.length - 1; i >= 0; i--) {
      const id = chain[i]!;
      const top = this.path(id);
      const opaque = new Set(this.info(id)?.opaqueDirs ?? []);
      let path = top;
      for (let k = 0; k < parts.length; k++) {
        path = join(path, parts[k]!);
        const st = fs.lstatSync(path, { throwIfNoEntry: false });
        const last = k === parts.length - 1;
        if (!st) {
          // absent here: lower layers decide, unless this directory level hides them
          if (opaque.has(parts.slice(0, k).join('/'))) return '';
          break;
        }
        if (st.isCharacterDevice() && st.rdev === 0) return ''; // whiteout
        if (last) {
          if (!st.isFile() || st.size > maxBytes) return '';
          return readFileNoFollow(path);
        }
        if (!st.isDirectory()) return ''; // a file or symlink shadows everything below
      }
      if (opaque.has('')) return '';
    }
    return '';
  }

  /** list returns every committed snapshot. */
  list(): SnapshotInfo[] {
    const out: SnapshotInfo[] = [];
    for (const name of readdirSyncOrEmpty(this.dir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      try {
        out.push(JSON.parse(fs.readFileSync(join(this.dir, name, 'meta.json'), 'utf8')) as SnapshotInfo);
      } catch {
        // a directory without meta.json is not committed; prune removes it
      }
    }
    return out;
  }

  /**
   * prune removes every snapshot whose chain ID is not in `keep`, plus temp dirs older than
   * staleTempMs (default one hour: younger ones may belong to an unpack in another process).
   * The caller (runtime gc) must keep the chains of images and of existing containers.
   */
  prune(keep: Iterable<string>): string[] {
    const keepHex = new Set([...keep].map((c) => checkDigest(c, 'chain ID')));
    const removed: string[] = [];
    const staleMs = this.opts.staleTempMs ?? 3600_000;
    for (const name of readdirSyncOrEmpty(this.dir)) {
      const abs = join(this.dir, name);
      if (name.startsWith('.tmp-')) {
        const st = fs.statSync(abs, { throwIfNoEntry: false });
        if (st && Date.now() - st.mtimeMs > staleMs) fs.rmSync(abs, { recursive: true, force: true });
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(name) || keepHex.has(name)) continue;
      // Rename first so a half-removed snapshot never looks committed.
      const doomed = join(this.dir, `.tmp-gc-${name.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
      fs.renameSync(abs, doomed);
      fs.rmSync(doomed, { recursive: true, force: true });
      removed.push(`sha256:${name}`);
    }
    return removed;
  }
}
