// `autoRollback: branch`: for a protected followed branch, the revert of a failed rollout goes to a
// branch of its own (gitcell/revert-<commit>) and the followed branch is left alone; the source's
// status and a RevertProposed event say where it is. Against a real git repository and a real git
// http-backend whose pre-receive hook protects main, as a Git host's branch protection does.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterEvent } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { sourceStatusKey, type SyncStatus } from '../../../reconciler/index.ts';
import { createLocalSource, createRemoteSource, type Source } from '../../../reconciler/source/index.ts';
import { rollBack } from '../../../reconciler/service/index.ts';
import { makeRemoteRepo, makeRepo } from '../../helpers/git-cli-repo.ts';
import { openTestStore } from '../../helpers/store.ts';
import { failed, web } from './rollback-fixtures.ts';


async function context(t: TestContext, source: Source, autoRollback?: 'branch') {
  const { store } = await openTestStore(t, { tag: 'rbb' });
  t.after(() => source.stop());
  await source.start(() => undefined);
  const ctx = { store, source, sourceName: 'main', valid: () => true, log: silentLogger(), ...(autoRollback ? { autoRollback } : {}) };
  const stalled = async () => ((await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined)?.conditions.find((x) => x.type === 'Stalled');
  const events = async (): Promise<ClusterEvent[]> => (await store.events.recent({ limit: 50 })).map((e) => e.value);
  return { ctx, stalled, events };
}

test('autoRollback: branch in .gitcell.yaml: the revert is committed on gitcell/revert-<commit>, main is left alone, status and event name it', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ '.gitcell.yaml': 'autoRollback: branch\n', 'web.yaml': web('web:1') });
  const bad = repo.commit({ 'web.yaml': web('web:bad') }, 'web: bad');
  const { ctx, stalled, events } = await context(t, createLocalSource({ repo: repo.dir, safetyPollMs: 3_600_000 }, silentLogger()));

  const out = await rollBack(ctx, bad, [failed(bad)]);
  const branch = `gitcell/revert-${bad.slice(0, 12)}`;
  assert.ok(out.outcome === 'reverted' && out.branch === branch && !out.pushed, JSON.stringify(out));
  assert.equal(repo.head(), bad, 'main is left alone');
  assert.equal(repo.git('rev-parse', branch), out.sha);
  assert.equal(repo.git('rev-parse', `${branch}^`), bad, 'the revert sits on the failed commit');
  assert.equal(repo.git('show', `${branch}:web.yaml`) + '\n', web('web:1'));
  const s = await stalled();
  assert.equal(s?.reason, 'RevertProposed');
  assert.match(s!.message, new RegExp(`revert ${out.sha.slice(0, 12)} committed on branch ${branch}, merge it into main to roll back`));
  const ev = (await events()).find((e) => e.reason === 'RevertProposed');
  assert.ok(ev && ev.type === 'Warning' && ev.message.includes(branch), JSON.stringify(ev));

  // Handled again (another replica, a restart): the branch exists, nothing is rewritten.
  const again = await rollBack(ctx, bad, [failed(bad)]);
  assert.deepEqual(again, { outcome: 'already-proposed', branch, tip: out.sha });
  assert.equal(repo.git('rev-parse', branch), out.sha);
});

test('--auto-rollback branch against a remote whose main is protected: the revert is pushed to its own branch', async (t) => {
  const { server, url, work } = await makeRemoteRepo(t);
  work.commit({ 'web.yaml': web('web:1') });
  const bad = work.commit({ 'web.yaml': web('web:bad') }, 'web: bad');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  // Branch protection, as a Git host enforces it: receive-pack's pre-receive hook refuses main.
  const hook = join(server.root, 'cluster.git', 'hooks', 'pre-receive');
  writeFileSync(hook, '#!/bin/sh\nwhile read old new ref; do if [ "$ref" = refs/heads/main ]; then echo "main is protected" >&2; exit 1; fi; done\n');
  chmodSync(hook, 0o755);
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-rbb-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));

  // Without branch mode the push to main is refused by the host: the error says so.
  const plain = await context(t, createRemoteSource({ repo: url, stateDir, pollIntervalMs: 3_600_000 }, silentLogger()));
  await assert.rejects(rollBack(plain.ctx, bad, [failed(bad)]), /main is protected/);

  const { ctx, stalled } = await context(t, createRemoteSource({ repo: url, stateDir, pollIntervalMs: 3_600_000 }, silentLogger()), 'branch');
  const out = await rollBack(ctx, bad, [failed(bad)]);
  const branch = `gitcell/revert-${bad.slice(0, 12)}`;
  assert.ok(out.outcome === 'reverted' && out.branch === branch && out.pushed, JSON.stringify(out));
  await work.gitAsync('fetch', '--quiet', 'origin');
  assert.equal(work.git('rev-parse', 'origin/main'), bad, "the remote's main is left alone");
  assert.equal(work.git('rev-parse', `origin/${branch}`), out.sha);
  assert.equal(work.git('show', `origin/${branch}:web.yaml`) + '\n', web('web:1'));
  assert.match((await stalled())!.message, new RegExp(`committed on branch ${branch} \\(pushed\\), merge it into main`));
  // Proposed once: a second attempt finds the branch and leaves it.
  const again = await rollBack(ctx, bad, [failed(bad)]);
  assert.equal(again.outcome, 'already-proposed');
});
