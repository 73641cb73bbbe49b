// Zip bombs in a Git repository: a small object that inflates to gigabytes. The loader must refuse
// it at its size limit, naming the file and the limit, without the memory it would take to inflate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { loadManifestsFromGit } from '../../../reconciler/manifests/index.ts';
import { readRepoSettings } from '../../../reconciler/git/index.ts';
import { makeRepo, type TestRepo } from '../../helpers/git-cli-repo.ts';
import { commitEntries, writeLooseZeros, type TreeEntries } from '../../helpers/git-bomb.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const MiB = 1024 * 1024;

/** commitTree commits a tree of `entries` on main of a working repository. */
function commitTree(repo: TestRepo, entries: TreeEntries, message: string): string {
  return commitEntries(join(repo.dir, '.git'), entries, message);
}

const ok = 'kind: Job\nmetadata:\n  name: ok\nspec:\n  image: ok:1\n';

async function bombRepo(t: { after(fn: () => void): void }, bombBytes: number): Promise<{ repo: TestRepo; bomb: string; okBlob: string }> {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'ok.yaml': ok }, 'first');
  const okBlob = repo.git('rev-parse', 'HEAD:ok.yaml');
  const bomb = await writeLooseZeros(join(repo.dir, '.git'), 'blob', bombBytes);
  commitTree(repo, { 'ok.yaml': { oid: okBlob, type: 'blob' }, 'bomb.yaml': { oid: bomb, type: 'blob' } }, 'bomb');
  return { repo, bomb, okBlob };
}

/**
 * peakRss loads HEAD of `dir` in a child process and returns its problems and its peak resident set
 * size (VmHWM from /proc/self/status, read by the child after the load).
 */
function loadInChild(dir: string): { problems: { file: string; code: string; message: string }[]; vmHwmKiB: number; error?: string } {
  const script = `
    import { readFileSync } from 'node:fs';
    const { loadManifestsFromGit } = await import(${JSON.stringify(join(ROOT, 'reconciler/manifests/index.ts'))});
    let out = {};
    try { const r = await loadManifestsFromGit({ dir: ${JSON.stringify(dir)}, ref: 'HEAD' }); out.problems = r.problems; }
    catch (err) { out.error = err.message; out.problems = []; }
    out.vmHwmKiB = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * MiB });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('a 1 MiB loose blob that inflates to 1 GiB is a problem naming the file and the limit, and memory stays low', async (t) => {
  const { repo, bomb } = await bombRepo(t, 1024 * MiB);
  const res = loadInChild(repo.dir);
  assert.equal(res.error, undefined);
  const p = res.problems.find((x) => x.file === 'bomb.yaml');
  assert.ok(p, JSON.stringify(res.problems));
  assert.equal(p.code, 'E_MANIFEST_TOO_LARGE');
  assert.match(p.message, new RegExp(`git object ${bomb} \\(bomb\\.yaml\\) inflates to 1073741824 bytes, over the limit of 1048576 bytes`));
  // A node process with tsx loaded sits near 100 MiB; inflating the bomb would take over 1 GiB.
  assert.ok(res.vmHwmKiB < 300 * 1024, `peak RSS ${res.vmHwmKiB} KiB`);

  // The same from the CLI, as a user runs it: exit 1, the file and the limit named.
  const cli = spawnSync(process.execPath, [join(ROOT, 'cli/bin.js'), 'validate', '--ref', 'HEAD', repo.dir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stdout, /bomb\.yaml:1:1: .*over the limit of 1048576 bytes/);
});

test('a header that lies (says 10 bytes, inflates to 256 MiB) is cut off at the limit while inflating', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'ok.yaml': ok }, 'first');
  const liar = await writeLooseZeros(join(repo.dir, '.git'), 'blob', 256 * MiB, 10);
  const okBlob = repo.git('rev-parse', 'HEAD:ok.yaml');
  // mktree checks only that the object exists: it does.
  commitTree(repo, { 'ok.yaml': { oid: okBlob, type: 'blob' }, 'liar.yaml': { oid: liar, type: 'blob' } }, 'liar');
  const res = loadInChild(repo.dir);
  const p = res.problems.find((x) => x.file === 'liar.yaml');
  assert.ok(p, JSON.stringify(res));
  assert.match(p.message, /git object [0-9a-f]{40} \(liar\.yaml\) inflates to more than the limit of 1048576 bytes/);
  assert.ok(res.vmHwmKiB < 300 * 1024, `peak RSS ${res.vmHwmKiB} KiB`);
});

test('a packed bomb (git repack) and a tree bomb are refused from their headers', async (t) => {
  const { repo, bomb } = await bombRepo(t, 64 * MiB);
  repo.git('repack', '-a', '-d', '-q');
  const packed = await loadManifestsFromGit({ dir: repo.dir, ref: 'HEAD' });
  const p = packed.problems.find((x) => x.file === 'bomb.yaml');
  assert.ok(p, JSON.stringify(packed.problems));
  assert.match(p.message, new RegExp(`git object ${bomb} \\(bomb\\.yaml\\) inflates to 67108864 bytes, over the limit of 1048576`));
  assert.equal(packed.objects.length, 1, 'the other file still loads');

  // A "tree" of 600 MiB: refused before isomorphic-git would read it, as a thrown error naming it.
  const tree = await writeLooseZeros(join(repo.dir, '.git'), 'tree', 600 * MiB);
  commitTree(repo, { 'deploy': { oid: tree, type: 'tree' } }, 'tree bomb');
  await assert.rejects(loadManifestsFromGit({ dir: repo.dir, ref: 'HEAD' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_GIT_OBJECT_TOO_LARGE');
    assert.match(err.message, new RegExp(`git object ${tree} \\(tree deploy\\) inflates to 629145600 bytes, over the limit of 16777216 bytes`));
    return true;
  });
  // Settings are read before the loader when commits are verified: the same bounds hold there.
  await assert.rejects(readRepoSettings({ gitdir: join(repo.dir, '.git'), commit: repo.head(), subPath: 'deploy' }), new RegExp(`git object ${tree} \\(tree deploy\\) inflates to 629145600 bytes`));
  // .gitcell.yaml itself has its own small limit.
  const settingsBomb = await writeLooseZeros(join(repo.dir, '.git'), 'blob', 256 * MiB);
  commitTree(repo, { '.gitcell.yaml': { oid: settingsBomb, type: 'blob' } }, 'settings bomb');
  await assert.rejects(readRepoSettings({ gitdir: join(repo.dir, '.git'), commit: repo.head(), subPath: '' }), /\.gitcell\.yaml\) inflates to 268435456 bytes, over the limit of 65536/);
});
