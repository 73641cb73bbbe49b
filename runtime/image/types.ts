// Types of the image store. Only types and media-type constants live here.

/** Descriptor points at one blob by digest, as in the OCI image spec. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  /** platform is only set on entries of an image index. */
  platform?: Platform;
}

/** Platform of one manifest inside an image index. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** ImageConfig is the runtime part of an OCI image config (its "config" field). */
export interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

/** ResolvedImage is an image whose manifest, config and layers are all in the content store. */
export interface ResolvedImage {
  /** ref is the normalised reference, e.g. "localhost/busybox:1.36" or "127.0.0.1:5000/web:v1". */
  ref: string;
  /** manifestDigest is the digest of the platform manifest (not of an index pointing at it). */
  manifestDigest: string;
  manifest: Descriptor;
  configDigest: string;
  config: ImageConfig;
  /** layers, bottom first; the media type says whether a layer is gzip-compressed. */
  layers: Descriptor[];
  /** diffIds are rootfs.diff_ids: digests of the uncompressed layer tars, bottom first. */
  diffIds: string[];
}

/** MediaTypes lists every media type the store reads or writes. */
export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** isIndexMediaType tells image indexes (OCI index, Docker manifest list) from manifests. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

/** isManifestMediaType is true for the single-platform manifest types the store understands. */
export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest;
}

const gzipLayers = new Set<string>([
  MediaTypes.ociLayerGzip, MediaTypes.ociLayerNondistributableGzip,
  MediaTypes.dockerLayerGzip, MediaTypes.dockerForeignLayerGzip,
]);
const plainLayers = new Set<string>([MediaTypes.ociLayer, MediaTypes.ociLayerNondistributable, MediaTypes.dockerLayer]);

/**
 * layerCompression says how a layer blob of `mediaType` is compressed: 'gzip', 'none', or
 * undefined when the type is not a layer type gitcell can unpack (zstd, encrypted, ...).
 */
export function layerCompression(mediaType: string): 'gzip' | 'none' | undefined {
  if (gzipLayers.has(mediaType)) return 'gzip';
  if (plainLayers.has(mediaType)) return 'none';
  return undefined;
}
