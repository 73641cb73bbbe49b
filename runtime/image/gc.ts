import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest } from './digest.ts';
import { parseManifestOrIndex } from './manifest.ts';
import type { ImageStore } from './store.ts';

/** GcOptions tune gcBlobs. */
export interface GcOptions {
  /** keepManifests are extra roots (manifest or index digests), e.g. images of existing containers. */
  keepManifests?: Iterable<string>;
  /** minAgeMs spares blobs younger than this (a pull in another process may not have tagged yet). */
  minAgeMs?: number;
  /** staleTempMs: temp and partial-download files older than this are removed (default 24 h). */
  staleTempMs?: number;
  /** dryRun reports without deleting. */
  dryRun?: boolean;
}

/** GcResult says what gcBlobs removed (or would remove, on a dry run) and what it kept. */
export interface GcResult {
  removed: string[];
  freedBytes: number;
  kept: number;
  /** diffIds of every image kept, bottom first per image (for the snapshotter's keep set). */
  keptImages: { ref: string; diffIds: string[] }[];
  tempFilesRemoved: number;
}

/**
 * gcBlobs is mark and sweep over the content store: every reference (and `keepManifests`) marks
 * its manifest or index, the index's children that are present, and each manifest's config and
 * layers; every other blob is deleted. Not safe against a concurrent pull in another process
 * unless `minAgeMs` covers it: the store has no leases.
 */
export async function gcBlobs(store: ImageStore, options: GcOptions = {}): Promise<GcResult> {
  const marked = new Set<string>();
  const keptImages: GcResult['keptImages'] = [];
  const mark = async (digest: string, hint?: string): Promise<void> => {
    if (marked.has(digest) || !(await store.content.has(digest))) return;
    marked.add(digest);
    let doc;
    try {
      doc = parseManifestOrIndex(await store.content.readBlob(digest), `manifest ${digest}`, hint);
    } catch {
      return; // a broken manifest keeps itself only
    }
    if (doc.kind === 'index') {
      for (const child of doc.manifests) await mark(child.digest, child.mediaType);
    } else {
      marked.add(doc.config.digest);
      for (const layer of doc.layers) marked.add(layer.digest);
    }
  };
  const roots: { ref: string; digest: string; mediaType?: string }[] = (await store.refs()).map((r) => ({ ref: r.ref, digest: r.digest, mediaType: r.mediaType }));
  for (const d of options.keepManifests ?? []) if (isDigest(d)) roots.push({ ref: d, digest: d });
  for (const root of roots) {
    await mark(root.digest, root.mediaType);
    try {
      const img = await store.resolveDigest(root.ref, root.digest, root.mediaType);
      keptImages.push({ ref: root.ref, diffIds: img.diffIds });
    } catch { /* incomplete image: its blobs are kept, it has no snapshots to keep */ }
  }
  const now = Date.now();
  const removed: string[] = [];
  let freedBytes = 0;
  for (const digest of await store.content.list()) {
    if (marked.has(digest)) continue;
    const st = await stat(store.content.blobPath(digest)).catch(() => undefined);
    if (!st || now - st.mtimeMs < (options.minAgeMs ?? 0)) continue;
    removed.push(digest);
    freedBytes += st.size;
    if (!options.dryRun) await store.content.delete(digest);
  }
  let tempFilesRemoved = 0;
  for (const dir of [store.content.tmpDir, store.content.ingestDir]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (!st || now - st.mtimeMs < (options.staleTempMs ?? 24 * 3600_000)) continue;
      tempFilesRemoved++;
      if (!options.dryRun) await rm(join(dir, name), { force: true });
    }
  }
  return { removed, freedBytes, kept: marked.size, keptImages, tempFilesRemoved };
}
