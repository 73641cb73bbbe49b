// reconciler/manifests: reading manifests from Git commits and directories, with source positions.
export { loadManifestsFromDir } from './from-dir.ts';
export { loadManifestsFromGit, type GitSource, type GitLoadResult } from './from-git.ts';
export { parseManifestFile, MAX_YAML_DEPTH, type ParsedFile } from './parse.ts';
export { ManifestCollector } from './collect.ts';
export * from './types.ts';
export { objectSize, assertObjectWithin, objectTooLarge, type ObjectSize } from './object-size.ts';
