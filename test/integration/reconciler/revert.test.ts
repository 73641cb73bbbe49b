import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/log.ts';
import { revertCommit, revertMessage, readRepoSettings } from '../../../reconciler/git/index.ts';
import { createSource, resolveLocalRepo } from '../../../reconciler/source/index.ts';
import { makeRemoteRepo, makeRepo, type TestRepo } from '../../helpers/git-cli-repo.ts';

const web = (image: string) => `kind: Job\nmetadata:\n  name: web\nspec:\n  image: ${image}\n  replicas: 3\n`;
const api = (image: string) => `kind: Job\nmetadata:\n  name: api\nspec:\n  image: ${image}\n`;
const message = (s: string) => revertMessage('0'.repeat(40), s, []);

function local(repo: TestRepo, commit: string) {
  const { gitdir, dir } = resolveLocalRepo(repo.dir);
  return { gitdir, dir, branch: 'main', trackingRef: 'refs/heads/main', commit, message: (s: string) => `Revert "${s}"\n\nThis reverts commit ${commit}.\n` };
}

test('revert at the tip restores the parent tree, authored by gitcell, and updates a clean checkout', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const a = repo.commit({ 'web.yaml': web('web:1'), 'api.yaml': api('api:1') }, 'first');
  const c = repo.commit({ 'web.yaml': web('web:2'), 'new.yaml': api('x:1') }, 'web: image 2');
  const r = await revertCommit(local(repo, c));
  assert.equal(r.outcome, 'reverted');
  assert.ok(r.outcome === 'reverted' && r.mode === 'tip' && r.parent === c);
  assert.equal(repo.head(), (r as { sha: string }).sha);
  assert.equal(repo.git('rev-parse', 'HEAD^{tree}'), repo.git('rev-parse', `${a}^{tree}`));
  assert.equal(repo.git('log', '-1', '--format=%an <%ae>|%s'), 'gitcell <gitcell@localhost>|Revert "web: image 2"');
  assert.equal(repo.git('status', '--porcelain'), '', 'working tree follows the revert');
  assert.equal(readFileSync(join(repo.dir, 'web.yaml'), 'utf8'), web('web:1'));
});

test('three-way revert keeps unrelated later commits', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'web.yaml': web('web:1'), 'api.yaml': api('api:1') });
  const c = repo.commit({ 'web.yaml': web('web:2') }, 'web: image 2');
  const d = repo.commit({ 'api.yaml': api('api:2'), 'db.yaml': api('db:1') }, 'api: image 2, add db');
  const r = await revertCommit(local(repo, c));
  assert.ok(r.outcome === 'reverted' && r.mode === 'three-way' && r.parent === d, JSON.stringify(r));
  assert.equal(repo.git('show', 'HEAD:web.yaml') + '\n', web('web:1'));
  assert.equal(repo.git('show', 'HEAD:api.yaml') + '\n', api('api:2'));
  assert.equal(repo.git('show', 'HEAD:db.yaml') + '\n', api('db:1'));
  assert.equal(repo.git('rev-list', '--parents', '-1', 'HEAD'), `${r.sha} ${d}`, 'one parent: a revert, not a merge');
  // Git agrees: reverting our revert would re-apply exactly C's change.
  assert.equal(repo.git('diff', `${c}^`, c), repo.git('diff', 'HEAD', 'HEAD^'));
});

test('a conflicting revert changes nothing and names the file', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'web.yaml': web('web:1') });
  const c = repo.commit({ 'web.yaml': web('web:2') }, 'web: image 2');
  const d = repo.commit({ 'web.yaml': web('web:3') }, 'web: image 3');
  const r = await revertCommit(local(repo, c));
  assert.equal(r.outcome, 'conflict');
  assert.ok(r.outcome === 'conflict');
  assert.deepEqual(r.files, ['web.yaml']);
  assert.match(r.message, /conflicts with later commits on main in web\.yaml/);
  assert.equal(repo.head(), d);
  assert.equal(repo.git('status', '--porcelain'), '');
});

test("nothing to revert after a user's own revert; a commit off the branch is not reverted", async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'web.yaml': web('web:1') });
  const c = repo.commit({ 'web.yaml': web('web:2') }, 'web: image 2');
  repo.git('revert', '--no-edit', c);
  const tip = repo.head();
  assert.deepEqual(await revertCommit(local(repo, c)), { outcome: 'nothing-to-revert', tip });
  repo.git('checkout', '--quiet', '-b', 'side');
  const side = repo.commit({ 'x.yaml': api('x:1') });
  repo.git('checkout', '--quiet', 'main');
  assert.deepEqual(await revertCommit(local(repo, side)), { outcome: 'not-on-branch', tip });
});

test('.gitcell.yaml at the root and the sub-path, read at a commit', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const c1 = repo.commit({ '.gitcell.yaml': 'autoRollback: false\n', 'deploy/web.yaml': web('w:1') });
  const c2 = repo.commit({ 'deploy/.gitcell.yaml': '# prod wants rollback\nautoRollback: true\n' });
  const { gitdir } = resolveLocalRepo(repo.dir);
  assert.deepEqual(await readRepoSettings({ gitdir, commit: c1, subPath: 'deploy' }), { autoRollback: false });
  assert.deepEqual(await readRepoSettings({ gitdir, commit: c2, subPath: 'deploy' }), { autoRollback: true });
  assert.deepEqual(await readRepoSettings({ gitdir, commit: c2, subPath: '' }), { autoRollback: false });
});

test('a remote revert is pushed to the git http-backend, on top of a commit pushed meanwhile', async (t) => {
  const { url, work } = await makeRemoteRepo(t, { username: 'bot', password: 'pw' });
  work.commit({ 'web.yaml': web('web:1'), 'api.yaml': api('api:1') });
  const c = work.commit({ 'web.yaml': web('web:2') }, 'web: image 2');
  await work.gitAsync('push', '--quiet', 'origin', 'main');

  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  writeFileSync(join(stateDir, 'creds.yaml'), 'username: bot\npassword: pw\n');
  // Fetch through a source so the cache is exactly what the reconciler has.
  const source = createSource({ repo: url, stateDir, credentialsFile: join(stateDir, 'creds.yaml'), pollIntervalMs: 3_600_000 }, silentLogger());
  const seen: string[] = [];
  await source.start((r) => seen.push(r.sha));
  t.after(() => source.stop());
  assert.deepEqual(seen, [c]);

  // Someone pushes an unrelated commit after our fetch: the first push is refused, gitcell fetches and reverts again.
  const d = work.commit({ 'api.yaml': api('api:2') }, 'api: image 2');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const r = await revertCommit({
    gitdir: source.gitdir,
    branch: source.branch,
    trackingRef: source.trackingRef,
    commit: c,
    message,
    remote: { url, auth: source.auth! },
  });
  assert.ok(r.outcome === 'reverted' && r.pushed && r.parent === d && r.mode === 'three-way', JSON.stringify(r));
  await work.gitAsync('fetch', '--quiet', 'origin');
  assert.equal(work.git('rev-parse', 'origin/main'), r.sha);
  assert.equal(work.git('log', '-1', '--format=%an', 'origin/main'), 'gitcell');
  assert.equal(work.git('show', 'origin/main:web.yaml') + '\n', web('web:1'));
  assert.equal(work.git('show', 'origin/main:api.yaml') + '\n', api('api:2'));
  // The source sees its own revert as the new tip on its next fetch, once.
  assert.equal(await source.refresh(), r.sha);
  assert.deepEqual(seen, [c, r.sha]);
});
