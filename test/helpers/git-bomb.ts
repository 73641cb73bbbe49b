/**
 * Test helper: Git zip bombs, objects written as git writes them (zlib-deflated loose objects) that
 * are small on disk and inflate to gigabytes, for the loader and transport bound tests.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createDeflate } from 'node:zlib';

const MiB = 1024 * 1024;

/**
 * writeLooseZeros writes a loose object into `gitdir` whose content is `head` followed by zero bytes
 * up to `size` bytes in all, and returns its id; `declared` puts another size in its header (an
 * attacker's lie).
 */
export async function writeLooseZeros(gitdir: string, type: string, size: number, declared = size, head: Buffer = Buffer.alloc(0)): Promise<string> {
  const header = Buffer.from(`${type} ${declared}\0`);
  const sha = createHash('sha1').update(header);
  const tmp = join(gitdir, 'objects', `tmp-bomb-${process.pid}`);
  const out = createWriteStream(tmp);
  const deflate = createDeflate({ level: 9 });
  deflate.pipe(out);
  deflate.write(header);
  deflate.write(head);
  sha.update(head);
  const chunk = Buffer.alloc(4 * MiB);
  for (let left = size - head.length; left > 0; left -= chunk.length) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    sha.update(part);
    if (!deflate.write(part)) await once(deflate, 'drain');
  }
  deflate.end();
  await once(out, 'close');
  const oid = sha.digest('hex');
  mkdirSync(join(gitdir, 'objects', oid.slice(0, 2)), { recursive: true });
  renameSync(tmp, join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2)));
  return oid;
}

/** TreeEntries: name -> blob or tree id, for commitEntries. */
export type TreeEntries = Record<string, { oid: string; type: 'blob' | 'tree' }>;

/**
 * commitEntries commits a tree of `entries` on `ref` of the repository at `gitdir` (bare or not)
 * with git's own plumbing (mktree checks only that the objects exist) and returns the commit id.
 */
export function commitEntries(gitdir: string, entries: TreeEntries, message: string, ref = 'refs/heads/main'): string {
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Test User', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'Test User', GIT_COMMITTER_EMAIL: 'test@example.com' };
  const run = (args: string[], input?: string) => {
    const r = spawnSync('/usr/bin/git', [`--git-dir=${gitdir}`, ...args], { input, encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`git ${args[0]}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const listing = Object.entries(entries).map(([name, e]) => `${e.type === 'tree' ? '040000' : '100644'} ${e.type} ${e.oid}\t${name}`).join('\n');
  const tree = run(['mktree'], `${listing}\n`);
  const parent = spawnSync('/usr/bin/git', [`--git-dir=${gitdir}`, 'rev-parse', '--verify', '--quiet', ref], { encoding: 'utf8', env }).stdout.trim();
  const commit = run(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message]);
  run(['update-ref', ref, commit]);
  return commit;
}
