// Pure parsers of manifests, indexes and configs: bytes in, validated objects out. Every error
// names the blob and the field, so a broken or hostile registry gives a message, not a crash.
import { GitcellError, ImageError, RuntimeError } from '../../lib/errors.ts';
import { isDigest } from './digest.ts';
import { MediaTypes, isIndexMediaType, isManifestMediaType, layerCompression, type Descriptor, type ImageConfig, type Platform } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** ParsedManifest is a single-platform image manifest (OCI or Docker schema2). */
export interface ParsedManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** ParsedIndex is an image index (OCI index or Docker manifest list). */
export interface ParsedIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

/** ParsedConfig is the part of an image config gitcell uses, plus the raw JSON for rewriting. */
export interface ParsedConfig {
  config: ImageConfig;
  diffIds: string[];
  architecture?: string;
  os?: string;
  raw: Record<string, unknown>;
}

function invalid(where: string, field: string, reason: string): GitcellError {
  return new ImageError(ErrorCodes.ManifestInvalid, `${where}: field "${field}" ${reason}`, { where, field, reason });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** parseJsonBlob parses a JSON object blob, E_MANIFEST_INVALID when it is not one. */
export function parseJsonBlob(data: Buffer, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new ImageError(ErrorCodes.ManifestInvalid, `${where}: not valid JSON (${(err as Error).message})`, { where });
  }
  if (!isObject(value)) throw new ImageError(ErrorCodes.ManifestInvalid, `${where}: not a JSON object`, { where });
  return value;
}

/** parseDescriptor validates one descriptor at `field` of `where`. */
export function parseDescriptor(value: unknown, where: string, field: string): Descriptor {
  if (!isObject(value)) throw invalid(where, field, 'must be an object');
  const { mediaType, digest, size, annotations, platform } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) throw invalid(where, `${field}.mediaType`, 'must be a non-empty string');
  if (!isDigest(digest)) throw invalid(where, `${field}.digest`, 'must be a sha256 digest');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(where, `${field}.size`, 'must be a non-negative integer');
  const out: Descriptor = { mediaType, digest, size };
  if (annotations !== undefined) {
    if (!isObject(annotations) || !Object.values(annotations).every((v) => typeof v === 'string')) throw invalid(where, `${field}.annotations`, 'must map strings to strings');
    out.annotations = annotations as Record<string, string>;
  }
  if (platform !== undefined) {
    if (!isObject(platform) || typeof platform.architecture !== 'string' || typeof platform.os !== 'string') throw invalid(where, `${field}.platform`, 'must have string architecture and os');
    const p: Platform = { architecture: platform.architecture, os: platform.os };
    if (typeof platform.variant === 'string') p.variant = platform.variant;
    out.platform = p;
  }
  return out;
}

/**
 * parseManifestOrIndex parses a manifest or index blob. `hintMediaType` (from a registry's
 * Content-Type or a descriptor) is used when the document has no mediaType field, which OCI allows.
 */
export function parseManifestOrIndex(data: Buffer, where: string, hintMediaType?: string): ParsedManifest | ParsedIndex {
  const doc = parseJsonBlob(data, where);
  if (doc.schemaVersion !== 2) throw invalid(where, 'schemaVersion', `must be 2 (Docker schema1 is not supported), got ${JSON.stringify(doc.schemaVersion)}`);
  let mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (mediaType === undefined) {
    if (hintMediaType !== undefined && (isIndexMediaType(hintMediaType) || isManifestMediaType(hintMediaType))) mediaType = hintMediaType;
    else if (Array.isArray(doc.manifests)) mediaType = MediaTypes.ociIndex;
    else mediaType = MediaTypes.ociManifest;
  }
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid(where, 'manifests', 'must be an array');
    return { kind: 'index', mediaType, manifests: doc.manifests.map((m, i) => parseDescriptor(m, where, `manifests[${i}]`)) };
  }
  if (!isManifestMediaType(mediaType)) throw invalid(where, 'mediaType', `"${mediaType}" is not an image manifest or index type gitcell understands`);
  const config = parseDescriptor(doc.config, where, 'config');
  if (!Array.isArray(doc.layers)) throw invalid(where, 'layers', 'must be an array');
  const layers = doc.layers.map((l, i) => parseDescriptor(l, where, `layers[${i}]`));
  layers.forEach((l, i) => {
    if (layerCompression(l.mediaType) === undefined) {
      throw new RuntimeError(ErrorCodes.LayerUnsupported, `${where}: layers[${i}] has media type "${l.mediaType}"; gitcell unpacks only tar and tar+gzip layers`, { where, index: i, mediaType: l.mediaType });
    }
  });
  return { kind: 'manifest', mediaType, config, layers };
}

/** DEFAULT_PLATFORM is the only platform gitcell runs. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** selectPlatform picks the index entry for `platform` (default linux/amd64); E_PLATFORM_NOT_FOUND. */
export function selectPlatform(index: ParsedIndex, where: string, platform: Platform = DEFAULT_PLATFORM): Descriptor {
  const match = index.manifests.find((m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture && isManifestMediaType(m.mediaType));
  if (match) return match;
  // An index without platform fields (some OCI layouts) with a single manifest: take it.
  const manifests = index.manifests.filter((m) => isManifestMediaType(m.mediaType));
  if (manifests.length === 1 && manifests[0]!.platform === undefined) return manifests[0]!;
  const have = index.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : '(no platform)')).join(', ');
  throw new ImageError(ErrorCodes.PlatformNotFound, `${where}: no ${platform.os}/${platform.architecture} manifest in the index (has: ${have || 'nothing'})`, { where, have });
}

function stringArray(v: unknown, where: string, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(where, field, 'must be an array of strings');
  return v as string[];
}

function optString(v: unknown, where: string, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(where, field, 'must be a string');
  return v;
}

/** parseImageConfig parses an image config blob: the runtime config and rootfs.diff_ids. */
export function parseImageConfig(data: Buffer, where: string): ParsedConfig {
  const raw = parseJsonBlob(data, where);
  const rootfs = raw.rootfs;
  if (!isObject(rootfs)) throw invalid(where, 'rootfs', 'must be an object');
  if (rootfs.type !== 'layers') throw invalid(where, 'rootfs.type', 'must be "layers"');
  if (!Array.isArray(rootfs.diff_ids) || !rootfs.diff_ids.every(isDigest)) throw invalid(where, 'rootfs.diff_ids', 'must be an array of sha256 digests');
  const c = raw.config;
  const config: ImageConfig = {};
  if (c !== undefined && c !== null) {
    if (!isObject(c)) throw invalid(where, 'config', 'must be an object');
    const user = optString(c.User, where, 'config.User'); if (user !== undefined) config.User = user;
    const env = stringArray(c.Env, where, 'config.Env'); if (env !== undefined) config.Env = env;
    const ep = stringArray(c.Entrypoint, where, 'config.Entrypoint'); if (ep !== undefined) config.Entrypoint = ep;
    const cmd = stringArray(c.Cmd, where, 'config.Cmd'); if (cmd !== undefined) config.Cmd = cmd;
    const wd = optString(c.WorkingDir, where, 'config.WorkingDir'); if (wd !== undefined) config.WorkingDir = wd;
    const sig = optString(c.StopSignal, where, 'config.StopSignal'); if (sig !== undefined) config.StopSignal = sig;
    if (c.ExposedPorts !== undefined && c.ExposedPorts !== null) {
      if (!isObject(c.ExposedPorts)) throw invalid(where, 'config.ExposedPorts', 'must be an object');
      config.ExposedPorts = c.ExposedPorts as Record<string, object>;
    }
    if (c.Labels !== undefined && c.Labels !== null) {
      if (!isObject(c.Labels) || !Object.values(c.Labels).every((v) => typeof v === 'string')) throw invalid(where, 'config.Labels', 'must map strings to strings');
      config.Labels = c.Labels as Record<string, string>;
    }
  }
  const out: ParsedConfig = { config, diffIds: rootfs.diff_ids as string[], raw };
  if (typeof raw.architecture === 'string') out.architecture = raw.architecture;
  if (typeof raw.os === 'string') out.os = raw.os;
  return out;
}

/** isGzipLayer is true when a layer descriptor's media type says gzip. */
export function isGzipLayer(desc: Descriptor): boolean {
  return layerCompression(desc.mediaType) === 'gzip';
}

/** toOciLayerMediaType maps a Docker layer media type to its OCI twin (same bytes, same digest). */
export function toOciLayerMediaType(mediaType: string): string {
  switch (mediaType) {
    case MediaTypes.dockerLayerGzip: return MediaTypes.ociLayerGzip;
    case MediaTypes.dockerLayer: return MediaTypes.ociLayer;
    case MediaTypes.dockerForeignLayerGzip: return MediaTypes.ociLayerNondistributableGzip;
    default: return mediaType;
  }
}

/** canonicalJson serialises a manifest or config the same way every time (for stable digests). */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
