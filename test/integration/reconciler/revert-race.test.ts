// The auto-revert against a user committing at the same time: real `git commit` processes racing
// revertCommit. Every user commit must end up on the branch (the revert is a compare-and-set under
// git's own ref lock, never a forced write of a tip read earlier).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { revertCommit } from '../../../reconciler/git/index.ts';
import { resolveLocalRepo } from '../../../reconciler/source/index.ts';
import { gitEnv } from '../../helpers/git-http.ts';
import { makeRemoteRepo, makeRepo, type TestRepo } from '../../helpers/git-cli-repo.ts';

const GIT = '/usr/bin/git';
const job = (name: string, image: string) => `kind: Job\nmetadata:\n  name: ${name}\nspec:\n  image: ${image}\n`;

function local(repo: TestRepo, commit: string, message = (s: string) => `Revert "${s}"\n\nThis reverts commit ${commit}.\n`) {
  const { gitdir, dir } = resolveLocalRepo(repo.dir);
  return { gitdir, dir, branch: 'main', trackingRef: 'refs/heads/main', commit, message };
}

test('a commit made between the revert reading the tip and writing the branch wins; the revert lands on top of it', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'a.yaml': job('a', 'a:1') });
  const c = repo.commit({ 'b.yaml': job('b', 'b:1') }, 'add b');
  let user: string | undefined;
  // The message is built after the tip was read and before the branch is written: commit right there.
  const r = await revertCommit(local(repo, c, (s) => {
    if (!user) user = repo.commit({ 'u.yaml': job('u', 'u:1') }, 'user commit during the revert');
    return `Revert "${s}"\n`;
  }));
  assert.ok(r.outcome === 'reverted', JSON.stringify(r));
  assert.equal(r.parent, user, 'the second attempt reverted on top of the user commit');
  assert.equal(repo.git('rev-list', '--parents', '-1', 'HEAD'), `${r.sha} ${user}`);
  assert.equal(repo.git('show', 'HEAD:u.yaml') + '\n', job('u', 'u:1'));
  assert.throws(() => repo.git('show', 'HEAD:b.yaml'), 'b.yaml reverted');
});

test("while git holds the branch's ref lock the revert does not write; it retries once the lock is gone", async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'a.yaml': job('a', 'a:1') });
  const c = repo.commit({ 'b.yaml': job('b', 'b:1') }, 'add b');
  const lock = join(repo.dir, '.git', 'refs', 'heads', 'main.lock');
  writeFileSync(lock, `${c}\n`);
  let attempts = 0;
  const r = await revertCommit(local(repo, c, (s) => {
    attempts++;
    assert.equal(repo.head(), c, 'nothing written while the lock is held');
    if (attempts === 3) unlinkSync(lock);
    return `Revert "${s}"\n`;
  }));
  assert.ok(r.outcome === 'reverted' && r.parent === c, JSON.stringify(r));
  assert.equal(attempts, 3);
  assert.equal(repo.head(), r.sha);
});

/** commitLoop runs `n` real `git commit`s in a shell loop (retrying what git refuses, as a user would). */
function commitLoop(dir: string, n: number, prefix: string, push = false): { done: Promise<number> } {
  const script = [
    'i=1',
    `while [ $i -le ${n} ]; do`,
    `  echo "$i" > ${prefix}-$i.txt`,
    `  until "${GIT}" add ${prefix}-$i.txt 2>/dev/null && "${GIT}" commit -q -m "${prefix} $i" 2>/dev/null; do sleep 0.02; done`,
    ...(push ? [`  until "${GIT}" push -q origin main 2>/dev/null; do "${GIT}" pull -q --rebase origin main 2>/dev/null || sleep 0.02; done`] : []),
    '  i=$((i+1))',
    'done',
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', script], { cwd: dir, env: gitEnv(), stdio: 'ignore' });
  const done = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? -1));
  });
  return { done };
}

test('a user committing in a loop while gitcell reverts: every commit is on the branch afterwards', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const bad: string[] = [];
  for (let i = 0; i < 8; i++) bad.push(repo.commit({ [`bad-${i}.yaml`]: job(`bad${i}`, `bad:${i}`) }, `bad ${i}`));
  const loop = commitLoop(repo.dir, 40, 'user');
  const reverts: string[] = [];
  for (const c of bad) {
    const r = await revertCommit(local(repo, c));
    assert.ok(r.outcome === 'reverted', JSON.stringify(r));
    reverts.push(r.sha);
  }
  assert.equal(await loop.done, 0);
  const subjects = repo.git('log', '--format=%s', 'main').split('\n');
  for (let i = 1; i <= 40; i++) assert.equal(subjects.filter((s) => s === `user ${i}`).length, 1, `user ${i} on the branch once`);
  for (const sha of reverts) repo.git('merge-base', '--is-ancestor', sha, 'main');
  const tree = repo.git('ls-tree', '--name-only', 'main').split('\n');
  assert.deepEqual(tree.filter((f) => f.startsWith('bad-')), [], 'every bad commit reverted');
  assert.equal(tree.filter((f) => f.startsWith('user-')).length, 40, "every user file is in the branch's tree");
});

test('a remote: users pushing in a loop while gitcell reverts and pushes (never forced): every pushed commit survives', async (t) => {
  const { url, work } = await makeRemoteRepo(t);
  const bad: string[] = [];
  for (let i = 0; i < 3; i++) bad.push(work.commit({ [`bad-${i}.yaml`]: job(`bad${i}`, `bad:${i}`) }, `bad ${i}`));
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  // gitcell's clone cache: a bare clone whose tracking ref follows the remote.
  const cache = makeRepo({ remote: url, prefix: 'gitcell-cache-' });
  t.after(() => cache.cleanup());
  await cache.gitAsync('fetch', '--quiet', 'origin');
  const gitdir = join(cache.dir, '.git');
  const loop = commitLoop(work.dir, 12, 'user', true);
  for (const c of bad) {
    await cache.gitAsync('fetch', '--quiet', 'origin');
    const r = await revertCommit({ gitdir, branch: 'main', trackingRef: 'refs/remotes/origin/main', commit: c, message: (s) => `Revert "${s}"\n`, remote: { url } });
    assert.ok(r.outcome === 'reverted' && r.pushed, JSON.stringify(r));
  }
  assert.equal(await loop.done, 0);
  await work.gitAsync('fetch', '--quiet', 'origin');
  const subjects = work.git('log', '--format=%s', 'origin/main').split('\n');
  for (let i = 1; i <= 12; i++) assert.equal(subjects.filter((s) => s === `user ${i}`).length, 1, `user ${i} on the remote branch once`);
  for (let i = 0; i < 3; i++) assert.equal(subjects.filter((s) => s === `Revert "bad ${i}"`).length, 1, `revert of bad ${i} pushed once`);
  const tree = work.git('ls-tree', '--name-only', 'origin/main').split('\n');
  assert.deepEqual(tree.filter((f) => f.startsWith('bad-')), []);
});
