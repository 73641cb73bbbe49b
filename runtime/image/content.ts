import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ImageError } from '../../lib/errors.ts';
import { readdirIfExists } from '../../lib/fs.ts';
import { HashCounter } from '../../lib/hash-counter.ts';
import { assertDigest, digestHex } from './digest.ts';
import type { Descriptor } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** BlobExpectation is what a caller knows about a blob before writing it. */
export interface BlobExpectation {
  digest?: string;
  size?: number;
  /** mediaType is copied into the returned descriptor (default application/octet-stream). */
  mediaType?: string;
}

// HashCounter lives in lib/ (the snapshot unpacker meters layers with it too); image's public face keeps it.
export { HashCounter };

/**
 * ContentStore keeps blobs by digest under ROOT/content/blobs/sha256/<hex>. Every write is hashed
 * while it streams to a temp file in ROOT/content/tmp and only renamed into place when the digest
 * (and size, when known) match, so a blob's path always holds exactly its content. Two writers of
 * the same blob both rename identical bytes into place, which is safe.
 */
export class ContentStore {
  readonly root: string;
  readonly blobsDir: string;
  readonly tmpDir: string;
  readonly ingestDir: string;

  /** `root` is the runtime root (ROOT); blobs live in ROOT/content. */
  constructor(root: string) {
    this.root = root;
    this.blobsDir = join(root, 'content', 'blobs', 'sha256');
    this.tmpDir = join(root, 'content', 'tmp');
    this.ingestDir = join(root, 'content', 'ingest');
  }

  /** blobPath is where the blob of `digest` lives (whether or not it exists yet). */
  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  /** has is true when the blob is stored. */
  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** hasSync is has() with one stat(2) on this thread: cheaper than a round trip through the pool. */
  hasSync(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  /** size returns the stored blob's size in bytes; E_BLOB_NOT_FOUND when absent. */
  async size(digest: string): Promise<number> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (err) {
      throw this.notFound(digest, err);
    }
  }

  /** openBlob streams a stored blob; E_BLOB_NOT_FOUND when absent. */
  async openBlob(digest: string): Promise<Readable> {
    const path = this.blobPath(digest);
    const handle = await open(path, 'r').catch((err: unknown) => { throw this.notFound(digest, err); });
    return handle.createReadStream();
  }

  /** readBlob reads a whole stored blob (manifests, configs); E_BLOB_NOT_FOUND when absent. */
  async readBlob(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (err) {
      throw this.notFound(digest, err);
    }
  }

  /**
   * writeBlob stores `data` and returns its descriptor. With `expected.digest` or `expected.size`
   * a mismatch throws E_DIGEST_MISMATCH / E_SIZE_MISMATCH and nothing is stored.
   */
  async writeBlob(data: Buffer | Readable, expected: BlobExpectation = {}): Promise<Descriptor> {
    const source = Buffer.isBuffer(data) ? Readable.from([data]) : data;
    // A source stream that fails while we await mkdir must not become an unhandled 'error' event.
    let early: unknown;
    const onEarly = (err: unknown): void => { early ??= err; };
    source.on('error', onEarly);
    const tmp = join(this.tmpDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    try {
      if (expected.digest !== undefined) assertDigest(expected.digest, 'expected digest');
      await mkdir(this.tmpDir, { recursive: true });
      if (early !== undefined) throw early;
      const counter = new HashCounter(expected.size ?? Number.POSITIVE_INFINITY, expected.digest ?? 'blob');
      const out = createWriteStream(tmp, { flags: 'wx' });
      await pipeline(source, counter, out);
      return await this.commit(tmp, counter.digest(), counter.bytes, expected);
    } finally {
      source.off('error', onEarly);
      if (!source.destroyed) source.destroy();
      await rm(tmp, { force: true });
    }
  }

  /**
   * commitFile moves a complete file (e.g. a finished download in the ingest directory) into the
   * store after hashing it; same checks as writeBlob. The file is consumed either way.
   */
  async commitFile(path: string, expected: BlobExpectation = {}): Promise<Descriptor> {
    try {
      const counter = new HashCounter();
      await pipeline(createReadStream(path), counter, async function* (src) { for await (const _ of src) { /* drain */ } });
      return await this.commit(path, counter.digest(), counter.bytes, expected);
    } finally {
      await rm(path, { force: true });
    }
  }

  /** list returns the digests of every stored blob. */
  async list(): Promise<string[]> {
    const names = await readdirIfExists(this.blobsDir);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`).sort();
  }

  /** delete removes a blob if present (garbage collection only). */
  async delete(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  private async commit(tmp: string, digest: string, size: number, expected: BlobExpectation): Promise<Descriptor> {
    if (expected.digest !== undefined && expected.digest !== digest) {
      throw new ImageError(ErrorCodes.DigestMismatch, `blob content hashes to ${digest}, expected ${expected.digest}; not stored`, { expected: expected.digest, actual: digest, size });
    }
    if (expected.size !== undefined && expected.size !== size) {
      throw new ImageError(ErrorCodes.SizeMismatch, `blob ${digest} is ${size} bytes, expected ${expected.size}; not stored`, { digest, expected: expected.size, actual: size });
    }
    const handle = await open(tmp, 'r');
    try { await handle.sync(); } finally { await handle.close(); }
    await mkdir(this.blobsDir, { recursive: true });
    // rename is atomic: readers see either no blob or the whole verified blob.
    await rename(tmp, this.blobPath(digest));
    return { mediaType: expected.mediaType ?? 'application/octet-stream', digest, size };
  }

  private notFound(digest: string, err: unknown): unknown {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return new ImageError(ErrorCodes.BlobNotFound, `blob ${digest} is not in the content store ${this.blobsDir}`, { digest });
    }
    return err;
  }
}
