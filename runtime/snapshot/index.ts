// runtime/snapshot: layers unpacked once into ROOT/snapshots/<chain-hex>/fs, hostile tars contained.
export { Snapshotter, chainIds, layerIsGzip, type LayerRef, type BlobSource, type SnapshotInfo, type SnapshotterOptions } from './snapshotter.ts';
export { unpackLayer, defaultUnpackLimits, type UnpackLimits, type UnpackOptions, type UnpackResult } from './unpack.ts';
export { cleanEntryName, classifyWhiteout, WHITEOUT_PREFIX, OPAQUE_MARKER } from './paths.ts';
export { makeWhiteouts, markOpaque, listOpaque, OPAQUE_XATTR } from './fsops.ts';
