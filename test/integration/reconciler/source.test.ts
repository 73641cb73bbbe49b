import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/log.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { createSource, resolveLocalRepo, signPayload, startWebhookServer, type Revision } from '../../../reconciler/source/index.ts';
import { git } from '../../helpers/git-http.ts';
import { makeRemoteRepo, makeRepo } from '../../helpers/git-cli-repo.ts';
import { waitFor } from '../../helpers/wait.ts';

const log = silentLogger();

test('local source sees commits by file events, not polling, and deduplicates', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const first = repo.commit({ 'a.yaml': 'a: 1\n' });
  const seen: Revision[] = [];
  const source = createSource({ repo: repo.dir, branch: 'main', safetyPollMs: 3_600_000 }, log);
  t.after(() => source.stop());
  await source.start((r) => seen.push(r));
  assert.deepEqual(seen.map((r) => r.sha), [first]);

  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const sha = repo.commit({ 'a.yaml': `a: ${i + 2}\n` });
    const committedAt = Date.now();
    const rev = await waitFor(`commit ${sha}`, () => seen.find((r) => r.sha === sha));
    latencies.push(rev.seenAt - committedAt);
  }
  // The safety poll is an hour away, so only a file event can have delivered these commits. How fast
  // is for the benchmark (npm run bench -- reconciler), not for a test on a loaded machine.
  t.diagnostic(`commit-to-seen latencies: ${latencies.join(', ')} ms`);
  await source.refresh();
  await source.refresh();
  assert.equal(new Set(seen.map((r) => r.sha)).size, seen.length, 'each revision emitted once');

  // packed refs (git gc / pack-refs) keep the tip readable and do not re-emit it.
  repo.git('pack-refs', '--all');
  assert.equal(await source.refresh(), repo.head());
  assert.equal(seen.length, 6);
});

test('local source follows another branch and ignores commits elsewhere', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'a.yaml': 'a: 1\n' });
  repo.git('branch', 'prod');
  const seen: string[] = [];
  const source = createSource({ repo: repo.dir, branch: 'prod', safetyPollMs: 3_600_000 }, log);
  t.after(() => source.stop());
  await source.start((r) => seen.push(r.sha));
  repo.commit({ 'a.yaml': 'a: 2\n' }); // on main
  repo.git('checkout', '--quiet', 'prod');
  const prodSha = repo.commit({ 'b.yaml': 'b: 1\n' });
  await waitFor('prod commit', () => seen.includes(prodSha));
  assert.equal(seen.length, 2);
});

test('a missing repository fails with E_REPO_NOT_FOUND', () => {
  assert.throws(() => createSource({ repo: join(tmpdir(), 'no-such-gitcell-repo') }, log), (e: unknown) => isGitcellError(e, 'E_REPO_NOT_FOUND'));
});

test('remote source fetches through git http-backend with credentials; webhook checks the signature', async (t) => {
  const { server, url, work } = await makeRemoteRepo(t, { username: 'deploy', password: 'pw-123' });
  const first = work.commit({ 'job.yaml': 'kind: Job\n' });
  await work.gitAsync('push', '--quiet', 'origin', 'main');

  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const creds = join(stateDir, 'creds.yaml');

  // Wrong credentials: a clear auth error, not a crash.
  writeFileSync(creds, 'username: deploy\npassword: wrong\n');
  const bad = createSource({ repo: url, stateDir, credentialsFile: creds, pollIntervalMs: 3_600_000 }, log);
  await assert.rejects(bad.start(() => undefined), (e: unknown) => isGitcellError(e, 'E_GIT_AUTH'));
  await bad.stop();

  writeFileSync(creds, 'token: pw-123\nusername: deploy\n');
  const seen: Revision[] = [];
  const source = createSource({ repo: url, stateDir, credentialsFile: creds, pollIntervalMs: 3_600_000 }, log);
  t.after(() => source.stop());
  await source.start((r) => seen.push(r));
  assert.deepEqual(seen.map((r) => r.sha), [first]);

  const secret = 'hook-secret';
  const hook = await startWebhookServer({ listen: '127.0.0.1:0', secret, branch: 'main', onPush: () => source.refresh(), log });
  t.after(() => hook.close());

  const second = work.commit({ 'job.yaml': 'kind: Job\nx: 2\n' });
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const body = JSON.stringify({ ref: 'refs/heads/main', after: second });
  const post = (sig: string | undefined, event = 'push', payload = body) =>
    fetch(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': event, ...(sig ? { 'x-hub-signature-256': sig } : {}) },
      body: payload,
    });

  const fetchesBefore = server.requests.get('git-upload-pack') ?? 0;
  assert.equal((await post(signPayload('not-the-secret', body))).status, 401);
  assert.equal((await post(undefined)).status, 401);
  assert.equal((await post(signPayload(secret, body), 'push', `${body} `)).status, 401, 'body changed after signing');
  assert.equal(server.requests.get('git-upload-pack') ?? 0, fetchesBefore, 'rejected hooks fetch nothing');
  assert.equal(seen.length, 1);

  assert.equal((await post(signPayload(secret, body), 'ping')).status, 200);
  const other = JSON.stringify({ ref: 'refs/heads/feature' });
  assert.equal((await post(signPayload(secret, other), 'push', other)).status, 202);

  const accepted = Date.now();
  assert.equal((await post(signPayload(secret, body))).status, 202);
  const rev = await waitFor('webhook-triggered fetch', () => seen.find((r) => r.sha === second));
  // The poll interval is an hour: only the webhook can have caused this fetch.
  t.diagnostic(`webhook-to-seen: ${rev.seenAt - accepted} ms`);
  assert.equal(seen.length, 2);
});

/** makeRepoAt commits in an existing working tree with the git CLI. */
function makeRepoAt(dir: string) {
  return {
    commit(files: Record<string, string>): string {
      for (const [p, c] of Object.entries(files)) writeFileSync(join(dir, p), c);
      git(dir, 'add', '-A');
      git(dir, 'commit', '--quiet', '-m', 'worktree commit');
      return git(dir, 'rev-parse', 'HEAD');
    },
  };
}

test('a linked worktree (git worktree add) is followed through its common gitdir', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'a.yaml': 'a: 1\n' });
  const wt = join(repo.dir, '..', `${repo.dir.split('/').pop()}-wt`);
  repo.git('worktree', 'add', '--quiet', '-b', 'side', wt);
  t.after(() => rmSync(wt, { recursive: true, force: true }));
  const layout = resolveLocalRepo(wt);
  assert.equal(layout.gitdir, join(repo.dir, '.git'));
  assert.equal(layout.dir, undefined, 'gitcell never checks out into a linked worktree');
  assert.equal(layout.head, 'refs/heads/side');
  const seen: string[] = [];
  const source = createSource({ repo: wt, branch: 'side', safetyPollMs: 3_600_000 }, log);
  t.after(() => source.stop());
  await source.start((r) => seen.push(r.sha));
  const sha = makeRepoAt(wt).commit({ 'b.yaml': 'b: 1\n' });
  await waitFor('worktree commit', () => seen.includes(sha));
});
