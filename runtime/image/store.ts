import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from '../../lib/errors.ts';
import { readdirIfExists } from '../../lib/fs.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { compareCodeUnits } from '../../lib/compare.ts';
import { ContentStore } from './content.ts';
import { assertDigest } from './digest.ts';
import { canonicalJson, parseImageConfig, parseJsonBlob, parseManifestOrIndex, selectPlatform, toOciLayerMediaType } from './manifest.ts';
import { normalizeReference, parseReference } from './reference.ts';
import { MediaTypes, type Descriptor, type ImageConfig, type ResolvedImage } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** RESOLVED_MEMO bounds the parsed images an ImageStore keeps (a node runs a few dozen images at most). */
export const RESOLVED_MEMO = 64;

/** RefRecord is one stored reference: a name:tag (or name@digest) pointing at a manifest or index. */
export interface RefRecord {
  ref: string;
  /** digest of what the ref points at: a manifest, or an index (resolved to linux/amd64). */
  digest: string;
  mediaType: string;
  size: number;
}

/** ImageListEntry is one row of ImageStore.list(). */
export interface ImageListEntry {
  ref: string;
  manifestDigest: string;
  /** size is manifest + config + compressed layers, in bytes. */
  size: number;
  /** error is set when the image cannot be resolved (a missing or broken blob). */
  error?: string;
}

/** PutImageInput describes a new image built from an optional base plus new layers. */
export interface PutImageInput {
  base?: ResolvedImage;
  addLayers: { descriptor: Descriptor; diffId: string }[];
  config?: Partial<ImageConfig>;
  /** created is the image's creation time (RFC 3339); default now. Fix it for reproducible digests. */
  created?: string;
  /** createdBy goes into the history entry of each new layer. */
  createdBy?: string;
}

/**
 * ImageStore maps references to manifests in a ContentStore and resolves them into ResolvedImage.
 * References are stored one file each in ROOT/content/refs/<sha256 of ref>.json (written with
 * temp + rename), so concurrent tags of different refs never race on one shared file.
 */
export class ImageStore {
  readonly content: ContentStore;
  readonly refsDir: string;
  /** what each manifest (or index) digest resolved to, oldest first (resolveDigest) */
  private readonly resolved = new Map<string, ResolvedImage>();

  /** `root` is the runtime root (ROOT); everything lives under ROOT/content. */
  constructor(root: string) {
    this.content = new ContentStore(root);
    this.refsDir = join(root, 'content', 'refs');
  }

  /** resolve finds `ref` and reads its manifest, config and layer list; E_IMAGE_NOT_FOUND. */
  async resolve(ref: string): Promise<ResolvedImage> {
    const name = normalizeReference(ref);
    const record = await this.getRef(name);
    let digest: string;
    let hint: string | undefined;
    if (record) {
      digest = record.digest;
      hint = record.mediaType;
    } else {
      const parsed = parseReference(name);
      if (parsed.digest === undefined || !(await this.content.has(parsed.digest))) {
        throw new ImageError(ErrorCodes.ImageNotFound, `image ${name} is not in the local store (pull or import it first)`, { ref: name });
      }
      digest = parsed.digest;
    }
    return this.resolveDigest(name, digest, hint);
  }

  /**
   * resolveDigest resolves a manifest or index blob already in the store, naming it `ref`. Blobs are
   * content-addressed, so what one digest resolves to never changes: it is parsed once per store
   * (RESOLVED_MEMO entries) and later calls only check, with a stat each, that the blobs are still
   * stored (gc may remove them). Each container create resolves its image (the agent twice per
   * start): three to four reads through the thread pool each before.
   */
  async resolveDigest(ref: string, digest: string, hintMediaType?: string): Promise<ResolvedImage> {
    const key = `${digest} ${hintMediaType ?? ''}`;
    const known = this.resolved.get(key);
    if (known && this.content.hasSync(digest) && this.content.hasSync(known.manifestDigest) && this.content.hasSync(known.configDigest) && known.layers.every((l) => this.content.hasSync(l.digest))) {
      return { ...known, ref };
    }
    const image = await this.parseDigest(ref, digest, hintMediaType);
    if (this.resolved.size >= RESOLVED_MEMO) this.resolved.delete(this.resolved.keys().next().value!);
    this.resolved.set(key, image);
    return image;
  }

  private async parseDigest(ref: string, digest: string, hintMediaType?: string): Promise<ResolvedImage> {
    let data = await this.content.readBlob(digest);
    let doc = parseManifestOrIndex(data, `manifest ${digest} of ${ref}`, hintMediaType);
    let manifestDesc: Descriptor = { mediaType: doc.mediaType, digest, size: data.length };
    if (doc.kind === 'index') {
      manifestDesc = selectPlatform(doc, `index ${digest} of ${ref}`);
      data = await this.content.readBlob(manifestDesc.digest);
      doc = parseManifestOrIndex(data, `manifest ${manifestDesc.digest} of ${ref}`, manifestDesc.mediaType);
      if (doc.kind !== 'manifest') throw new ImageError(ErrorCodes.ManifestInvalid, `manifest ${manifestDesc.digest} of ${ref}: an index inside an index is not supported`, { ref });
      manifestDesc = { mediaType: doc.mediaType, digest: manifestDesc.digest, size: data.length };
    }
    const configData = await this.content.readBlob(doc.config.digest);
    const config = parseImageConfig(configData, `config ${doc.config.digest} of ${ref}`);
    if (config.diffIds.length !== doc.layers.length) {
      throw new ImageError(ErrorCodes.ManifestInvalid, `image ${ref}: manifest has ${doc.layers.length} layers but config rootfs.diff_ids has ${config.diffIds.length}`, { ref });
    }
    for (const layer of doc.layers) {
      if (!(await this.content.has(layer.digest))) {
        throw new ImageError(ErrorCodes.BlobNotFound, `image ${ref}: layer ${layer.digest} is not in the content store`, { ref, digest: layer.digest });
      }
    }
    return {
      ref,
      manifestDigest: manifestDesc.digest,
      manifest: manifestDesc,
      configDigest: doc.config.digest,
      config: config.config,
      layers: doc.layers,
      diffIds: config.diffIds,
    };
  }

  /**
   * getRef returns the stored record of a reference, or undefined. The ref file (~200 bytes) is read
   * on this thread: every container create resolves its image, and readFile through the thread pool
   * was four round trips (open, fstat, read, close), 0.5-0.8 ms of a 55-ms container start.
   */
  async getRef(ref: string): Promise<RefRecord | undefined> {
    const name = normalizeReference(ref);
    try {
      const rec = parseJsonBlob(readFileSync(this.refPath(name)), `ref file of ${name}`);
      if (rec.ref !== name || typeof rec.digest !== 'string' || typeof rec.mediaType !== 'string' || typeof rec.size !== 'number') {
        throw new ImageError(ErrorCodes.RefInvalid, `ref file ${this.refPath(name)} is damaged`, { ref: name });
      }
      return { ref: name, digest: assertDigest(rec.digest, `ref ${name}`), mediaType: rec.mediaType, size: rec.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** refs returns every stored reference record, sorted by ref. */
  async refs(): Promise<RefRecord[]> {
    const names = await readdirIfExists(this.refsDir);
    const out: RefRecord[] = [];
    // A damaged ref file is an error, not a skip: gc must never drop an image it cannot read.
    for (const file of names.filter((n) => n.endsWith('.json'))) {
      const path = join(this.refsDir, file);
      let rec: Record<string, unknown>;
      try {
        rec = parseJsonBlob(await readFile(path), `ref file ${path}`);
      } catch (err) {
        throw new ImageError(ErrorCodes.RefInvalid, `ref file ${path} is damaged (${(err as Error).message}); remove it or restore it`, { file: path });
      }
      for (const field of ['ref', 'digest', 'mediaType', 'size'] as const) {
        const want = field === 'size' ? 'number' : 'string';
        if (typeof rec[field] !== want) throw new ImageError(ErrorCodes.RefInvalid, `ref file ${path}: field "${field}" must be a ${want}`, { file: path, field });
      }
      out.push({ ref: rec.ref as string, digest: assertDigest(rec.digest, `ref file ${path}`), mediaType: rec.mediaType as string, size: rec.size as number });
    }
    return out.sort((a, b) => compareCodeUnits(a.ref, b.ref));
  }

  /** list returns every image with its resolved manifest digest and total size. */
  async list(): Promise<ImageListEntry[]> {
    const out: ImageListEntry[] = [];
    for (const rec of await this.refs()) {
      try {
        const img = await this.resolveDigest(rec.ref, rec.digest, rec.mediaType);
        const size = img.manifest.size + (await this.content.size(img.configDigest)) + img.layers.reduce((s, l) => s + l.size, 0);
        out.push({ ref: rec.ref, manifestDigest: img.manifestDigest, size });
      } catch (err) {
        out.push({ ref: rec.ref, manifestDigest: rec.digest, size: 0, error: (err as Error).message });
      }
    }
    return out;
  }

  /** tag points `ref` at a manifest or index already in the content store. */
  async tag(ref: string, manifestDigest: string): Promise<void> {
    const name = normalizeReference(ref);
    assertDigest(manifestDigest, `tag ${name}`);
    const data = await this.content.readBlob(manifestDigest);
    const doc = parseManifestOrIndex(data, `manifest ${manifestDigest}`);
    await this.writeRef({ ref: name, digest: manifestDigest, mediaType: doc.mediaType, size: data.length });
  }

  /** writeRef stores a ref record as is (the registry client uses it to keep an index's type). */
  async writeRef(record: RefRecord): Promise<void> {
    await mkdir(this.refsDir, { recursive: true });
    await writeFileAtomic(this.refPath(record.ref), JSON.stringify(record) + '\n');
  }

  /** remove deletes a reference (its blobs stay until garbage collection); E_IMAGE_NOT_FOUND. */
  async remove(ref: string): Promise<void> {
    const name = normalizeReference(ref);
    if (!(await this.getRef(name))) throw new ImageError(ErrorCodes.ImageNotFound, `image ${name} is not in the local store`, { ref: name });
    await rm(this.refPath(name), { force: true });
  }

  /**
   * putImage writes a new OCI image: `base`'s layers and config first (as for commit), then
   * `addLayers` (whose blobs must already be in the content store), with `config` fields replacing
   * the base's. Docker layer media types of the base become their OCI twins (same bytes).
   */
  async putImage(ref: string, input: PutImageInput): Promise<ResolvedImage> {
    const name = normalizeReference(ref);
    for (const l of input.addLayers) {
      assertDigest(l.diffId, `putImage ${name}: diffId`);
      if (!(await this.content.has(l.descriptor.digest))) {
        throw new ImageError(ErrorCodes.BlobNotFound, `putImage ${name}: layer ${l.descriptor.digest} must be written to the content store first`, { ref: name, digest: l.descriptor.digest });
      }
    }
    const created = input.created ?? new Date().toISOString();
    let raw: Record<string, unknown>;
    if (input.base) {
      raw = structuredClone(parseImageConfig(await this.content.readBlob(input.base.configDigest), `config of ${input.base.ref}`).raw);
    } else {
      raw = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
    }
    const baseLayers = input.base?.layers ?? [];
    const baseDiffIds = input.base?.diffIds ?? [];
    raw.created = created;
    raw.config = { ...((raw.config as Record<string, unknown> | null) ?? {}), ...(input.config ?? {}) };
    raw.rootfs = { type: 'layers', diff_ids: [...baseDiffIds, ...input.addLayers.map((l) => l.diffId)] };
    const history = Array.isArray(raw.history) ? raw.history : [];
    for (const _ of input.addLayers) history.push({ created, created_by: input.createdBy ?? 'gitcell' });
    raw.history = history;
    const configDesc = await this.content.writeBlob(canonicalJson(raw), { mediaType: MediaTypes.ociConfig });
    const layers: Descriptor[] = [...baseLayers, ...input.addLayers.map((l) => l.descriptor)].map((l) => ({
      mediaType: toOciLayerMediaType(l.mediaType), digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}),
    }));
    const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers };
    const manifestDesc = await this.content.writeBlob(canonicalJson(manifest), { mediaType: MediaTypes.ociManifest });
    await this.writeRef({ ref: name, digest: manifestDesc.digest, mediaType: MediaTypes.ociManifest, size: manifestDesc.size });
    return this.resolve(name);
  }

  private refPath(name: string): string {
    return join(this.refsDir, `${createHash('sha256').update(name).digest('hex')}.json`);
  }
}
