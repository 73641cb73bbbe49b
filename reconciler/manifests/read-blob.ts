// Reads blobs through isomorphic-git's object store, inflating loose objects with node:zlib.
// isomorphic-git inflates with a DecompressionStream (or pako) and hashes with SubtleCrypto, each an
// async round trip per object; for the thousands of small blobs of a manifest repository that costs
// about twice the CPU of node's native, synchronous inflate and SHA-1. isomorphic-git still finds
// the object (loose or packed, alternates); only the decoding of loose objects happens here.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type * as fs from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import * as buffer from 'node:buffer';
import git from 'isomorphic-git';
import { looseObjectPath, objectTooLarge } from './object-size.ts';
import { GitcellError, ErrorCodes, GitError } from '../../lib/index.ts';

/** GitRepo is what isomorphic-git needs to read objects (cache: its packfile index cache, kept per load). */
export interface GitRepo {
  fs: typeof fs;
  dir: string;
  gitdir?: string;
  cache: object;
}

/**
 * readBlobFast returns the content of blob `oid`, like git.readBlob but inflating and hashing loose
 * objects natively. Throws GitcellError E_GIT_OBJECT_CORRUPT when a loose object does not inflate,
 * is not a blob, or does not hash to `oid`, and E_GIT_OBJECT_TOO_LARGE (naming `what`) when it inflates
 * to more than `maxBytes`: inflation stops at the limit. isomorphic-git's own errors pass through.
 */
export async function readBlobFast(repo: GitRepo, oid: string, maxBytes = Number.MAX_SAFE_INTEGER, what = 'blob'): Promise<Uint8Array> {
  const loose = readLooseBlob(repo.gitdir ?? join(repo.dir, '.git'), oid, maxBytes, what);
  if (loose) return loose;
  const r = await git.readObject({ ...repo, oid, format: 'deflated' });
  // Packed objects (and the hard-coded empty tree) come back already decoded by isomorphic-git.
  if (r.format === 'content') {
    if (r.type !== 'blob') throw corrupt(oid, `is a ${r.type}, not a blob`);
    if ((r.object as Uint8Array).byteLength > maxBytes) throw objectTooLarge(oid, what, (r.object as Uint8Array).byteLength, maxBytes);
    return r.object as Uint8Array;
  }
  return decodeLoose(r.format === 'deflated' ? (r.object as Uint8Array) : undefined, r.format === 'deflated' ? undefined : (r.object as Uint8Array), oid, maxBytes, what);
}

/**
 * readLooseBlob reads blob `oid` straight from its loose object file under `gitdir`: one synchronous
 * read of a small file, where isomorphic-git's readObject looks for the repository's gitdir (a stat
 * per call), then for the file, asynchronously. Undefined when there is no loose object (packed,
 * or in an alternate: isomorphic-git finds those), or when its compressed size alone could exceed
 * the limit (the header-first size check of object-size.ts then refuses it without reading it).
 */
export function readLooseBlob(gitdir: string, oid: string, maxBytes: number, what: string): Uint8Array | undefined {
  let fd: number;
  try {
    fd = openSync(looseObjectPath(gitdir, oid), 'r');
  } catch {
    return undefined;
  }
  let compressed: Buffer;
  try {
    const size = fstatSync(fd).size;
    // zlib's worst case grows data by well under 1%: a file this large may inflate past the limit.
    if (size > maxBytes + maxBytes / 64 + 1024) return undefined;
    compressed = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const got = readSync(fd, compressed, n, size - n, n);
      if (got === 0) break;
      n += got;
    }
    compressed = compressed.subarray(0, n);
  } finally {
    closeSync(fd);
  }
  return decodeLoose(compressed, undefined, oid, maxBytes, what);
}

/** decodeLoose inflates a loose object (or takes it inflated), checks its SHA-1 and header, and returns the blob's content. */
function decodeLoose(deflated: Uint8Array | undefined, inflated: Uint8Array | undefined, oid: string, maxBytes: number, what: string): Uint8Array {
  let wrapped: Buffer;
  try {
    // Never more than the limit (plus the header) in memory, whatever the object's header claims.
    const maxOutputLength = Math.min(maxBytes + 64, buffer.kMaxLength);
    wrapped = deflated ? inflateSync(deflated, { maxOutputLength }) : Buffer.from(inflated!);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw objectTooLarge(oid, what, undefined, maxBytes);
    throw corrupt(oid, `does not inflate (${(err as Error).message})`);
  }
  // A loose object is "<type> <size>\0<content>", and its name is the SHA-1 of all of it.
  if (createHash('sha1').update(wrapped).digest('hex') !== oid) throw corrupt(oid, 'does not match its SHA-1');
  const nul = wrapped.indexOf(0);
  const header = wrapped.toString('latin1', 0, Math.max(nul, 0));
  const m = /^(\w+) (\d+)$/.exec(header);
  if (nul < 0 || !m) throw corrupt(oid, 'has no object header');
  if (m[1] !== 'blob') throw corrupt(oid, `is a ${m[1]}, not a blob`);
  const content = wrapped.subarray(nul + 1);
  if (content.length !== Number(m[2])) throw corrupt(oid, `says ${m[2]} bytes but holds ${content.length}`);
  return content;
}

function corrupt(oid: string, why: string): GitcellError {
  return new GitError(ErrorCodes.GitObjectCorrupt, `git object ${oid} ${why}`, { oid });
}
