import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import git from 'isomorphic-git';
import { readBlobFast } from '../../../reconciler/manifests/read-blob.ts';
import { isGitcellError } from '../../../lib/index.ts';
import { makeTestRepo, type TestRepo } from '../../helpers/git-repo.ts';

const repos: TestRepo[] = [];
after(async () => {
  for (const r of repos) await r.remove();
});

const files = { 'a.yaml': 'kind: Job\n', 'big/b.yaml': `# ${'x'.repeat(100_000)}\n`, 'empty.yaml': '' };

async function blobsOf(dir: string, commit: string): Promise<Array<{ path: string; oid: string }>> {
  const out: Array<{ path: string; oid: string }> = [];
  await git.walk({ fs, dir, trees: [git.TREE({ ref: commit })], map: async (path, [e]) => {
    if ((await e!.type()) === 'blob') out.push({ path, oid: await e!.oid() });
    return true;
  } });
  return out;
}

test('readBlobFast returns the same bytes as git.readBlob, for loose and for packed objects', async () => {
  const r = await makeTestRepo();
  repos.push(r);
  const commit = await r.commit(files);
  const blobs = await blobsOf(r.dir, commit);
  assert.equal(blobs.length, 3);
  for (const packed of [false, true]) {
    // `git gc` moves every object into a pack (isomorphic-git then decodes it itself).
    if (packed) execFileSync('git', ['-C', r.dir, 'gc', '-q']);
    for (const b of blobs) {
      const repo = { fs, dir: r.dir, cache: {} };
      const got = await readBlobFast(repo, b.oid);
      assert.deepEqual(Buffer.from(got), Buffer.from((await git.readBlob({ ...repo, oid: b.oid })).blob), `${b.path} packed=${packed}`);
      assert.equal(Buffer.from(got).toString(), files[b.path as keyof typeof files]);
    }
  }
});

test('readBlobFast refuses a corrupt loose object, a non-blob and a missing object with clear errors', async () => {
  const r = await makeTestRepo();
  repos.push(r);
  const commit = await r.commit({ 'a.yaml': 'kind: Job\n' });
  const [blob] = await blobsOf(r.dir, commit);
  const repo = { fs, dir: r.dir, cache: {} };
  const loose = join(r.dir, '.git', 'objects', blob!.oid.slice(0, 2), blob!.oid.slice(2));
  const expectCode = async (oid: string, code: string, re: RegExp) => {
    await assert.rejects(readBlobFast(repo, oid), (err: unknown) => isGitcellError(err) && err.code === code && re.test(err.message));
  };
  // A commit is not a blob.
  await expectCode(commit, 'E_GIT_OBJECT_CORRUPT', /is a commit, not a blob/);
  // Same name, other content: the SHA-1 check catches it.
  fs.chmodSync(loose, 0o644);
  await writeFile(loose, deflateSync(Buffer.from('blob 4\0evil')));
  await expectCode(blob!.oid, 'E_GIT_OBJECT_CORRUPT', /does not match its SHA-1/);
  await writeFile(loose, Buffer.from('not zlib at all'));
  await expectCode(blob!.oid, 'E_GIT_OBJECT_CORRUPT', /does not inflate/);
  await assert.rejects(readBlobFast(repo, '0'.repeat(40)), /0000000000/);
});
