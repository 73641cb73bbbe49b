// `gitcell rollout status|undo`, `suspend`, `resume`, `reconcile` and `plan --exit-code` driven
// through the binary against one cluster: a real nats-server, the real reconciler process following
// a real git repository (reverts included), simulated nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceStatusKey, type SyncStatus } from '../../../reconciler/index.ts';
import { waitFor } from '../../helpers/wait.ts';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { job, run, startCluster } from './client-helpers.ts';

test('rollout status, undo, suspend, resume, reconcile and plan --exit-code', async (t) => {
  const c = await startCluster(
    t,
    { nodes: ['n1', 'n2'], crash: (image) => image === 'web:bad' },
    { 'web.yaml': job('web', 'web:1', { replicas: 2 }), 'slow.yaml': job('slow', 'slow:1', { type: 'batch' }) },
  );
  const f = c.flags;
  const image = async () => (await run(['get', 'job', 'web', '-o', 'jsonpath={.object.spec.template.image}', ...f])).stdout.trim();
  const applied = async () => ((await c.store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined)?.lastAppliedRevision;

  await waitFor('the first revision applied', applied, 90_000);

  await t.test('rollout status: 0 once complete, 2 on timeout', async () => {
    const ok = await run(['rollout', 'status', 'web', '--timeout', '3m', ...f]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /successfully rolled out: 2\/2 tasks ready/);
    const slow = await run(['rollout', 'status', 'job/slow', '--timeout', '2s', ...f]);
    assert.equal(slow.code, 2, slow.stdout + slow.stderr);
    assert.match(slow.stdout, /timed out after 2 s: waiting for the job: 0\/1 succeeded, \d running/);
    const none = await run(['rollout', 'status', 'nope', '--timeout', '2s', ...f]);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /Job default\/nope not found/);
  });

  await t.test('rollout status --revision: 1 when the commit fails and is reverted', async () => {
    const bad = c.repo.commit({ 'web.yaml': job('web', 'web:bad', { replicas: 2 }) }, 'web: a bad image');
    const r = await run(['rollout', 'status', 'web', '--revision', bad, '--timeout', '3m', ...f]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /rollout (of revision \w+ )?failed/);
    await waitFor('the automatic revert applied', async () => c.repo.head() !== bad && (await applied()) === c.repo.head(), 120_000);
    assert.equal(await image(), 'web:1');
    // `gitcell status` says the bad commit was applied but its rollout failed and was reverted.
    const st = await run(['status', ...f]);
    const row = st.stdout.split('\n').find((l) => l.startsWith(bad.slice(0, 12)));
    assert.match(row ?? '', new RegExp(`Applied\\s+Failed, reverted by ${c.repo.head().slice(0, 12)}`), st.stdout);
  });

  await t.test('rollout undo: a revert commit like the automatic one, signed with the cluster key', async () => {
    const c2 = c.repo.commit({ 'web.yaml': job('web', 'web:2', { replicas: 2 }) }, 'web: image 2');
    const st = await run(['rollout', 'status', 'web', '--revision', c2, '--timeout', '3m', ...f]);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    // The operator's state dir holds the cluster's signing key (the reconciler made it at start).
    const undo = await run(['rollout', 'undo', 'web', '--repo', c.repo.dir, '--cluster-dir', c.stateDir, ...f]);
    assert.equal(undo.code, 0, undo.stdout + undo.stderr);
    assert.match(undo.stdout, new RegExp(`reverted ${c2.slice(0, 12)}: commit [0-9a-f]{12}`));
    const head = c.repo.head();
    assert.equal(c.repo.git('log', '-1', '--format=%an <%ae>'), 'gitcell <gitcell@localhost>');
    const msg = c.repo.git('log', '-1', '--format=%B');
    assert.match(msg, /^Revert "web: image 2"/);
    assert.match(msg, new RegExp(`Gitcell-Reverts: ${c2}`));
    assert.equal(c.repo.git('status', '--porcelain'), '', 'the work tree follows the revert');
    // Signed as the automatic revert is: the real git verify-commit (ssh-keygen -Y verify) accepts it
    // against an allowed_signers holding only the cluster's public key, and refuses the user's commit.
    const allowed = join(c.stateDir, 'allowed_signers');
    writeFileSync(allowed, `gitcell-cluster ${readFileSync(join(c.stateDir, 'git-signing', 'id_ed25519.pub'), 'utf8')}`);
    const verify = (commit: string) => spawnSync('/usr/bin/git', ['-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'verify-commit', commit], { cwd: c.repo.dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
    const good = verify(head);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stderr, /Good "git" signature for gitcell-cluster with ED25519 key/);
    assert.notEqual(verify(c2).status, 0, 'the user\'s unsigned commit does not verify');
    const automatic = c.repo.git('log', '--format=%H', '--grep=^Revert "web: a bad image"', 'HEAD');
    assert.equal(verify(automatic.split('\n')[0]!).status, 0, 'the automatic revert is signed with the same key');
    const back = await run(['rollout', 'status', 'web', '--revision', head, '--timeout', '3m', ...f]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.equal(await image(), 'web:1');
    const bad = await run(['rollout', 'undo', 'web', '--to-revision', '99', '--repo', c.repo.dir, ...f]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--to-revision 99: expected a revision from 1 to \d+/);
  });

  await t.test('suspend holds revisions back, resume applies the tip, reconcile runs now', async () => {
    const s = await run(['suspend', '--reason', 'maintenance', ...f]);
    assert.equal(s.code, 0, s.stderr);
    const c3 = c.repo.commit({ 'web.yaml': job('web', 'web:3', { replicas: 2 }) }, 'web: image 3');
    const held = await run(['rollout', 'status', 'web', '--revision', c3, '--timeout', '5s', ...f]);
    assert.equal(held.code, 2, held.stdout);
    assert.match(held.stdout, /waiting for the reconciler to apply revision/);
    assert.equal(await image(), 'web:1');
    const refused = await run(['reconcile', ...f]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /source main is suspended/);
    const r = await run(['resume', ...f]);
    assert.equal(r.code, 0, r.stderr);
    const st = await run(['rollout', 'status', 'web', '--revision', c3, '--timeout', '3m', ...f]);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.equal(await image(), 'web:3');
    const now = await run(['reconcile', '--with-source', '--timeout', '2m', ...f]);
    assert.equal(now.code, 0, now.stdout + now.stderr);
    assert.match(now.stdout, new RegExp(`source main: Unchanged ${c3.slice(0, 12)}`));
  });

  await t.test('plan --exit-code: 0 no changes, 2 changes, 1 error', async () => {
    const same = await run(['plan', '--repo', c.repo.dir, '--exit-code', ...f]);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    c.repo.git('checkout', '-q', '-b', 'feature');
    c.repo.commit({ 'web.yaml': job('web', 'web:4', { replicas: 2 }) }, 'web: image 4');
    c.repo.git('checkout', '-q', 'main');
    const changes = await run(['plan', '--repo', c.repo.dir, '--ref', 'feature', '--exit-code', '-o', 'json', ...f]);
    assert.equal(changes.code, 2, changes.stderr);
    assert.equal((JSON.parse(changes.stdout) as { update: unknown[] }).update.length, 1);
    const bad = await run(['plan', '--repo', c.repo.dir, '--ref', 'nope', '--exit-code', ...f]);
    assert.equal(bad.code, 1);
  });
  assert.equal(c.stderr().includes('    at '), false, c.stderr());
});
