// OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md):
// DIR/oci-layout, DIR/index.json, DIR/blobs/sha256/<hex>. Tags are the
// "org.opencontainers.image.ref.name" annotation of index.json entries, as umoci and skopeo use.
import { copyFile, mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../../lib/errors.ts';
import { tempPathFor, writeFileAtomic } from '../../lib/atomic-write.ts';
import { digestHex } from './digest.ts';
import { parseDescriptor, parseJsonBlob, parseManifestOrIndex } from './manifest.ts';
import { normalizeReference } from './reference.ts';
import type { ImageStore } from './store.ts';
import { MediaTypes, type Descriptor, type ResolvedImage } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** REF_NAME_ANNOTATION is the index.json annotation that carries an image's tag in a layout. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9._\-:@/+]{0,127}$/;

/** splitLayoutArg splits "DIR:TAG" (the umoci/skopeo form) into dir and tag; the tag is optional. */
export function splitLayoutArg(arg: string): { dir: string; tag?: string } {
  const colon = arg.lastIndexOf(':');
  if (colon > 0 && !arg.slice(colon + 1).includes('/')) return { dir: arg.slice(0, colon), tag: arg.slice(colon + 1) };
  return { dir: arg };
}

async function readIndex(dir: string): Promise<{ schemaVersion: number; mediaType?: string; manifests: Descriptor[] }> {
  let data: Buffer;
  try {
    data = await readFile(join(dir, 'index.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
    throw err;
  }
  const doc = parseJsonBlob(data, `${dir}/index.json`);
  if (!Array.isArray(doc.manifests)) throw new ImageError(ErrorCodes.LayoutInvalid, `${dir}/index.json: field "manifests" must be an array`, { dir });
  return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: doc.manifests.map((m, i) => parseDescriptor(m, `${dir}/index.json`, `manifests[${i}]`)) };
}

/**
 * exportOciLayout writes the resolved (linux/amd64) image `ref` into the OCI layout `dir` under
 * `tag` (default: the ref's tag), creating the layout or adding to an existing one; an entry
 * with the same tag is replaced. Returns the manifest descriptor written to index.json.
 */
export async function exportOciLayout(store: ImageStore, ref: string, dir: string, tag?: string): Promise<Descriptor> {
  const img = await store.resolve(ref);
  const name = tag ?? tagOf(img);
  if (!tagPattern.test(name)) throw new ImageError(ErrorCodes.LayoutInvalid, `layout tag "${name}" is not a valid tag`, { tag: name });
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const configSize = await store.content.size(img.configDigest);
  for (const desc of [img.manifest, { digest: img.configDigest, size: configSize }, ...img.layers]) {
    const target = join(dir, 'blobs', 'sha256', digestHex(desc.digest));
    const existing = await stat(target).catch(() => undefined);
    if (existing?.size === desc.size) continue;
    const tmp = tempPathFor(target);
    await copyFile(store.content.blobPath(desc.digest), tmp);
    await rename(tmp, target);
  }
  const index = await readIndex(dir);
  const entry: Descriptor = { mediaType: img.manifest.mediaType, digest: img.manifestDigest, size: img.manifest.size, annotations: { [REF_NAME_ANNOTATION]: name } };
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== name);
  index.manifests.push(entry);
  await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(index));
  return entry;
}

function tagOf(img: ResolvedImage): string {
  const m = /:([\w][\w.-]{0,127})(?:@|$)/.exec(img.ref.slice(img.ref.lastIndexOf('/')));
  return m?.[1] ?? 'latest';
}

/** isOciLayout is true when `dir` has an oci-layout file (so `image import` treats it as a layout). */
export async function isOciLayout(dir: string): Promise<boolean> {
  return (await stat(join(dir, 'oci-layout')).catch(() => undefined))?.isFile() ?? false;
}

/**
 * importOciLayout copies the image tagged `tag` in the OCI layout `dir` (or its only image when no
 * tag is given) into the store as `ref`, verifying every blob's digest and size. Indexes are
 * followed to their linux/amd64 manifest; other platforms' blobs are copied only when present.
 */
export async function importOciLayout(store: ImageStore, dir: string, ref: string, tag?: string): Promise<ResolvedImage> {
  const name = normalizeReference(ref);
  let layout: string;
  try {
    layout = (parseJsonBlob(await readFile(join(dir, 'oci-layout')), `${dir}/oci-layout`).imageLayoutVersion as string) ?? '';
  } catch (err) {
    throw new ImageError(ErrorCodes.LayoutInvalid, `${dir} is not an OCI image layout (oci-layout: ${(err as Error).message})`, { dir });
  }
  if (layout !== '1.0.0') throw new ImageError(ErrorCodes.LayoutInvalid, `${dir}/oci-layout: imageLayoutVersion "${layout}" is not 1.0.0`, { dir });
  const index = await readIndex(dir);
  const candidates = tag === undefined ? index.manifests : index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === tag);
  if (candidates.length !== 1) {
    const tags = index.manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION] ?? '(untagged)').join(', ');
    throw new ImageError(ErrorCodes.ImageNotFound, tag === undefined
      ? `${dir}: index.json has ${candidates.length} images (${tags}); name one as DIR:TAG`
      : `${dir}: no image tagged "${tag}" in index.json (has: ${tags || 'nothing'})`, { dir, tag });
  }
  const top = candidates[0]!;
  const copyBlob = async (desc: Descriptor): Promise<void> => {
    const path = join(dir, 'blobs', 'sha256', digestHex(desc.digest));
    if (await store.content.has(desc.digest)) return;
    // Open first: a stream opened lazily would report a missing file as an unhandled error event.
    const handle = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new ImageError(ErrorCodes.BlobNotFound, `${dir}: blob ${desc.digest} is missing from blobs/sha256`, { dir, digest: desc.digest });
      throw err;
    });
    await store.content.writeBlob(handle.createReadStream(), { digest: desc.digest, size: desc.size });
  };
  const copyTree = async (desc: Descriptor, required: boolean): Promise<void> => {
    const path = join(dir, 'blobs', 'sha256', digestHex(desc.digest));
    if (!required && !(await stat(path).catch(() => undefined))) return;
    await copyBlob(desc);
    if (!(desc.mediaType === MediaTypes.ociIndex || desc.mediaType === MediaTypes.dockerManifestList || desc.mediaType === MediaTypes.ociManifest || desc.mediaType === MediaTypes.dockerManifest)) return;
    const doc = parseManifestOrIndex(await store.content.readBlob(desc.digest), `${dir} manifest ${desc.digest}`, desc.mediaType);
    if (doc.kind === 'index') {
      for (const child of doc.manifests) {
        const amd64 = child.platform?.os === 'linux' && child.platform.architecture === 'amd64';
        await copyTree(child, amd64 || doc.manifests.length === 1);
      }
    } else {
      await copyBlob(doc.config);
      for (const layer of doc.layers) await copyBlob(layer);
    }
  };
  await copyTree(top, true);
  const data = await store.content.readBlob(top.digest);
  const doc = parseManifestOrIndex(data, `${dir} manifest ${top.digest}`, top.mediaType);
  await store.writeRef({ ref: name, digest: top.digest, mediaType: doc.mediaType, size: data.length });
  return store.resolve(name);
}
