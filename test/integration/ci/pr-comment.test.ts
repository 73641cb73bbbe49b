// deploy/ci/pr-comment.mjs as CI runs it: against a local Git repository with a base branch and a
// pull-request branch, through the real gitcell binary. The body it would post (validate verdict,
// plan markdown, hidden marker); then the one-comment flow against a loopback server speaking the
// few GitHub and GitLab API calls it uses (create once, update after), so no test touches a network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BIN } from '../../helpers/up.ts';
import { makeRepo, type TestRepo } from '../../helpers/git-cli-repo.ts';
import { buildBody, commentAction, markerOf } from '../../../deploy/ci/pr-comment.mjs';

const SCRIPT = join(import.meta.dirname, '../../../deploy/ci/pr-comment.mjs');

function job(name: string, replicas: number): string {
  return `apiVersion: gitcell.io/v1\nkind: Job\nmetadata:\n  name: ${name}\nspec:\n  owner: team\n  type: service\n  replicas: ${replicas}\n  template:\n    image: localhost/busybox:latest\n    command: ["httpd", "-f"]\n    resources:\n      requests: {cpu: 50m, memory: 16Mi}\n`;
}

function prComment(repo: TestRepo, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, '--repo', repo.dir, ...args], { env: { ...process.env, GITCELL: `${process.execPath} ${BIN}`, ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function pullRequestRepo(t: { after(fn: () => void): void }): TestRepo {
  const repo = makeRepo({ prefix: 'gitcell-pr-' });
  t.after(() => repo.cleanup());
  repo.commit({ 'jobs/web.yaml': job('web', 2) }, 'base');
  repo.git('checkout', '--quiet', '-b', 'feature');
  repo.commit({ 'jobs/web.yaml': job('web', 5), 'jobs/api.yaml': job('api', 1) }, 'scale web, add api');
  return repo;
}

test('the body of a clean pull request: marker, heading, validate verdict, the plan in markdown', async (t) => {
  const repo = pullRequestRepo(t);
  const r = await prComment(repo, ['--base', 'main', '--ref', 'feature', '--provider', 'print']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], '<!-- gitcell-plan -->');
  assert.equal(lines[1], '### gitcell plan: `feature` against `main`');
  assert.ok(r.stdout.includes('**validate**: no problems'), r.stdout);
  // The plan names what the merge does: api created, web's replicas 2 -> 5.
  assert.match(r.stdout, /api/);
  assert.match(r.stdout, /replicas/);
  assert.match(r.stdout, /\b2\b[^\n]*\b5\b/);
  assert.match(r.stdout, new RegExp(`<sub>commit ${repo.git('rev-parse', 'feature').slice(0, 12)} `));
});

test('a pull request with a broken manifest: the problem with its file:line in the body, and CI fails', async (t) => {
  const repo = pullRequestRepo(t);
  repo.commit({ 'jobs/bad.yaml': job('bad', 1).replace('replicas: 1', 'replicas: many') }, 'oops');
  const r = await prComment(repo, ['--base', 'main', '--ref', 'feature', '--provider', 'print']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /\*\*validate\*\*: 1 problem\n\n```\njobs\/bad\.yaml:\d+:\d+: Job\/bad: spec\.replicas/);
});

test('one comment per pull request: created on the first run, updated (not added) on the next, on GitHub and GitLab', async (t) => {
  const repo = pullRequestRepo(t);
  // Loopback stand-in for the forge's API: just the calls the script makes, checking the token.
  const comments = new Map<number, string>([[1, 'an unrelated review comment']]);
  const calls: string[] = [];
  let next = 2;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      calls.push(`${req.method} ${url.pathname}`);
      const token = req.headers.authorization === 'Bearer gh-token' || req.headers['private-token'] === 'gl-token';
      if (!token) return void res.writeHead(401).end('{}');
      const list = () => [...comments].map(([id, b]) => ({ id, body: b }));
      const m = /\/(comments|notes)\/(\d+)$/.exec(url.pathname);
      if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(url.searchParams.get('page') === '1' ? list() : []));
      const text = (JSON.parse(body) as { body: string }).body;
      const id = m ? Number(m[2]) : next++;
      comments.set(id, text);
      res.writeHead(m ? 200 : 201, { 'content-type': 'application/json' }).end(JSON.stringify({ id, body: text }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const gh = { GITHUB_API_URL: api, GITHUB_REPOSITORY: 'team/cluster', GITHUB_TOKEN: 'gh-token' };
  for (const round of [1, 2]) {
    const r = await prComment(repo, ['--base', 'main', '--ref', 'feature', '--provider', 'github', '--pr', '7'], gh);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'pr-comment: github #7 updated\n', `round ${round}`);
  }
  assert.deepEqual(calls, ['GET /repos/team/cluster/issues/7/comments', 'POST /repos/team/cluster/issues/7/comments', 'GET /repos/team/cluster/issues/7/comments', 'PATCH /repos/team/cluster/issues/comments/2']);
  assert.equal(comments.size, 2, 'one comment of ours next to the unrelated one');
  assert.ok(comments.get(2)!.startsWith(markerOf()));

  calls.length = 0;
  const gl = { CI_API_V4_URL: `${api}/api/v4`, CI_PROJECT_ID: 'team/cluster', GITLAB_TOKEN: 'gl-token', CI_MERGE_REQUEST_IID: '9' };
  // The stand-in serves one list for both forges: the marked comment of the GitHub runs is updated.
  assert.equal((await prComment(repo, ['--base', 'main', '--ref', 'feature', '--provider', 'gitlab'], gl)).code, 0);
  assert.deepEqual(calls, ['GET /api/v4/projects/team%2Fcluster/merge_requests/9/notes', 'PUT /api/v4/projects/team%2Fcluster/merge_requests/9/notes/2']);
  assert.equal(comments.size, 2);
  const refused = await prComment(repo, ['--base', 'main', '--ref', 'feature', '--provider', 'github', '--pr', '7'], { ...gh, GITHUB_TOKEN: 'wrong' });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /pr-comment: GET .*\/issues\/7\/comments\?per_page=100&page=1: HTTP 401/);
});

test('commentAction and buildBody: the marker finds our comment; a huge plan is cut with a note', () => {
  assert.deepEqual(commentAction([{ id: 1, body: 'hi' }, { id: 2, body: `x ${markerOf()}` }], markerOf()), { action: 'update', id: 2 });
  assert.deepEqual(commentAction([{ id: 1 }], markerOf()), { action: 'create' });
  const body = buildBody({ marker: markerOf(), ref: 'HEAD', base: 'main', commit: 'a'.repeat(40), validate: { code: 0, output: '' }, plan: { code: 2, output: 'x'.repeat(100_000) } });
  assert.ok(body.length < 61_000);
  assert.match(body, /cut at 60000 characters; run `gitcell plan --base main`/);
});
