import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { GitError } from '../../lib/errors.ts';
import { isSshUrl } from '../git/transport.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** LocalRepoLayout is where a local repository keeps its Git data and, if any, its working tree. */
export interface LocalRepoLayout {
  gitdir: string;
  dir: string | undefined;
  /**
   * head is what HEAD names in a linked worktree (`git worktree add`), whose own HEAD lives apart
   * from the common gitdir that isomorphic-git reads; undefined otherwise (read HEAD from gitdir).
   */
  head?: string;
}

/**
 * resolveLocalRepo finds the Git directory of a local repository path: `PATH/.git` (a directory,
 * or a `gitdir:` file as in linked worktrees and submodules) or PATH itself when it is bare.
 * Throws E_REPO_NOT_FOUND naming the path when it is neither.
 */
export function resolveLocalRepo(path: string): LocalRepoLayout {
  const root = resolve(path);
  if (!existsSync(root)) throw new GitError(ErrorCodes.RepoNotFound, `repository ${root} does not exist`, { path: root });
  const dotgit = join(root, '.git');
  if (existsSync(dotgit)) {
    if (statSync(dotgit).isDirectory()) return { gitdir: dotgit, dir: root };
    const m = /^gitdir:\s*(.+)\s*$/m.exec(readFileSync(dotgit, 'utf8'));
    if (m?.[1]) {
      const target = m[1].trim();
      const own = isAbsolute(target) ? target : resolve(root, target);
      const commondir = join(own, 'commondir');
      if (!existsSync(commondir)) return { gitdir: own, dir: root };
      // A linked worktree: objects and branches are in the common dir, HEAD is the worktree's own.
      // dir stays undefined: gitcell must not check out into a worktree it reads through another gitdir.
      const common = resolve(own, readFileSync(commondir, 'utf8').trim());
      const head = readFileSync(join(own, 'HEAD'), 'utf8').trim();
      const symbolic = /^ref:\s*(\S+)$/.exec(head)?.[1];
      return { gitdir: common, dir: undefined, head: symbolic ?? (/^[0-9a-f]{40}$/.test(head) ? head : undefined) };
    }
    throw new GitError(ErrorCodes.RepoNotFound, `${dotgit} is neither a directory nor a "gitdir:" file`, { path: dotgit });
  }
  if (existsSync(join(root, 'HEAD')) && existsSync(join(root, 'objects')) && existsSync(join(root, 'refs'))) {
    return { gitdir: root, dir: undefined };
  }
  throw new GitError(ErrorCodes.RepoNotFound, `${root} is not a Git repository (no .git, not bare)`, { path: root });
}

/** isRemoteRepo tells a remote (an http(s) URL, ssh://, or scp-like user@host:path) from a local path. */
export function isRemoteRepo(repo: string): boolean {
  return /^https?:\/\//i.test(repo) || isSshUrl(repo);
}

/** normalizeSubPath turns "", ".", "./deploy/", "/deploy" into "" or "deploy"; rejects "..". */
export function normalizeSubPath(subPath: string | undefined): string {
  const parts = (subPath ?? '').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new GitError(ErrorCodes.BadSubpath, `sub-path "${subPath}" must stay inside the repository (no "..")`, { subPath });
  }
  return parts.join('/');
}
