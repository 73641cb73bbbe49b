import * as fs from 'node:fs';
import git from 'isomorphic-git';
import { load } from 'js-yaml';
import { errorMessage, GitError } from '../../lib/errors.ts';
import { MANIFEST_LIMITS, assertObjectWithin } from '../manifests/index.ts';
import { VERIFY_MODES, type VerifyMode } from './verify.ts';
import { isValidName, parseCpu, parseMemory, type ResourceRequirements } from '../../api/index.ts';
import type { ResourceDefaults } from '../template/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** SETTINGS_FILE is the repository settings file, at the repository root or the followed sub-path. */
export const SETTINGS_FILE = '.gitcell.yaml';

/** MAX_SETTINGS_BYTES bounds `.gitcell.yaml` (a few lines in practice). */
export const MAX_SETTINGS_BYTES = 64 * 1024;

/** AUTO_ROLLBACK_ANNOTATION set to "false" on an object turns auto-rollback off for its rollouts. */
export const AUTO_ROLLBACK_ANNOTATION = 'gitcell.io/auto-rollback';

/** AUTO_ROLLBACK_BRANCH: the revert goes to a new branch (gitcell/revert-<sha>), the followed one is left alone. */
export const AUTO_ROLLBACK_BRANCH = 'branch';

/** AutoRollback: revert on the followed branch (true), not at all (false), or onto a new branch ('branch'). */
export type AutoRollback = boolean | typeof AUTO_ROLLBACK_BRANCH;

/** REVERT_BRANCH_PREFIX starts the branches `autoRollback: branch` pushes its reverts to. */
export const REVERT_BRANCH_PREFIX = 'gitcell/revert-';

/** revertBranchOf names the branch holding the proposed revert of `commit` (its first 12 hex digits). */
export function revertBranchOf(commit: string): string {
  return `${REVERT_BRANCH_PREFIX}${commit.slice(0, 12)}`;
}

/** RepoSettings are the repository-wide settings of `.gitcell.yaml`. */
export interface RepoSettings {
  /**
   * autoRollback: revert a commit whose rollout failed (default true); 'branch' for protected
   * branches: the revert is pushed to a branch of its own for the team to merge.
   */
  autoRollback: AutoRollback;
  /**
   * verifyCommits asks for signed commits (tip, or all since the last applied revision). It can
   * only make the reconciler's own --verify-commits stricter, never looser (see verify.ts).
   */
  verifyCommits?: VerifyMode;
  /** defaults: requests/limits for tasks that give none (parseResourceDefaults). */
  defaults?: ResourceDefaults;
}

/** defaultRepoSettings is what applies without a settings file. */
export function defaultRepoSettings(): RepoSettings {
  return { autoRollback: true };
}

/**
 * parseRepoSettings reads a `.gitcell.yaml` document over `base`. Unknown keys are refused, so a
 * typo ("autoRollbak") cannot silently leave rollback on. Throws E_BAD_SETTINGS naming file and field.
 */
export function parseRepoSettings(text: string, file: string, base: RepoSettings = defaultRepoSettings()): RepoSettings {
  // Comments only, or nothing: the defaults (js-yaml refuses an empty document).
  if (text.replace(/#.*$/gm, '').trim() === '') return base;
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    throw new GitError(ErrorCodes.BadSettings, `${file}: not valid YAML: ${errorMessage(err)}`, { file });
  }
  if (doc === null || doc === undefined) return base;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new GitError(ErrorCodes.BadSettings, `${file}: expected a mapping`, { file });
  const out = { ...base };
  for (const [field, value] of Object.entries(doc)) {
    if (field === 'autoRollback') {
      if (typeof value !== 'boolean' && value !== AUTO_ROLLBACK_BRANCH) {
        throw new GitError(ErrorCodes.BadSettings, `${file}: field "autoRollback" must be true, false or "${AUTO_ROLLBACK_BRANCH}"`, { file, field });
      }
      out.autoRollback = value;
    } else if (field === 'verifyCommits') {
      if (typeof value !== 'string' || !(VERIFY_MODES as readonly string[]).includes(value)) {
        throw new GitError(ErrorCodes.BadSettings, `${file}: field "verifyCommits" must be one of ${VERIFY_MODES.join(', ')}`, { file, field });
      }
      out.verifyCommits = value as VerifyMode;
    } else if (field === 'defaults') {
      out.defaults = parseResourceDefaults(value, file);
    } else {
      throw new GitError(ErrorCodes.BadSettings, `${file}: unknown field "${field}" (known: autoRollback, verifyCommits, defaults)`, { file, field });
    }
  }
  return out;
}

/**
 * readRepoSettings reads `.gitcell.yaml` at the repository root and then at `subPath` (the nearer
 * file wins field by field) from the tree of `commit`. Missing files give the defaults.
 */
export async function readRepoSettings(opts: { gitdir: string; commit: string; subPath: string }): Promise<RepoSettings> {
  let settings = defaultRepoSettings();
  const paths = opts.subPath ? [SETTINGS_FILE, `${opts.subPath}/${SETTINGS_FILE}`] : [SETTINGS_FILE];
  for (const filepath of paths) {
    let text: string;
    try {
      // Sized from its header first: a settings file that inflates to gigabytes is refused unread.
      const dir = filepath.includes('/') ? filepath.slice(0, filepath.lastIndexOf('/')) : '';
      // It may be read before the loader ever saw this commit (commit verification): bound the
      // commit and the trees on the way as the loader does.
      const limit = MANIFEST_LIMITS.maxGitObjectBytes;
      assertObjectWithin(opts.gitdir, opts.commit, limit, `commit ${opts.commit.slice(0, 12)}`);
      let treeOid = (await git.readCommit({ fs, gitdir: opts.gitdir, oid: opts.commit })).commit.tree;
      for (const part of ['', ...(dir ? dir.split('/') : [])]) {
        if (part) {
          const next = (await git.readTree({ fs, gitdir: opts.gitdir, oid: treeOid })).tree.find((e) => e.path === part && e.type === 'tree');
          if (!next) throw Object.assign(new Error(`${dir} not found`), { code: 'NotFoundError' });
          treeOid = next.oid;
        }
        assertObjectWithin(opts.gitdir, treeOid, limit, `tree ${part || '/'}`);
      }
      const { tree } = await git.readTree({ fs, gitdir: opts.gitdir, oid: treeOid });
      const entry = tree.find((e) => e.path === SETTINGS_FILE && e.type === 'blob');
      if (!entry) continue;
      assertObjectWithin(opts.gitdir, entry.oid, MAX_SETTINGS_BYTES, filepath);
      const { blob } = await git.readBlob({ fs, gitdir: opts.gitdir, oid: entry.oid });
      text = Buffer.from(blob).toString('utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFoundError') continue;
      throw err;
    }
    settings = parseRepoSettings(text, filepath, settings);
  }
  return settings;
}

/**
 * RollbackDecision says whether to revert and where: on the followed branch, or on a branch of its
 * own (`to: 'branch'`); if not at all, why.
 */
export type RollbackDecision = { revert: true; to: 'followed' | 'branch' } | { revert: false; reason: string };

/**
 * ROLLBACK_FLAG_VALUES are the reconciler's --auto-rollback values: `revert` (the repository
 * decides), `branch` (reverts always go to a branch of their own: the followed branch is
 * protected), `off`.
 */
export const ROLLBACK_FLAG_VALUES = ['revert', 'branch', 'off'] as const;

/** RollbackFlag is one of ROLLBACK_FLAG_VALUES. */
export type RollbackFlag = (typeof ROLLBACK_FLAG_VALUES)[number];

/**
 * decideAutoRollback: off when the reconciler's flag or the repository says so, or when any object
 * of the failed rollouts carries AUTO_ROLLBACK_ANNOTATION "false" (a revert touches the whole
 * commit, so one object opting out holds the whole commit); onto a branch of its own when the flag
 * or the repository asks for it. Pure.
 */
export function decideAutoRollback(settings: RepoSettings, objects: readonly { key: string; annotations?: Record<string, string> }[], flag: RollbackFlag = 'revert'): RollbackDecision {
  if (flag === 'off') return { revert: false, reason: 'auto-rollback is off (reconciler --auto-rollback off)' };
  if (settings.autoRollback === false) return { revert: false, reason: `auto-rollback is off in ${SETTINGS_FILE}` };
  const optedOut = objects.filter((o) => o.annotations?.[AUTO_ROLLBACK_ANNOTATION] === 'false').map((o) => o.key);
  if (optedOut.length) return { revert: false, reason: `auto-rollback is off by annotation ${AUTO_ROLLBACK_ANNOTATION}="false" on ${optedOut.join(', ')}` };
  return { revert: true, to: flag === 'branch' || settings.autoRollback === AUTO_ROLLBACK_BRANCH ? 'branch' : 'followed' };
}

/**
 * parseResourceDefaults reads the `defaults` mapping of `.gitcell.yaml`:
 *
 *     defaults:
 *       resources: { requests: { cpu: 100m, memory: 64Mi }, limits: { cpu: "1", memory: 256Mi } }
 *       namespaces:
 *         batch: { resources: { limits: { memory: 1Gi } } }
 *
 * Every quantity is parsed here, so a typo fails the revision naming file and field (E_BAD_SETTINGS).
 */
export function parseResourceDefaults(value: unknown, file: string): ResourceDefaults {
  const bad = (field: string, reason: string): never => {
    throw new GitError(ErrorCodes.BadSettings, `${file}: field "${field}" ${reason}`, { file, field });
  };
  const mapping = (v: unknown, field: string, keys: readonly string[]): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad(field, 'must be a mapping');
    for (const k of Object.keys(v)) if (!keys.includes(k)) bad(`${field}.${k}`, `is unknown (known: ${keys.join(', ')})`);
    return v as Record<string, unknown>;
  };
  const resources = (v: unknown, field: string): ResourceRequirements => {
    const r = mapping(v, field, ['requests', 'limits']);
    const out: ResourceRequirements = {};
    for (const part of ['requests', 'limits'] as const) {
      if (r[part] === undefined) continue;
      const list = mapping(r[part], `${field}.${part}`, ['cpu', 'memory']);
      out[part] = {};
      for (const kind of ['cpu', 'memory'] as const) {
        const q = list[kind];
        if (q === undefined) continue;
        try {
          (kind === 'cpu' ? parseCpu : parseMemory)(q);
        } catch (err) {
          bad(`${field}.${part}.${kind}`, `is not a quantity: ${errorMessage(err)}`);
        }
        out[part]![kind] = q as string | number;
      }
    }
    return out;
  };
  const d = mapping(value, 'defaults', ['resources', 'namespaces']);
  const out: ResourceDefaults = {};
  if (d.resources !== undefined) out.resources = resources(d.resources, 'defaults.resources');
  if (d.namespaces !== undefined) {
    const nss = mapping(d.namespaces, 'defaults.namespaces', Object.keys(d.namespaces as object));
    out.namespaces = {};
    for (const [ns, v] of Object.entries(nss)) {
      if (!isValidName(ns)) bad(`defaults.namespaces.${ns}`, 'is not a namespace name');
      const m = mapping(v, `defaults.namespaces.${ns}`, ['resources']);
      out.namespaces[ns] = m.resources !== undefined ? { resources: resources(m.resources, `defaults.namespaces.${ns}.resources`) } : {};
    }
  }
  return out;
}
