import { open } from 'node:fs/promises';
import { ImageError } from '../../lib/errors.ts';
import { formatReference, isIndexMediaType, parseManifestOrIndex, parseReference, sha256Digest, type Descriptor, type ImageStore, type ResolvedImage } from '../image/index.ts';
import { RegistryClient } from './client.ts';
import { NO_PROGRESS, type Progress } from './progress.ts';
import { mapLimit } from '../../lib/concurrency.ts';
import type { Credentials } from './auth.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** PushOptions tune pushImage. */
export interface PushOptions {
  credentials?: Credentials;
  progress?: Progress;
  /** chunkSize is the PATCH chunk size of blob uploads (default 8 MiB). */
  chunkSize?: number;
  /** concurrency bounds parallel blob uploads (default 3). */
  concurrency?: number;
  client?: RegistryClient;
  /** source is the local reference to push (default: `ref` itself). */
  source?: string;
  /**
   * mountFrom names another repository of the same registry that may hold the blobs: each missing
   * blob is first offered as a cross-repository mount (no bytes sent); the registry falls back to a
   * normal upload when it cannot mount.
   */
  mountFrom?: string;
}

/** hasBlob asks the registry (HEAD) whether it already has a blob. */
export async function hasBlob(client: RegistryClient, repository: string, digest: string): Promise<boolean> {
  const res = await client.request('HEAD', `/v2/${repository}/blobs/${digest}`, { scope: `repository:${repository}:pull,push` });
  await res.body?.cancel();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await client.failure(res, `HEAD blob ${digest}`);
}

/**
 * uploadBlob sends one blob with a chunked upload: POST opens an upload session, each chunk goes
 * in a PATCH with its Content-Range to the Location the registry returned last, and the closing
 * PUT names the digest, which the registry verifies.
 */
export async function uploadBlob(client: RegistryClient, store: ImageStore, repository: string, desc: Descriptor, chunkSize: number, progress: Progress, mountFrom?: string): Promise<'mounted' | 'uploaded'> {
  const scope = `repository:${repository}:pull,push`;
  const post = mountFrom
    ? `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom)}`
    : `/v2/${repository}/blobs/uploads/`;
  // A mount needs pull on the source repository too; tokens are scoped, so ask for both at once.
  const postScope = mountFrom ? `${scope} repository:${mountFrom}:pull` : scope;
  let res = await client.request('POST', post, { scope: postScope, headers: { 'content-length': '0' } });
  await res.body?.cancel();
  if (mountFrom && res.status === 201) return 'mounted';
  if (res.status !== 202) throw await client.failure(res, `POST upload of ${desc.digest}`);
  let location = nextLocation(client, res, desc);
  const handle = await open(store.content.blobPath(desc.digest), 'r');
  try {
    let offset = 0;
    const buf = Buffer.alloc(Math.min(chunkSize, Math.max(desc.size, 1)));
    while (offset < desc.size) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, desc.size - offset), offset);
      if (bytesRead === 0) throw new ImageError(ErrorCodes.BlobNotFound, `local blob ${desc.digest} is shorter than ${desc.size} bytes`, { digest: desc.digest });
      const chunk = Buffer.from(buf.subarray(0, bytesRead));
      res = await client.request('PATCH', location, {
        scope, body: chunk,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + bytesRead - 1}`, 'content-length': String(bytesRead) },
      });
      await res.body?.cancel();
      if (res.status !== 202) throw await client.failure(res, `PATCH upload of ${desc.digest} at ${offset}`);
      location = nextLocation(client, res, desc);
      offset += bytesRead;
      progress.advance(desc.digest, bytesRead);
    }
  } finally {
    await handle.close();
  }
  location.searchParams.set('digest', desc.digest);
  res = await client.request('PUT', location, { scope, headers: { 'content-length': '0' } });
  await res.body?.cancel();
  if (res.status !== 201) throw await client.failure(res, `PUT upload of ${desc.digest}`);
  const stored = res.headers.get('docker-content-digest');
  if (stored && stored !== desc.digest) {
    throw new ImageError(ErrorCodes.DigestMismatch, `${client.domain}/${repository}: registry stored ${stored} for blob ${desc.digest}`, { expected: desc.digest, actual: stored });
  }
  return 'uploaded';
}

function nextLocation(client: RegistryClient, res: Response, desc: Descriptor): URL {
  const loc = res.headers.get('location');
  if (!loc) throw new ImageError(ErrorCodes.RegistryError, `${client.domain}: upload of ${desc.digest} got no Location header`, { digest: desc.digest });
  return client.url(loc);
}

/** putManifest PUTs a manifest or index under a tag or digest and checks the digest the registry reports. */
async function putManifest(client: RegistryClient, repository: string, reference: string, data: Buffer, mediaType: string): Promise<string> {
  const res = await client.request('PUT', `/v2/${repository}/manifests/${reference}`, {
    scope: `repository:${repository}:pull,push`, body: data, headers: { 'content-type': mediaType },
  });
  await res.body?.cancel();
  if (res.status !== 201) throw await client.failure(res, `PUT manifest ${repository}:${reference}`);
  const expected = sha256Digest(data);
  const digest = res.headers.get('docker-content-digest') ?? expected;
  if (digest !== expected) {
    throw new ImageError(ErrorCodes.DigestMismatch, `${client.domain}/${repository}: registry stored manifest ${digest}, pushed ${expected}`, { expected, actual: digest });
  }
  return digest;
}

/**
 * pushImage uploads a local image to the registry named by `ref`. When the local reference is an
 * image index whose every platform is complete locally, all platforms and the index are pushed
 * (same digest as local); otherwise the linux/amd64 manifest alone. Blobs the registry already has
 * are skipped (HEAD), the rest uploaded in chunks (or mounted, with `mountFrom`), manifests last.
 * Returns the digest the tag now points at and the resolved linux/amd64 image.
 */
export async function pushImage(store: ImageStore, ref: string, options: PushOptions = {}): Promise<{ digest: string; image: ResolvedImage }> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const source = options.source ?? name;
  const image = await store.resolve(source);
  const platforms = await completePlatforms(store, source);
  const client = options.client ?? new RegistryClient({ domain: parsed.domain, ...(options.credentials ? { credentials: options.credentials } : {}) });
  const progress = options.progress ?? NO_PROGRESS;
  const repository = parsed.path;
  await client.ping();
  const chunkSize = options.chunkSize ?? 8 * 1024 * 1024;
  const blobs = new Map<string, Descriptor>();
  for (const img of platforms?.images ?? [image]) {
    for (const l of img.layers) blobs.set(l.digest, l);
    blobs.set(img.configDigest, { mediaType: 'application/octet-stream', digest: img.configDigest, size: await store.content.size(img.configDigest) });
  }
  try {
    await mapLimit([...blobs.values()], options.concurrency ?? 3, async (desc) => {
      if (await hasBlob(client, repository, desc.digest)) {
        progress.finish(desc.digest, 'exists');
        return;
      }
      progress.start(desc.digest, desc.digest.slice(7, 19), desc.size, 0);
      try {
        const how = await uploadBlob(client, store, repository, desc, chunkSize, progress, options.mountFrom);
        progress.finish(desc.digest, how === 'mounted' ? 'exists' : 'done');
      } catch (err) {
        progress.finish(desc.digest, 'failed');
        throw err;
      }
    });
  } finally {
    progress.stop();
  }
  if (platforms) {
    // children by digest first: a registry refuses an index naming manifests it does not have
    for (const img of platforms.images) {
      await putManifest(client, repository, img.manifestDigest, await store.content.readBlob(img.manifestDigest), img.manifest.mediaType);
    }
    const data = await store.content.readBlob(platforms.indexDigest);
    return { digest: await putManifest(client, repository, parsed.tag ?? platforms.indexDigest, data, platforms.mediaType), image };
  }
  const data = await store.content.readBlob(image.manifestDigest);
  return { digest: await putManifest(client, repository, parsed.tag ?? image.manifestDigest, data, image.manifest.mediaType), image };
}

/** completePlatforms returns every platform image of a local index when all are complete locally. */
async function completePlatforms(store: ImageStore, ref: string): Promise<{ indexDigest: string; mediaType: string; images: ResolvedImage[] } | undefined> {
  const record = await store.getRef(ref);
  if (!record || !isIndexMediaType(record.mediaType)) return undefined;
  const index = parseManifestOrIndex(await store.content.readBlob(record.digest), `index ${record.digest} of ${ref}`, record.mediaType);
  if (index.kind !== 'index') return undefined;
  const images: ResolvedImage[] = [];
  for (const child of index.manifests) {
    try {
      images.push(await store.resolveDigest(`${ref}@${child.digest}`, child.digest, child.mediaType));
    } catch {
      return undefined; // a platform is missing locally (pulls fetch only linux/amd64)
    }
  }
  return { indexDigest: record.digest, mediaType: index.mediaType, images };
}
