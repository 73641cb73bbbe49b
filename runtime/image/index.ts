// runtime/image: content-addressed blobs, image references and manifests, rootfs import.
export type { Descriptor, ImageConfig, ResolvedImage, Platform } from './types.ts';
export { MediaTypes, isIndexMediaType, isManifestMediaType, layerCompression } from './types.ts';
export { isDigest, assertDigest, sha256Digest } from './digest.ts';
export { ContentStore, HashCounter, type BlobExpectation } from './content.ts';
export { ImageStore, type RefRecord, type ImageListEntry, type PutImageInput } from './store.ts';
export { parseReference, formatReference, normalizeReference, isPlainHttpRegistry, LOCAL_DOMAIN, type Reference } from './reference.ts';
export { parseManifestOrIndex, parseImageConfig, selectPlatform, isGzipLayer, DEFAULT_PLATFORM, type ParsedManifest, type ParsedIndex, type ParsedConfig } from './manifest.ts';
export { importRootfs, writeLayerFromDir, buildBusyboxRootfs, BUSYBOX_PATH, DEFAULT_IMPORT_CONFIG, type ImportOptions } from './rootfs.ts';
export { exportOciLayout, importOciLayout, isOciLayout, splitLayoutArg, REF_NAME_ANNOTATION } from './layout.ts';
export { gcBlobs, type GcOptions, type GcResult } from './gc.ts';
