import { ErrorCodes } from '../../lib/error-codes.ts';
// Types of manifest loading: where an object came from, and the problems found on the way.

/** SourceLocation is a 1-based line and column in a file; `file` is relative to the loaded root, with '/' separators. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** ManifestSource is where one object starts: its file, 0-based document index in that file, line and column. */
export interface ManifestSource extends SourceLocation {
  document: number;
}

/** LoadedObject is one parsed manifest (a YAML mapping) and where it came from; shape not yet validated. */
export interface LoadedObject {
  object: Record<string, unknown>;
  source: ManifestSource;
}

/**
 * Problem is one thing wrong with the manifests, found by the loader or the validator. `path` is
 * the field path (`spec.template.ports[0].containerPort`), empty for the whole object or file;
 * `kind`/`name` are set once the object is known.
 */
export interface Problem extends SourceLocation {
  code: string;
  message: string;
  kind?: string;
  name?: string;
  path?: string;
  document?: number;
}

/** FieldPath is a path into an object: property names and array indexes. */
export type FieldPath = ReadonlyArray<string | number>;

/**
 * LoadResult is what loading produced: every object found, every problem met, and `locate`, which
 * maps a field of an object back to its line and column (computed lazily: only failing fields pay).
 */
export interface LoadResult {
  objects: LoadedObject[];
  problems: Problem[];
  /** files is the number of manifest files read. */
  files: number;
  /** locate returns where `path` of the object at `source` is written; the deepest existing part of the path if it is absent. */
  locate(source: ManifestSource, path: FieldPath): SourceLocation;
}

/** LoadOptions bound what a load may consume; the defaults are MANIFEST_LIMITS. */
export interface LoadOptions {
  maxFileBytes?: number;
  maxObjects?: number;
  /** maxNodesPerDocument bounds a document's size after alias expansion (billion laughs). */
  maxNodesPerDocument?: number;
  /**
   * maxGitObjectBytes bounds a Git tree or commit once inflated (blobs are bounded by maxFileBytes):
   * a small object that inflates to gigabytes is refused from its header, never read whole.
   */
  maxGitObjectBytes?: number;
}

/** MANIFEST_LIMITS are the default LoadOptions: 1 MiB per file, 10,000 objects, 100,000 nodes per document, 16 MiB per Git tree or commit. */
export const MANIFEST_LIMITS: Required<LoadOptions> = {
  maxFileBytes: 1024 * 1024,
  maxObjects: 10_000,
  maxNodesPerDocument: 100_000,
  maxGitObjectBytes: 16 * 1024 * 1024,
};

/** LoadErrorCode lists the stable codes of loader problems. */
export const LoadErrorCode = {
  fileTooLarge: ErrorCodes.ManifestTooLarge,
  encoding: ErrorCodes.ManifestEncoding,
  yaml: ErrorCodes.YamlSyntax,
  notMapping: ErrorCodes.ManifestNotMapping,
  tooComplex: ErrorCodes.ManifestTooComplex,
  tooManyObjects: ErrorCodes.TooManyObjects,
  unreadable: ErrorCodes.ManifestUnreadable,
} as const;

/** isManifestFile tells whether a file name is one the loaders read (*.yaml, *.yml, *.json). */
export function isManifestFile(name: string): boolean {
  return /\.(ya?ml|json)$/i.test(name);
}
