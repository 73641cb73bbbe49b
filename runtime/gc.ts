// Runtime garbage collection: blobs (runtime/image's gcBlobs) and snapshots (Snapshotter.prune) in
// one pass, keeping everything an image reference or an existing container still needs.
//
//   containers ─▶ their manifests + chain IDs ─┐
//   refs ──────▶ gcBlobs (mark and sweep) ─────┴─▶ kept images' chain IDs ─▶ Snapshotter.prune(keep)
//
// Containers keep their image's blobs (commit needs the base) and their snapshots (their lower dirs
// are mounted). Not safe against a concurrent create of a container whose image ref is removed at
// the same moment: run it from the one process that owns the runtime root (the agent, or the CLI).
import { gcBlobs, ImageStore, type GcResult } from './image/index.ts';
import { Snapshotter, chainIds } from './snapshot/index.ts';
import { ContainerManager } from './container/index.ts';

/** RuntimeGcResult reports both halves of a collection. */
export interface RuntimeGcResult {
  blobs: GcResult;
  snapshotsRemoved: string[];
  snapshotsKept: number;
  containers: number;
}

/** RuntimeGcOptions: the runtime root (or its stores), a dry run, and blob age protection. */
export interface RuntimeGcOptions {
  root: string;
  images?: ImageStore;
  snapshots?: Snapshotter;
  dryRun?: boolean;
  minAgeMs?: number;
}

/** collectGarbage removes blobs and snapshots that no image reference and no container uses. */
export async function collectGarbage(opts: RuntimeGcOptions): Promise<RuntimeGcResult> {
  const images = opts.images ?? new ImageStore(opts.root);
  const snapshots = opts.snapshots ?? new Snapshotter(opts.root);
  const containers = new ContainerManager({ root: opts.root, images, snapshots }).list();
  const blobs = await gcBlobs(images, {
    keepManifests: containers.map((c) => c.image.manifestDigest),
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.minAgeMs !== undefined ? { minAgeMs: opts.minAgeMs } : {}),
  });
  const keep = new Set<string>();
  for (const img of blobs.keptImages) for (const c of chainIds(img.diffIds)) keep.add(c);
  for (const c of containers) for (const id of c.image.chainIds) keep.add(id);
  const snapshotsRemoved = opts.dryRun ? snapshots.list().map((s) => s.chainId).filter((c) => !keep.has(c)) : snapshots.prune(keep);
  return { blobs, snapshotsRemoved, snapshotsKept: snapshots.list().length - (opts.dryRun ? snapshotsRemoved.length : 0), containers: containers.length };
}
