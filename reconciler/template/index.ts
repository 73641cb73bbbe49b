// reconciler/template: manifest container templates -> resolved TaskTemplates and their hashes.
export { canonicalJson, hashOf, sha256Hex } from './canonical.ts';
export {
  resolveTemplate,
  resolveTaskTemplate,
  templateHash,
  secretsUsedBy,
  PROBE_DEFAULTS,
  DEFAULT_TERMINATION_GRACE_SECONDS,
  type ResolveContext,
  type ResolvedTemplate,
} from './resolve.ts';
export { applyResourceDefaults, withDefaultResources, defaultsFor, type ResourceDefaults } from './defaults.ts';
