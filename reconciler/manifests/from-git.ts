// Loads manifests from a Git commit through isomorphic-git's object store: the working tree, the
// index and uncommitted changes play no part, so what is validated is exactly what was committed.
import * as fs from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import git from 'isomorphic-git';
import { GitcellError, isGitcellError, ErrorCodes, GitError } from '../../lib/index.ts';
import { assertObjectWithin, objectSize, objectTooLarge } from './object-size.ts';
import { ManifestCollector } from './collect.ts';
import { LoadErrorCode, MANIFEST_LIMITS, isManifestFile, type LoadOptions, type LoadResult } from './types.ts';
import type { ParsedFile } from './parse.ts';
import { parallelParser } from './parse-pool.ts';
import { readBlobFast, readLooseBlob } from './read-blob.ts';

/** READ_AHEAD is how many blobs are read concurrently. */
const READ_AHEAD = 16;

/** GitSource names what to load: a repository, a commit-ish and a folder inside it. */
export interface GitSource {
  /** dir is the repository's working directory (the folder holding .git), or set `gitdir` for a bare one. */
  dir: string;
  gitdir?: string;
  /** ref is a branch, tag, full or abbreviated commit id, or HEAD. */
  ref: string;
  /** path is the folder inside the repository to load, '' or '.' for the root; '/' separators. */
  path?: string;
  /**
   * parseCache keeps parsed files between loads of successive commits, keyed by path and blob id:
   * a commit that changes one file of a hundred re-parses one. The loader keeps only the entries
   * of the latest load, so its size stays that of one revision. Treat cached objects as read-only.
   */
  parseCache?: Map<string, ParsedFile>;
}

/** GitLoadResult is a LoadResult plus the commit id that `ref` resolved to. */
export interface GitLoadResult extends LoadResult {
  commit: string;
}

/**
 * loadManifestsFromGit reads every *.yaml, *.yml and *.json blob under `path` in the tree of the
 * commit `ref` resolves to (annotated tags are peeled). File names are relative to `path`.
 * Submodules and symbolic links are skipped. Throws GitcellError E_GIT_REF_NOT_FOUND or
 * E_GIT_PATH_NOT_FOUND; everything wrong inside a file is a Problem.
 *
 * @example
 *   const { commit, objects } = await loadManifestsFromGit({ dir: '.', ref: 'main', path: 'sample-repo' });
 */
export async function loadManifestsFromGit(source: GitSource, options: LoadOptions = {}): Promise<GitLoadResult> {
  const limits = { ...MANIFEST_LIMITS, ...options };
  const layout = source.gitdir ? { gitdir: source.gitdir, head: undefined } : await worktreeLayout(source.dir);
  const repo = { fs, dir: source.dir, ...(layout.gitdir ? { gitdir: layout.gitdir } : {}), cache: {} };
  // In a linked worktree HEAD is the worktree's own; every other ref lives in the common dir.
  const ref = source.ref === 'HEAD' && layout.head !== undefined ? layout.head : source.ref;
  const commit = await resolveCommit(repo, ref);
  const path = normalizePath(source.path ?? '');
  // Every tree and commit is sized from its header before isomorphic-git inflates it whole.
  const gitdir = layout.gitdir ?? join(source.dir, '.git');
  const bounded = (oid: string, what: string) => assertObjectWithin(gitdir, oid, limits.maxGitObjectBytes, what);
  let treeOid: string;
  try {
    bounded(commit, `commit ${commit.slice(0, 12)}`);
    const { tree } = (await git.readCommit({ ...repo, oid: commit })).commit;
    bounded(tree, 'root tree');
    treeOid = path === '' ? tree : (await git.readTree({ ...repo, oid: tree, filepath: path })).oid;
  } catch (err) {
    if (isGitcellError(err, ErrorCodes.GitObjectTooLarge)) throw err;
    throw new GitError(ErrorCodes.GitPathNotFound, `${path} is not a folder in commit ${commit.slice(0, 12)} (${source.ref})`, { ref: source.ref, commit, path }, { cause: err });
  }
  // First list the manifest blobs (trees are small), then read blobs a few at a time (reads overlap
  // their I/O), then parse them all at once (on worker threads too when there are many:
  // parse-pool.ts); files reach the collector in path order.
  const blobs: Array<{ file: string; oid: string }> = [];
  const walk = async (oid: string, rel: string): Promise<void> => {
    bounded(oid, `tree ${rel || path || '/'}`);
    const { tree } = await git.readTree({ ...repo, oid });
    const entries = [...tree].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const e of entries) {
      const file = rel ? `${rel}/${e.path}` : e.path;
      // Hidden entries are skipped, as loadManifestsFromDir does: .gitcell.yaml holds settings and
      // .github/ workflows are YAML too, neither is a manifest.
      if (e.path.startsWith('.')) continue;
      if (e.type === 'tree') await walk(e.oid, file);
      // Mode 120000 is a symbolic link and 160000 a submodule: neither is a manifest.
      else if (e.type === 'blob' && e.mode !== '120000' && isManifestFile(e.path)) blobs.push({ file, oid: e.oid });
    }
  };
  await walk(treeOid, '');
  const collector = new ManifestCollector(limits);
  // With a parse cache, a (path, blob) parsed for an earlier commit is reused, not read again.
  const cache = source.parseCache;
  const used = new Map<string, ParsedFile>();
  const keyOf = (b: { file: string; oid: string }) => `${b.file}\0${b.oid}`;
  const files: Array<Uint8Array | ParsedFile> = [];
  // Workers (for many files) start before the reading, which their start-up then overlaps.
  const parser = parallelParser(blobs.filter((b) => !cache?.has(keyOf(b))).length);
  try {
    for (let i = 0; i < blobs.length; i += READ_AHEAD) {
      const batch = blobs.slice(i, i + READ_AHEAD);
      files.push(...(await Promise.all(batch.map((b) => cache?.get(keyOf(b)) ?? readBounded(repo, gitdir, b, limits.maxFileBytes)))));
    }
    const toParse = blobs.flatMap((b, i) => { const f = files[i]; return f instanceof Uint8Array ? [{ file: b.file, bytes: f, index: i }] : []; });
    (await parser.parse(toParse, limits)).forEach((parsed, j) => (files[toParse[j]!.index] = parsed));
  } finally {
    parser.close();
  }
  blobs.forEach((b, i) => {
    const parsed = files[i] as ParsedFile;
    if (cache) used.set(keyOf(b), parsed);
    collector.addParsed(b.file, parsed);
  });
  if (cache) {
    cache.clear();
    for (const [k, v] of used) cache.set(k, v);
  }
  return { ...collector.result(), commit };
}

/**
 * readBounded reads a manifest blob of at most `max` bytes. A larger one (declared in its header, or
 * found while inflating, which stops at the limit) is not kept: it becomes the file's only problem.
 */
async function readBounded(repo: Repo, gitdir: string, b: { file: string; oid: string }, max: number): Promise<Uint8Array | ParsedFile> {
  const tooLarge = (message: string): ParsedFile => ({ objects: [], problems: [{ code: LoadErrorCode.fileTooLarge, file: b.file, line: 1, column: 1, message }] });
  try {
    // Loose objects (a working clone's) are read and inflated here, bounded while inflating.
    const loose = readLooseBlob(gitdir, b.oid, max, b.file);
    if (loose) return loose;
    const size = objectSize(gitdir, b.oid);
    if (size && size.size > max) return tooLarge(objectTooLarge(b.oid, b.file, size.size, max).message);
    return await readBlobFast(repo, b.oid, max, b.file);
  } catch (err) {
    if (!isGitcellError(err, ErrorCodes.GitObjectTooLarge)) throw err;
    // Inflation stopped at the limit: name the size the object's header declares, unless it lies.
    const size = objectSize(gitdir, b.oid);
    return tooLarge(size && size.size > max ? objectTooLarge(b.oid, b.file, size.size, max).message : err.message);
  }
}

/**
 * worktreeLayout handles linked worktrees (`git worktree add`), which isomorphic-git does not: their
 * `.git` is a file naming a private gitdir whose `commondir` holds the objects and refs, and whose
 * HEAD is the worktree's own. Returns the common gitdir and that HEAD, or nothing for a plain repo.
 */
async function worktreeLayout(dir: string): Promise<{ gitdir?: string; head?: string }> {
  const dotGit = join(dir, '.git');
  const st = await stat(dotGit).catch(() => undefined);
  if (!st?.isFile()) return {};
  const m = /^gitdir:\s*(.+?)\s*$/m.exec(await readFile(dotGit, 'utf8'));
  if (!m) return {};
  const private_ = resolve(dir, m[1]!);
  const common = await readFile(join(private_, 'commondir'), 'utf8').then((c) => resolve(private_, c.trim()), () => private_);
  const head = (await readFile(join(private_, 'HEAD'), 'utf8').catch(() => '')).trim();
  const symbolic = /^ref:\s*(\S+)$/.exec(head);
  return { gitdir: common, head: symbolic ? symbolic[1] : /^[0-9a-f]{40}$/.test(head) ? head : undefined };
}

type Repo = { fs: typeof fs; dir: string; gitdir?: string; cache: object };

async function resolveCommit(repo: Repo, ref: string): Promise<string> {
  let oid: string | undefined;
  try {
    oid = await git.resolveRef({ ...repo, ref });
  } catch {
    if (/^[0-9a-f]{4,40}$/i.test(ref)) oid = await git.expandOid({ ...repo, oid: ref.toLowerCase() }).catch(() => undefined);
  }
  if (oid === undefined) throw new GitError(ErrorCodes.GitRefNotFound, `${ref} is not a branch, tag or commit of the repository at ${repo.dir}`, { ref, dir: repo.dir });
  // Peel annotated tags (possibly tags of tags) down to the commit.
  for (let i = 0; i < 10; i++) {
    const obj: git.ReadObjectResult | undefined = await git.readObject({ ...repo, oid, format: 'parsed' }).catch(() => undefined);
    if (obj === undefined) break;
    if (obj.type === 'commit') return oid;
    if (obj.type !== 'tag') break;
    oid = (obj.object as { object: string }).object;
  }
  throw new GitError(ErrorCodes.GitRefNotFound, `${ref} does not name a commit`, { ref, dir: repo.dir });
}

function normalizePath(p: string): string {
  return p.split('/').filter((s) => s !== '' && s !== '.').join('/');
}
