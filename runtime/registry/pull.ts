import { ImageError } from '../../lib/errors.ts';
import {
  assertDigest, parseImageConfig, parseManifestOrIndex, parseReference, formatReference, selectPlatform, sha256Digest,
  type ImageStore, type ResolvedImage,
} from '../image/index.ts';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, RegistryClient, readLimited } from './client.ts';
import { checkDeclaredSize, fetchBlob } from './download.ts';
import { NO_PROGRESS, type Progress } from './progress.ts';
import { mapLimit } from '../../lib/concurrency.ts';
import type { Credentials } from './auth.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** PullOptions tune pullImage. */
export interface PullOptions {
  credentials?: Credentials;
  progress?: Progress;
  /** concurrency bounds parallel layer downloads (default 3). */
  concurrency?: number;
  /** retries of an interrupted blob download, each resuming with a Range request (default 3). */
  retries?: number;
  /** idleTimeoutMs: a blob transfer silent this long is aborted and resumed (default 60 s). */
  idleTimeoutMs?: number;
  /** maxBlobBytes refuses a config or layer declared larger (default DEFAULT_MAX_BLOB_BYTES, 10 GiB). */
  maxBlobBytes?: number;
  client?: RegistryClient;
}

/** FetchedManifest is a manifest or index as served, already checked against its digest. */
export interface FetchedManifest {
  data: Buffer;
  digest: string;
  mediaType: string;
}

/**
 * fetchManifest GETs a manifest by tag or digest. The body's sha256 must equal the requested
 * digest (when pulling by digest) and the registry's Docker-Content-Digest header (when sent);
 * otherwise E_DIGEST_MISMATCH.
 */
export async function fetchManifest(client: RegistryClient, repository: string, reference: string): Promise<FetchedManifest> {
  const res = await client.request('GET', `/v2/${repository}/manifests/${reference}`, { scope: `repository:${repository}:pull`, headers: { accept: MANIFEST_ACCEPT } });
  if (res.status === 404) {
    await res.body?.cancel();
    throw new ImageError(ErrorCodes.ImageNotFound, `${client.domain}/${repository}:${reference} is not in the registry`, { domain: client.domain, repository, reference });
  }
  if (!res.ok) throw await client.failure(res, `GET manifest ${repository}:${reference}`);
  const data = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${repository}:${reference}`);
  const digest = sha256Digest(data);
  const claimed = res.headers.get('docker-content-digest');
  const expected = reference.startsWith('sha256:') ? reference : claimed;
  if (expected && expected !== digest) {
    throw new ImageError(ErrorCodes.DigestMismatch, `${client.domain}/${repository}:${reference}: manifest hashes to ${digest}, expected ${expected}; not stored`, { expected, actual: digest });
  }
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  return { data, digest, mediaType };
}

/**
 * pullImage downloads `ref` (linux/amd64 from an index) into `store`: layers concurrently
 * (bounded) and resumably, every blob verified, then config, manifest and index, and only then the
 * reference, so a tagged image is always complete. Returns the resolved image.
 */
export async function pullImage(store: ImageStore, ref: string, options: PullOptions = {}): Promise<ResolvedImage> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const client = options.client ?? new RegistryClient({ domain: parsed.domain, ...(options.credentials ? { credentials: options.credentials } : {}) });
  const progress = options.progress ?? NO_PROGRESS;
  const repository = parsed.path;
  await client.ping();
  const top = await fetchManifest(client, repository, parsed.digest ?? parsed.tag ?? 'latest');
  let doc = parseManifestOrIndex(top.data, `manifest ${name}`, top.mediaType);
  let manifest = top;
  if (doc.kind === 'index') {
    const entry = selectPlatform(doc, `index ${name}`);
    manifest = await fetchManifest(client, repository, assertDigest(entry.digest, `index ${name}`));
    doc = parseManifestOrIndex(manifest.data, `manifest ${entry.digest} of ${name}`, entry.mediaType);
    if (doc.kind !== 'manifest') throw new ImageError(ErrorCodes.ManifestInvalid, `${name}: an index inside an index is not supported`, { ref: name });
  }
  try {
    // Every declared size is checked before the first blob is requested: an oversized layer is
    // refused without downloading the config or any other layer first.
    for (const d of [doc.config, ...doc.layers]) checkDeclaredSize(d, options.maxBlobBytes, `${name}: blob`);
    const fetchOpts = {
      progress, ...(options.retries !== undefined ? { retries: options.retries } : {}), ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.maxBlobBytes !== undefined ? { maxBlobBytes: options.maxBlobBytes } : {}),
    };
    await fetchBlob(client, store.content, repository, doc.config, fetchOpts);
    // Check the config before spending time on layers: a broken config makes the image useless.
    const config = parseImageConfig(await store.content.readBlob(doc.config.digest), `config ${doc.config.digest} of ${name}`);
    if (config.diffIds.length !== doc.layers.length) {
      throw new ImageError(ErrorCodes.ManifestInvalid, `${name}: manifest has ${doc.layers.length} layers but config has ${config.diffIds.length} diff_ids`, { ref: name });
    }
    await mapLimit(doc.layers, options.concurrency ?? 3, (layer) => fetchBlob(client, store.content, repository, layer, fetchOpts));
  } finally {
    progress.stop();
  }
  await store.content.writeBlob(manifest.data, { digest: manifest.digest });
  if (manifest !== top) await store.content.writeBlob(top.data, { digest: top.digest });
  const topDoc = manifest === top ? doc : parseManifestOrIndex(top.data, `index ${name}`, top.mediaType);
  await store.writeRef({ ref: name, digest: top.digest, mediaType: topDoc.mediaType, size: top.data.length });
  return store.resolve(name);
}
