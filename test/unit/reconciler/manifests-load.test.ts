import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import git from 'isomorphic-git';
import { loadManifestsFromDir, loadManifestsFromGit, parseManifestFile, LoadErrorCode, type LoadResult } from '../../../reconciler/index.ts';
import { isGitcellError } from '../../../lib/index.ts';
import { makeTestRepo, type TestRepo } from '../../helpers/git-repo.ts';

const repos: TestRepo[] = [];
after(async () => {
  for (const r of repos) await r.remove();
});
async function repo(): Promise<TestRepo> {
  const r = await makeTestRepo();
  repos.push(r);
  return r;
}

const twoDocs = `# two jobs in one file
apiVersion: gitcell.io/v1
kind: Job
metadata:
  name: a
---
apiVersion: gitcell.io/v1
kind: Job
metadata: {name: b}
`;

function summary(r: LoadResult): string[] {
  return r.objects.map((o) => `${o.source.file}#${o.source.document}@${o.source.line}:${o.source.column} ${(o.object.metadata as { name: string }).name}`);
}

test('multi-document YAML and JSON: every object remembers file, document, line and column', () => {
  const r = parseManifestFile('jobs.yaml', Buffer.from(twoDocs));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.objects.map((o) => o.source), [
    { file: 'jobs.yaml', document: 0, line: 2, column: 1 },
    { file: 'jobs.yaml', document: 1, line: 7, column: 1 },
  ]);
  const j = parseManifestFile('x.json', Buffer.from('\n  {"apiVersion": "gitcell.io/v1", "kind": "Job", "metadata": {"name": "c"}}'));
  assert.deepEqual(j.problems, []);
  assert.deepEqual(j.objects[0]?.source, { file: 'x.json', document: 0, line: 2, column: 3 });
});

test('loadManifestsFromDir: sorted, recursive, *.yaml/*.yml/*.json only, hidden dirs and symlinks skipped', async () => {
  const r = await repo();
  await r.write({
    'b/jobs.yaml': twoDocs,
    'a.yml': 'apiVersion: gitcell.io/v1\nkind: Job\nmetadata: {name: first}\n',
    'c.json': '{"apiVersion":"gitcell.io/v1","kind":"Job","metadata":{"name":"json"}}',
    'README.md': '# not a manifest: {',
    '.hidden/x.yaml': 'metadata: {name: hidden}\n',
    'empty.yaml': '---\n# nothing\n---\n',
  });
  fs.symlinkSync('/etc/passwd', `${r.dir}/link.yaml`);
  const res = await loadManifestsFromDir(r.dir);
  assert.deepEqual(res.problems, []);
  assert.deepEqual(summary(res), ['a.yml#0@1:1 first', 'b/jobs.yaml#0@2:1 a', 'b/jobs.yaml#1@7:1 b', 'c.json#0@1:1 json']);
  assert.equal(res.files, 4);
  await assert.rejects(loadManifestsFromDir(`${r.dir}/missing`), (e: unknown) => isGitcellError(e, 'E_PATH_NOT_FOUND'));
});

test('locate maps field paths to line:column, falling back to the deepest existing parent', async () => {
  const res = await loadManifestsFromDir((await (async () => {
    const r = await repo();
    await r.write({ 'j.yaml': twoDocs + `spec:\n  template:\n    ports:\n      - name: http\n        containerPort: 80\n    "quoted key": 1\n` });
    return r;
  })()).dir);
  const b = res.objects[1]!;
  assert.deepEqual(res.locate(b.source, ['metadata', 'name']), { file: 'j.yaml', line: 9, column: 12 });
  assert.deepEqual(res.locate(b.source, ['spec', 'template', 'ports', 0, 'containerPort']), { file: 'j.yaml', line: 14, column: 9 });
  assert.deepEqual(res.locate(b.source, ['spec', 'template', 'ports', 0]), { file: 'j.yaml', line: 13, column: 9 });
  assert.deepEqual(res.locate(b.source, ['spec', 'template', 'quoted key']), { file: 'j.yaml', line: 15, column: 5 });
  assert.deepEqual(res.locate(b.source, ['spec', 'template', 'image']), { file: 'j.yaml', line: 11, column: 3 }, 'missing field -> its parent key');
  assert.deepEqual(res.locate(b.source, ['spec', 'template', 'ports', 7]), { file: 'j.yaml', line: 12, column: 5 }, 'missing index -> the list key');
  assert.deepEqual(res.locate(b.source, []), { file: 'j.yaml', line: 7, column: 1 });
});

test('limits and bad bytes are problems, not crashes', async () => {
  const r = await repo();
  await r.write({
    'big.yaml': `a: "${'x'.repeat(1024 * 1024)}"\n`,
    'latin1.yaml': Buffer.from([0x6b, 0x3a, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]),
    'broken.yaml': 'kind: Job\nmetadata:\n  name: [unclosed\n',
    'scalar.yaml': 'just a string\n',
  });
  const res = await loadManifestsFromDir(r.dir);
  assert.deepEqual(res.objects, []);
  const got = res.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.code}`);
  assert.deepEqual(got, [
    'big.yaml:1:1 E_MANIFEST_TOO_LARGE',
    'broken.yaml:4:1 E_YAML_SYNTAX',
    'latin1.yaml:1:7 E_MANIFEST_ENCODING',
    'scalar.yaml:1:1 E_MANIFEST_NOT_MAPPING',
  ]);
  assert.match(res.problems[0]!.message, /over the limit of 1048576/);
});

test('more than maxObjects objects stops loading with one problem', async () => {
  const docs = Array.from({ length: 5 }, (_, i) => `kind: Job\nmetadata: {name: j${i}}\n`).join('---\n');
  const r = await repo();
  await r.write({ 'a.yaml': docs, 'b.yaml': docs });
  const res = await loadManifestsFromDir(r.dir, { maxObjects: 7 });
  assert.equal(res.objects.length, 7);
  assert.equal(res.problems.length, 1);
  assert.equal(res.problems[0]!.code, LoadErrorCode.tooManyObjects);
  assert.equal(res.problems[0]!.file, 'b.yaml');
  assert.equal(res.problems[0]!.line, 7); // the 8th object: b.yaml's third document
  assert.match(res.problems[0]!.message, /more than 7 objects/);
});

test('alias bombs are refused by the node budget', () => {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}]`);
  const r = parseManifestFile('bomb.yaml', Buffer.from(lines.join('\n')));
  assert.equal(r.objects.length, 0);
  assert.equal(r.problems[0]?.code, LoadErrorCode.tooComplex);
});

test('loadManifestsFromGit reads the commit, not the working tree', async () => {
  const r = await repo();
  const first = await r.commit({ 'cluster/a.yaml': twoDocs, 'cluster/sub/c.json': '{"kind":"Job","metadata":{"name":"c"}}', 'other/x.yaml': 'kind: Job\nmetadata: {name: outside}\n' });
  const second = await r.commit({ 'cluster/a.yaml': null, 'cluster/d.yaml': 'kind: Job\nmetadata: {name: d}\n' });
  await git.tag({ fs, dir: r.dir, ref: 'v1', object: first });
  await git.annotatedTag({ fs, dir: r.dir, ref: 'v1-annotated', object: first, message: 'release', tagger: { name: 't', email: 't@gitcell.invalid', timestamp: 1_700_000_000, timezoneOffset: 0 } });
  // Uncommitted edits must not be seen.
  await r.write({ 'cluster/d.yaml': 'kind: Job\nmetadata: {name: dirty}\n', 'cluster/new.yaml': 'kind: Job\nmetadata: {name: untracked}\n' });

  const atFirst = await loadManifestsFromGit({ dir: r.dir, ref: first, path: 'cluster' });
  assert.equal(atFirst.commit, first);
  assert.deepEqual(summary(atFirst), ['a.yaml#0@2:1 a', 'a.yaml#1@7:1 b', 'sub/c.json#0@1:1 c']);
  for (const ref of ['v1', 'v1-annotated', first.slice(0, 8)]) {
    const res = await loadManifestsFromGit({ dir: r.dir, ref, path: 'cluster/' });
    assert.equal(res.commit, first, ref);
    assert.equal(res.objects.length, 3, ref);
  }
  const head = await loadManifestsFromGit({ dir: r.dir, ref: 'HEAD', path: 'cluster' });
  assert.equal(head.commit, second);
  assert.deepEqual(summary(head), ['d.yaml#0@1:1 d', 'sub/c.json#0@1:1 c']);
  const root = await loadManifestsFromGit({ dir: r.dir, ref: 'main' });
  assert.deepEqual(summary(root).map((s) => s.split(' ')[1]), ['d', 'c', 'outside']);
  assert.deepEqual(root.locate(root.objects[0]!.source, ['metadata', 'name']), { file: 'cluster/d.yaml', line: 2, column: 12 });

  await assert.rejects(loadManifestsFromGit({ dir: r.dir, ref: 'nope' }), (e: unknown) => isGitcellError(e, 'E_GIT_REF_NOT_FOUND'));
  await assert.rejects(loadManifestsFromGit({ dir: r.dir, ref: 'main', path: 'missing' }), (e: unknown) => isGitcellError(e, 'E_GIT_PATH_NOT_FOUND'));
  await assert.rejects(loadManifestsFromGit({ dir: r.dir, ref: 'main', path: 'cluster/d.yaml' }), (e: unknown) => isGitcellError(e, 'E_GIT_PATH_NOT_FOUND'));
});

test('loadManifestsFromGit in a linked worktree (git worktree add): HEAD is the worktree\'s', async () => {
  const r = await repo();
  const first = await r.commit({ 'a.yaml': 'kind: Job\nmetadata: {name: on-main}\n' });
  const wt = `${r.dir}-wt`;
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@gitcell.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@gitcell.invalid' };
  const gitCli = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, ...args], { env, encoding: 'utf8' }).trim();
  gitCli(r.dir, 'worktree', 'add', '-q', '-b', 'feature', wt);
  repos.push({ dir: wt, commit: async () => '', write: async () => undefined, remove: () => rm(wt, { recursive: true, force: true }) });
  fs.writeFileSync(`${wt}/b.yaml`, 'kind: Job\nmetadata: {name: on-feature}\n');
  gitCli(wt, 'add', 'b.yaml');
  gitCli(wt, 'commit', '-q', '-m', 'feature');
  const featureHead = gitCli(wt, 'rev-parse', 'HEAD');
  const head = await loadManifestsFromGit({ dir: wt, ref: 'HEAD' });
  assert.equal(head.commit, featureHead);
  assert.deepEqual(head.objects.map((o) => (o.object.metadata as { name: string }).name), ['on-main', 'on-feature']);
  const main = await loadManifestsFromGit({ dir: wt, ref: 'main' });
  assert.equal(main.commit, first);
  assert.equal((await loadManifestsFromGit({ dir: r.dir, ref: 'feature' })).commit, featureHead);
});
