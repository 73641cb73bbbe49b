import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ImageError, isGitcellError } from '../../lib/errors.ts';
import { HashCounter, type ContentStore, type Descriptor } from '../image/index.ts';
import type { RegistryClient } from './client.ts';
import type { Progress } from './progress.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** DownloadOptions tune fetchBlob. */
export interface DownloadOptions {
  progress: Progress;
  /** retries after an interrupted transfer, each resuming where the last stopped (default 3). */
  retries?: number;
  /** idleTimeoutMs aborts a transfer that receives nothing for this long (default 60 s); it then resumes. */
  idleTimeoutMs?: number;
  /** maxBlobBytes refuses a blob whose descriptor declares more (default DEFAULT_MAX_BLOB_BYTES). */
  maxBlobBytes?: number;
}

/**
 * DEFAULT_MAX_BLOB_BYTES caps the size a registry may declare for one blob (10 GiB, larger than any
 * sane layer): a manifest is attacker-controlled input, and the declared size is what the download
 * is allowed to write to the node's disk.
 */
export const DEFAULT_MAX_BLOB_BYTES = 10 * 1024 ** 3;

/**
 * checkDeclaredSize refuses, before any byte is requested, a descriptor whose size is not a
 * non-negative integer or is over `max`: E_BLOB_TOO_LARGE names the blob, its size and the cap.
 */
export function checkDeclaredSize(desc: Descriptor, max: number = DEFAULT_MAX_BLOB_BYTES, where = 'blob'): void {
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new ImageError(ErrorCodes.ManifestInvalid, `${where} ${desc.digest}: declared size ${String(desc.size)} is not a byte count`, { digest: desc.digest, size: desc.size });
  }
  if (desc.size > max) {
    throw new ImageError(ErrorCodes.BlobTooLarge, `${where} ${desc.digest} declares ${desc.size} bytes, over the ${max}-byte cap (maxBlobBytes); not downloaded`, { digest: desc.digest, size: desc.size, max });
  }
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * acquireIngest takes the ingest slot of one digest: ROOT/content/ingest/<hex> (the partial file)
 * guarded by <hex>.lock holding our pid. A lock left by a dead process is taken over (its partial
 * file is kept: that is what makes downloads resumable across runs). Returns undefined when a live
 * process holds it; the caller then downloads to a private file without resume.
 */
async function acquireIngest(content: ContentStore, hex: string): Promise<{ path: string; release: () => Promise<void> } | undefined> {
  await mkdir(content.ingestDir, { recursive: true });
  const path = join(content.ingestDir, hex);
  const lock = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await open(lock, 'wx');
      await h.writeFile(String(process.pid));
      await h.close();
      return { path, release: () => rm(lock, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder) && holder !== process.pid) return undefined;
      if (holder === process.pid) return undefined;
      await rm(lock, { force: true });
    }
  }
  return undefined;
}

/**
 * fetchBlob downloads one blob of `repository` into the content store unless it is there already.
 * The body streams to a partial file in the ingest directory; after an interruption the next
 * attempt (in this call or a later run) asks for the rest with a Range request and appends. The
 * finished file is hashed and committed only if digest and size match the descriptor
 * (E_DIGEST_MISMATCH / E_SIZE_MISMATCH otherwise, and the partial file is discarded).
 */
export async function fetchBlob(client: RegistryClient, content: ContentStore, repository: string, desc: Descriptor, options: DownloadOptions): Promise<'exists' | 'done'> {
  // Two pulls in one process sharing a layer (an agent starting two tasks) download it once.
  const key = `${content.blobsDir}\0${desc.digest}`;
  const running = inflight.get(key);
  if (running) {
    await running;
    options.progress.finish(desc.digest, 'exists');
    return 'exists';
  }
  const p = fetchBlobOnce(client, content, repository, desc, options);
  inflight.set(key, p);
  try {
    return await p;
  } finally {
    inflight.delete(key);
  }
}

const inflight = new Map<string, Promise<'exists' | 'done'>>();

async function fetchBlobOnce(client: RegistryClient, content: ContentStore, repository: string, desc: Descriptor, options: DownloadOptions): Promise<'exists' | 'done'> {
  checkDeclaredSize(desc, options.maxBlobBytes, `${client.domain}/${repository}: blob`);
  if (await content.has(desc.digest)) {
    options.progress.finish(desc.digest, 'exists');
    return 'exists';
  }
  const hex = desc.digest.slice('sha256:'.length);
  const slot = await acquireIngest(content, hex);
  const path = slot?.path ?? join(content.ingestDir, `${hex}.${process.pid}.${Date.now()}`);
  const retries = options.retries ?? 3;
  const scope = `repository:${repository}:pull`;
  let started = false;
  try {
    for (let attempt = 0; ; attempt++) {
      const have = slot ? ((await stat(path).catch(() => undefined))?.size ?? 0) : 0;
      if (have > desc.size) await rm(path, { force: true });
      const offset = have > desc.size ? 0 : have;
      if (!started) { options.progress.start(desc.digest, desc.digest.slice(7, 19), desc.size, offset); started = true; }
      try {
        if (offset < desc.size) await transfer(client, repository, desc, path, offset, scope, options.progress, options.idleTimeoutMs ?? 60_000);
        await content.commitFile(path, { digest: desc.digest, size: desc.size, mediaType: desc.mediaType });
        options.progress.finish(desc.digest, 'done');
        return 'done';
      } catch (err) {
        // Only a broken connection is worth resuming; a wrong digest or an HTTP error is final.
        const retriable = isGitcellError(err, ErrorCodes.TransferInterrupted);
        if (!retriable || attempt >= retries) {
          if (!retriable) await rm(path, { force: true });
          options.progress.finish(desc.digest, 'failed');
          throw err;
        }
      }
    }
  } finally {
    if (!slot) await rm(path, { force: true });
    await slot?.release();
  }
}

async function transfer(client: RegistryClient, repository: string, desc: Descriptor, path: string, offset: number, scope: string, progress: Progress, idleTimeoutMs: number): Promise<void> {
  const headers: Record<string, string> = {};
  if (offset > 0) headers.range = `bytes=${offset}-`;
  // A stalled connection would otherwise hang forever: abort when nothing arrives for a while.
  const abort = new AbortController();
  let idle = setTimeout(() => abort.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  const touch = (): void => { clearTimeout(idle); idle = setTimeout(() => abort.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs); };
  try {
    await transferBody(client, repository, desc, path, offset, scope, progress, headers, abort.signal, touch);
  } finally {
    clearTimeout(idle);
  }
}

async function transferBody(client: RegistryClient, repository: string, desc: Descriptor, path: string, offset: number, scope: string, progress: Progress, headers: Record<string, string>, signal: AbortSignal, touch: () => void): Promise<void> {
  let res: Response;
  try {
    res = await client.request('GET', `/v2/${repository}/blobs/${desc.digest}`, { scope, headers, stream: true, signal });
  } catch (err) {
    if (signal.aborted) throw new ImageError(ErrorCodes.TransferInterrupted, `${client.domain}/${repository}: download of ${desc.digest} stalled (${(signal.reason as Error).message})`, { digest: desc.digest });
    throw err;
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new ImageError(ErrorCodes.BlobNotFound, `${client.domain}/${repository}: blob ${desc.digest} is not in the registry`, { digest: desc.digest });
  }
  let append = offset > 0;
  if (res.status === 200) append = false; // the registry ignored Range: start over
  else if (res.status === 206) {
    const range = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) append = false;
  } else {
    throw await client.failure(res, `GET blob ${desc.digest}`);
  }
  if (!res.body) throw new ImageError(ErrorCodes.RegistryError, `${client.domain}: empty body for blob ${desc.digest}`, { digest: desc.digest });
  const start = append ? offset : 0;
  // A registry announcing more than the descriptor allows is refused before its body is read.
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(announced) && announced > desc.size - start) {
    await res.body.cancel();
    throw new ImageError(ErrorCodes.SizeMismatch, `${client.domain}/${repository}: blob ${desc.digest} is announced as ${announced} bytes, more than the ${desc.size - start} its descriptor leaves; not stored`, { digest: desc.digest, announced });
  }
  // The limit stops a registry that sends more than the descriptor's size from filling the disk.
  // Each chunk is written before the next is read, so after an interruption the partial file
  // holds everything that arrived and the next attempt resumes from there.
  const limit = desc.size - start;
  let received = 0;
  const file = await open(path, append ? 'a' : 'w');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      received += chunk.length;
      if (received > limit) {
        await file.truncate(0);
        throw new ImageError(ErrorCodes.SizeMismatch, `${client.domain}/${repository}: blob ${desc.digest} is longer than its ${desc.size} bytes; not stored`, { digest: desc.digest });
      }
      await file.write(chunk);
      touch();
      progress.advance(desc.digest, chunk.length);
    }
  } catch (err) {
    if (isGitcellError(err)) throw err;
    const why = signal.aborted ? `stalled: ${(signal.reason as Error).message}` : (err as Error).message;
    throw new ImageError(ErrorCodes.TransferInterrupted, `${client.domain}/${repository}: download of ${desc.digest} was interrupted (${why})`, { digest: desc.digest }, { cause: err });
  } finally {
    await file.close();
  }
  const got = (await stat(path)).size;
  if (got < desc.size) {
    throw new ImageError(ErrorCodes.TransferInterrupted, `${client.domain}/${repository}: download of ${desc.digest} ended at ${got} of ${desc.size} bytes`, { digest: desc.digest, got });
  }
}

/** fileDigest is exported for tests: the sha256 digest of a file. */
export async function fileDigest(path: string): Promise<string> {
  const h = new HashCounter();
  await pipeline(createReadStream(path), h, async function* (src) { for await (const _ of src) { /* drain */ } });
  return h.digest();
}
