// Runs the real `gitcell validate` (node cli/bin.js) and checks exit codes and output.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestRepo, type TestRepo } from '../../helpers/git-repo.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gitcell(args: string[], cwd = root): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'cli/bin.js'), ...args], { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function repo(): Promise<TestRepo> {
  const r = await makeTestRepo('gitcell-cli-');
  cleanups.push(() => r.remove());
  return r;
}

const LINE = /^(.+?):(\d+):(\d+): (\S+): (\S+|\S*\[\S.*?\]\S*): (.+)$/;

function assertNoStack(r: Run): void {
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'a stack trace reached the user');
}

test('gitcell validate sample-repo exits 0', async () => {
  const r = await gitcell(['validate', 'sample-repo']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /sample-repo: 10 objects in 10 files are valid/);
});

test('bad manifests: exit 1, one FILE:LINE:COL: KIND/NAME: FIELD.PATH: message line per problem', async () => {
  const r = await gitcell(['validate', 'test/fixtures/bad']);
  assert.equal(r.code, 1);
  assertNoStack(r);
  const lines = r.stdout.trimEnd().split('\n');
  assert.ok(lines.length > 50, `expected the whole corpus, got ${lines.length} lines`);
  for (const l of lines) assert.match(l, LINE);
  assert.ok(lines.includes('test/fixtures/bad/quantities.yaml:27:16: Job/limits-below: spec.template.resources.limits.cpu: cpu limit 250m is below the request 500m'), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('test/fixtures/bad/yaml-syntax.yaml:9:1: -: -: YAML: ')));
  assert.match(r.stderr, /problems in \d+ objects \(\d+ files\)/);
  assert.match(r.stderr, /^warning: test\/fixtures\/bad\/slo\.yaml:24:3: SLO\/missing-job: spec\.job: Job "gone" is not in namespace "default"/m, 'warnings on stderr, located');
});

test('--format json gives the same fields', async () => {
  const r = await gitcell(['validate', 'test/fixtures/bad', '--format', 'json']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { valid: boolean; problems: Array<Record<string, unknown>>; objects: number; files: number };
  assert.equal(out.valid, false);
  const p = out.problems.find((x) => x.code === 'E_LIMIT_BELOW_REQUEST' && x.path === 'spec.template.resources.limits.memory');
  assert.deepEqual(p, {
    file: 'test/fixtures/bad/quantities.yaml', line: 27, column: 27, kind: 'Job', name: 'limits-below', path: 'spec.template.resources.limits.memory',
    message: 'memory limit 128Mi is below the request 256Mi', code: 'E_LIMIT_BELOW_REQUEST', document: 1,
  });
  const ok = JSON.parse((await gitcell(['validate', 'sample-repo', '--format', 'json'])).stdout) as { valid: boolean; objects: number };
  assert.deepEqual([ok.valid, ok.objects], [true, 10]);
  const w = (out as unknown as { warnings: Array<Record<string, unknown>> }).warnings.find((x) => x.code === 'E_SLO_NO_DATA' && x.path === 'spec.job');
  assert.equal(w?.file, 'test/fixtures/bad/slo.yaml', 'warnings listed apart, with file and line');
});

test('usage errors exit 2 without a stack trace', async () => {
  for (const args of [['validate', 'no/such/dir'], ['validate', 'sample-repo', '--format', 'xml'], ['validate', 'sample-repo/jobs/web.yaml']]) {
    const r = await gitcell(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assertNoStack(r);
  }
  const tmp = await mkdtemp(join(tmpdir(), 'gitcell-nogit-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  const r = await gitcell(['validate', tmp, '--ref', 'HEAD']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not inside a Git repository/);
});

test('--ref checks the commit, without --ref the files on disk', async () => {
  const r = await repo();
  await cp(join(root, 'sample-repo'), join(r.dir, 'cluster'), { recursive: true });
  await r.commit({ 'cluster/jobs/web.yaml': null, 'cluster/databases/orders.yaml': null, 'cluster/jobs/broken.yaml': 'apiVersion: gitcell.io/v1\nkind: Job\nmetadata: {name: broken}\nspec: {type: service, replicas: many, template: {image: x}}\n' }, 'broken');
  // Committed: broken.yaml; on disk (uncommitted): broken.yaml fixed.
  await r.write({ 'cluster/jobs/broken.yaml': 'apiVersion: gitcell.io/v1\nkind: Job\nmetadata: {name: broken}\nspec: {type: service, replicas: 2, template: {image: x}}\n' });
  const disk = await gitcell(['validate', 'cluster'], r.dir);
  assert.equal(disk.code, 0, disk.stdout + disk.stderr);
  const head = await gitcell(['validate', 'cluster', '--ref', 'HEAD'], r.dir);
  assert.equal(head.code, 1, head.stderr);
  assert.equal(head.stdout, 'cluster/jobs/broken.yaml:4:23: Job/broken: spec.replicas: expected integer, got string "many"\n');
  assert.match(head.stderr, /at [0-9a-f]{12}/);
  // From inside the folder, and with a branch name.
  const inside = await gitcell(['validate', '.', '--ref', 'main'], join(r.dir, 'cluster'));
  assert.equal(inside.stdout, 'jobs/broken.yaml:4:23: Job/broken: spec.replicas: expected integer, got string "many"\n');
  const missing = await gitcell(['validate', 'cluster', '--ref', 'no-such-branch'], r.dir);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no-such-branch is not a branch, tag or commit/);
  assertNoStack(missing);
});

test('--allow-plaintext-secrets accepts only annotated plaintext Secrets', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-plain-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const r = await repo();
  await r.write({
    'dev.yaml': 'apiVersion: gitcell.io/v1\nkind: Secret\nmetadata:\n  name: dev\n  annotations: {gitcell.io/allow-plaintext: "true"}\nspec:\n  stringData: {password: dev}\n',
  });
  assert.equal((await gitcell(['validate', r.dir])).code, 1);
  assert.equal((await gitcell(['validate', r.dir, '--allow-plaintext-secrets'])).code, 0);
  await r.write({ 'prod.yaml': 'apiVersion: gitcell.io/v1\nkind: Secret\nmetadata: {name: prod}\nspec:\n  stringData: {password: oops}\n' });
  const both = await gitcell(['validate', r.dir, '--allow-plaintext-secrets']);
  assert.equal(both.code, 1);
  assert.match(both.stdout, /prod\.yaml:5:3: Secret\/prod: spec\.stringData: plaintext Secret values are refused/);
});
