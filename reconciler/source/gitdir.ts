import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { GitcellError } from '../../lib/errors.ts';

/** LocalRepoLayout is where a local repository keeps its Git data and, if any, its working tree. */
export interface LocalRepoLayout {
  gitdir: string;
  dir: string | undefined;
}

/**
 * resolveLocalRepo finds the Git directory of a local repository path: `PATH/.git` (a directory,
 * or a `gitdir:` file as in linked worktrees and submodules) or PATH itself when it is bare.
 * Throws E_REPO_NOT_FOUND naming the path when it is neither.
 */
export function resolveLocalRepo(path: string): LocalRepoLayout {
  const root = resolve(path);
  if (!existsSync(root)) throw new GitcellError('E_REPO_NOT_FOUND', `repository ${root} does not exist`, { path: root });
  const dotgit = join(root, '.git');
  if (existsSync(dotgit)) {
    if (statSync(dotgit).isDirectory()) return { gitdir: dotgit, dir: root };
    const m = /^gitdir:\s*(.+)\s*$/m.exec(readFileSync(dotgit, 'utf8'));
    if (m?.[1]) {
      const target = m[1].trim();
      return { gitdir: isAbsolute(target) ? target : resolve(root, target), dir: root };
    }
    throw new GitcellError('E_REPO_NOT_FOUND', `${dotgit} is neither a directory nor a "gitdir:" file`, { path: dotgit });
  }
  if (existsSync(join(root, 'HEAD')) && existsSync(join(root, 'objects')) && existsSync(join(root, 'refs'))) {
    return { gitdir: root, dir: undefined };
  }
  throw new GitcellError('E_REPO_NOT_FOUND', `${root} is not a Git repository (no .git, not bare)`, { path: root });
}

/** isRemoteRepo tells an http(s) URL from a local path. */
export function isRemoteRepo(repo: string): boolean {
  return /^https?:\/\//i.test(repo);
}

/** normalizeSubPath turns "", ".", "./deploy/", "/deploy" into "" or "deploy"; rejects "..". */
export function normalizeSubPath(subPath: string | undefined): string {
  const parts = (subPath ?? '').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new GitcellError('E_BAD_SUBPATH', `sub-path "${subPath}" must stay inside the repository (no "..")`, { subPath });
  }
  return parts.join('/');
}
