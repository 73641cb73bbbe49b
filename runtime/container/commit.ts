// commit: a container's read-write layer becomes an image layer on top of its image (`docker commit`).
//
//   upper/ ─walk─▶ tar entries ─▶ pack ─▶ diffID hash ─▶ gzip ─▶ ContentStore.writeBlob ─▶ putImage
//     0/0 char device        ─▶ `.wh.NAME`       (a deleted lower file)
//     opaque dir (xattr)     ─▶ dir + `dir/.wh..wh..opq` (a replaced lower directory)
//     second path of an inode ─▶ hardlink entry
// The per-container files of the init layer (/etc/hostname, hosts, resolv.conf) never enter the image.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { RuntimeError } from '../../lib/errors.ts';
import { HashCounter, MediaTypes, type ImageConfig, type ResolvedImage } from '../image/index.ts';
import { listOpaque, OPAQUE_MARKER, WHITEOUT_PREFIX } from '../snapshot/index.ts';
import type { ContainerManager } from './manager.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** COMMIT_EXCLUDED are upper-dir paths that belong to the container, not to an image. */
export const COMMIT_EXCLUDED = new Set(['etc/hostname', 'etc/hosts', 'etc/resolv.conf']);

/** DiffEntry is one change found in an upper directory, in tar order (parents first). */
export type DiffEntry =
  | { kind: 'dir'; rel: string; st: fs.Stats; opaque: boolean }
  | { kind: 'file'; rel: string; st: fs.Stats }
  | { kind: 'hardlink'; rel: string; st: fs.Stats; target: string }
  | { kind: 'symlink'; rel: string; st: fs.Stats; target: string }
  | { kind: 'whiteout'; rel: string; st: fs.Stats };

/** diffUpper walks an overlay upper directory into the changes a layer must carry. */
export async function diffUpper(upper: string): Promise<DiffEntry[]> {
  const opaque = new Set((await listOpaque(upper)).map((p) => p.slice(upper.length + 1)));
  const inodes = new Map<string, string>();
  const out: DiffEntry[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(join(upper, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (COMMIT_EXCLUDED.has(r)) continue;
      const st = fs.lstatSync(join(upper, r));
      if (st.isDirectory()) {
        out.push({ kind: 'dir', rel: r, st, opaque: opaque.has(r) });
        walk(r);
      } else if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ kind: 'whiteout', rel: r, st });
      } else if (st.isSymbolicLink()) {
        out.push({ kind: 'symlink', rel: r, st, target: fs.readlinkSync(join(upper, r)) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first !== undefined) out.push({ kind: 'hardlink', rel: r, st, target: first });
        else {
          if (st.nlink > 1) inodes.set(key, r);
          out.push({ kind: 'file', rel: r, st });
        }
      }
      // sockets, fifos and real devices made inside a container are not image content
    }
  };
  walk('');
  return out;
}

function header(e: DiffEntry): tar.Header {
  const base = { uid: e.st.uid, gid: e.st.gid, mtime: e.st.mtime, mode: e.st.mode & 0o7777, uname: '', gname: '', devmajor: 0, devminor: 0, linkname: '', size: 0 };
  return base as tar.Header;
}

/** writeDiffTar packs diff entries into `pack` (then finalizes it). */
export async function writeDiffTar(upper: string, entries: DiffEntry[], pack: tar.Pack): Promise<void> {
  const add = (h: Partial<tar.Header> & { name: string }, body?: Buffer | string): Promise<void> =>
    new Promise((resolve, reject) => pack.entry(h, body ?? '', (err) => (err ? reject(err) : resolve())));
  for (const e of entries) {
    const h = header(e);
    switch (e.kind) {
      case 'dir':
        await add({ ...h, name: `${e.rel}/`, type: 'directory' });
        if (e.opaque) await add({ ...h, name: `${e.rel}/${OPAQUE_MARKER}`, type: 'file', mode: 0 });
        break;
      case 'whiteout': {
        const slash = e.rel.lastIndexOf('/');
        await add({ ...h, name: `${e.rel.slice(0, slash + 1)}${WHITEOUT_PREFIX}${e.rel.slice(slash + 1)}`, type: 'file', mode: 0 });
        break;
      }
      case 'symlink':
        await add({ ...h, name: e.rel, type: 'symlink', linkname: e.target });
        break;
      case 'hardlink':
        await add({ ...h, name: e.rel, type: 'link', linkname: e.target });
        break;
      case 'file': {
        // The upper dir is the container's to write: open without following a symlink swapped in
        // since the walk, and insist on the very inode the walk saw (the container is paused, too).
        let fd: number;
        try {
          fd = fs.openSync(join(upper, e.rel), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
        } catch (err) {
          throw new RuntimeError(ErrorCodes.CommitFailed, `opening ${e.rel} in the container's layer failed: ${(err as Error).message}`, { path: e.rel });
        }
        const now = fs.fstatSync(fd);
        if (now.ino !== e.st.ino || now.dev !== e.st.dev || !now.isFile()) {
          fs.closeSync(fd);
          throw new RuntimeError(ErrorCodes.CommitFailed, `${e.rel} changed while committing`, { path: e.rel });
        }
        const sink = pack.entry({ ...h, name: e.rel, type: 'file', size: e.st.size });
        await pipeline(fs.createReadStream('', { fd, start: 0, end: Math.max(0, e.st.size - 1) }), sink as unknown as NodeJS.WritableStream)
          .catch((err: unknown) => {
            throw new RuntimeError(ErrorCodes.CommitFailed, `reading ${e.rel} from the container's layer failed: ${(err as Error).message}`, { path: e.rel });
          });
        break;
      }
    }
  }
  pack.finalize();
}

/** CommitOptions: config fields to change on the new image (Cmd, Env, ...). */
export interface CommitOptions {
  config?: Partial<ImageConfig>;
}

/**
 * commitContainer turns a container's read-write layer into a gzip layer on top of its image and
 * stores it as `ref` (the container may be running; files changing meanwhile are taken as they are).
 */
export async function commitContainer(manager: ContainerManager, idOrName: string, ref: string, opts: CommitOptions = {}): Promise<ResolvedImage> {
  const info = manager.inspect(idOrName);
  const base = await manager.images.resolveDigest(info.image.ref, info.image.manifestDigest);
  // A running container is frozen while its layer is read (as docker commit does): it cannot swap
  // paths for symlinks under the walk, and the layer is one consistent moment.
  const paused = info.status === 'running' && (await manager.runc.pause(info.id).then(() => true, () => false));
  try {
    return await commitUpper(manager, info.id, info.name, base, ref, opts);
  } finally {
    if (paused) await manager.runc.resume(info.id).catch(() => undefined);
  }
}

async function commitUpper(manager: ContainerManager, id: string, name: string, base: ResolvedImage, ref: string, opts: CommitOptions): Promise<ResolvedImage> {
  const upper = manager.pathsOf(id).upper;
  const entries = await diffUpper(upper);
  const pack = tar.pack();
  const diff = new HashCounter(Number.POSITIVE_INFINITY, `layer of ${name}`);
  const gz = createGzip({ level: 6 });
  const out = new PassThrough();
  const writing = manager.images.content.writeBlob(out);
  await Promise.all([
    writeDiffTar(upper, entries, pack),
    pipeline(pack as unknown as NodeJS.ReadableStream, diff, gz, out),
  ]);
  const written = await writing;
  const descriptor = { ...written, mediaType: MediaTypes.ociLayerGzip };
  return manager.images.putImage(ref, {
    base,
    addLayers: [{ descriptor, diffId: diff.digest() }],
    ...(opts.config ? { config: opts.config } : {}),
    createdBy: `gitcell commit ${name}`,
  });
}
