import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { ImageError } from '../../lib/errors.ts';
import { HashCounter } from './content.ts';
import type { ImageStore } from './store.ts';
import { MediaTypes, type Descriptor, type ImageConfig, type ResolvedImage } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** ImportOptions tune importRootfs. */
export interface ImportOptions {
  /** mtime, when set, replaces every entry's mtime and the image's created time: same tree, same digest. */
  mtime?: Date;
  /** config is the image's runtime config (default: PATH in Env and Cmd ["/bin/sh"]). */
  config?: Partial<ImageConfig>;
  /** gzip compresses the layer (default true). */
  gzip?: boolean;
}

/** DEFAULT_IMPORT_CONFIG is the runtime config of an imported root filesystem unless overridden. */
export const DEFAULT_IMPORT_CONFIG: ImageConfig = {
  Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
  Cmd: ['/bin/sh'],
};

/** Linux dev_t split into major/minor (glibc's gnu_dev_major/minor, for the common 32-bit range). */
function devMajor(rdev: number): number { return Math.floor(rdev / 256) & 0xfff; }
function devMinor(rdev: number): number { return (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00); }

/**
 * writeLayerFromDir tars `dir` into the content store as one layer: entries in sorted (byte)
 * order, names relative without "./", hard links kept as links, sockets skipped. Returns the
 * layer descriptor (gzip unless options.gzip is false) and its diffId (digest of the plain tar).
 */
export async function writeLayerFromDir(store: ImageStore, dir: string, options: ImportOptions = {}): Promise<{ descriptor: Descriptor; diffId: string }> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top?.isDirectory()) throw new ImageError(ErrorCodes.RootfsInvalid, `root filesystem ${dir} is not a directory`, { dir });
  const gzip = options.gzip ?? true;
  const pack = tar.pack();
  const diff = new HashCounter();
  const mediaType = gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer;
  // pipeline (not .pipe) so an error anywhere destroys every stage and writeBlob fails instead of hanging.
  const tail = gzip ? createGzip() : new PassThrough();
  const piped = pipeline(pack, diff, tail);
  const written = store.content.writeBlob(tail, { mediaType });
  const links = new Map<string, string>();

  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await readdir(abs)).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const name of names) {
      const path = join(abs, name);
      const entryName = rel ? `${rel}/${name}` : name;
      const st = await lstat(path);
      const header: Partial<tar.Header> & { name: string } = {
        name: entryName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
        mtime: options.mtime ?? st.mtime,
      };
      if (st.isDirectory()) {
        await entry(pack, { ...header, type: 'directory' });
        await walk(path, entryName);
      } else if (st.isSymbolicLink()) {
        await entry(pack, { ...header, type: 'symlink', linkname: await readlink(path) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          await entry(pack, { ...header, type: 'link', linkname: first });
        } else {
          if (st.nlink > 1) links.set(key, entryName);
          const w = pack.entry({ ...header, type: 'file', size: st.size });
          await pipeline(createReadStream(path), w);
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await entry(pack, { ...header, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) });
      } else if (st.isFIFO()) {
        await entry(pack, { ...header, type: 'fifo' });
      }
      // sockets cannot be stored in a tar and are skipped, as Docker does.
    }
  };
  try {
    await walk(dir, '');
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await Promise.allSettled([piped, written]);
    throw err;
  }
  const [, descriptor] = await Promise.all([piped, written]);
  return { descriptor: { ...descriptor, mediaType }, diffId: diff.digest() };
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
}

/**
 * importRootfs makes a one-layer image named `ref` from the root filesystem `dir` (a directory
 * tree as it should appear in the container). With options.mtime fixed, importing the same tree
 * twice gives the same manifest digest.
 */
export async function importRootfs(store: ImageStore, dir: string, ref: string, options: ImportOptions = {}): Promise<ResolvedImage> {
  const layer = await writeLayerFromDir(store, dir, options);
  const input = {
    addLayers: [layer],
    config: { ...DEFAULT_IMPORT_CONFIG, ...(options.config ?? {}) },
    createdBy: `gitcell image import ${dir}`,
    ...(options.mtime ? { created: options.mtime.toISOString() } : {}),
  };
  return store.putImage(ref, input);
}

/** BUSYBOX_PATH is where Debian's busybox-static installs its single static binary. */
export const BUSYBOX_PATH = '/usr/bin/busybox';

/**
 * buildBusyboxRootfs fills `dir` with a minimal runnable root filesystem: /bin/busybox (copied from
 * busybox-static) with a hard link per applet (sh, sleep, httpd, wget, cat, ...), /etc/passwd and
 * /etc/group (root, nobody), and the usual mount-point directories. Fails with E_BUSYBOX_MISSING
 * when busybox-static is not installed.
 *
 * Hard links, as in Docker's busybox image, not symlinks: each of the ~400 applets is then a link
 * entry of the layer, and link(2) makes no inode. A new inode costs ~1 ms on this machine's ext4
 * (symlink, mkdir, create alike; a hard link ~0.02 ms): every unpack of the image (each node of
 * `gitcell up`, on the thread its agents share) and every build paid ~0.4 s for the applets.
 */
export async function buildBusyboxRootfs(dir: string, busybox = BUSYBOX_PATH): Promise<void> {
  let applets: string[];
  try {
    applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[a-z0-9_.[-]+$/i.test(a) && a !== 'busybox');
  } catch (err) {
    throw new ImageError(ErrorCodes.BusyboxMissing, `${busybox} cannot run (${(err as Error).message}); install the Debian package busybox-static`, { busybox });
  }
  for (const d of ['bin', 'dev', 'etc', 'proc', 'sys', 'root', 'tmp', 'var', 'var/www', 'home', 'run', 'usr', 'usr/bin']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  await chmod(join(dir, 'tmp'), 0o1777);
  await chmod(join(dir, 'root'), 0o700);
  await copyFile(busybox, join(dir, 'bin', 'busybox'));
  await chmod(join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of applets) {
    await link(join(dir, 'bin', 'busybox'), join(dir, 'bin', applet)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await writeFile(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  await writeFile(join(dir, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n');
}
