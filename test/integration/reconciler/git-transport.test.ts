// Zip bombs over the network: a remote repository served by a real `git http-backend` on 127.0.0.1
// whose small pack inflates to gigabytes. The reconciler fetches with the system git (which streams
// big blobs to disk under a heap limit) and its loader refuses the object at the size limit from the
// pack's headers; neither the fetching process nor git inflate the bomb in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createRemoteSource } from '../../../reconciler/source/index.ts';
import { silentLogger } from '../../../lib/log.ts';
import { makeRemoteRepo } from '../../helpers/git-cli-repo.ts';
import { commitEntries, writeLooseZeros } from '../../helpers/git-bomb.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const MiB = 1024 * 1024;
/** makeTempDir makes a directory removed after test t. */
function makeTempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ok = 'kind: Job\nmetadata:\n  name: ok\nspec:\n  image: ok:1\n';

interface ChildResult {
  problems: { file: string; code: string; message: string }[];
  objects: number;
  error?: string;
  code?: string;
  vmHwmKiB: number;
  packs?: string[];
  sizes?: unknown;
}

/**
 * fetchInChild follows `url` in a child process as the reconciler does (remote source, system git,
 * git's heap capped at `maxMemoryBytes`), loads the tip's manifests and reports what it found and its
 * own peak RSS (VmHWM). Asynchronous: the git server lives in this process and must keep serving.
 */
async function fetchInChild(url: string, stateDir: string, maxMemoryBytes: number, maxPackBytes = 256 * MiB): Promise<ChildResult> {
  const script = `
    import { readFileSync } from 'node:fs';
    const { createRemoteSource } = await import(${JSON.stringify(join(ROOT, 'reconciler/source/index.ts'))});
    const { loadManifestsFromGit } = await import(${JSON.stringify(join(ROOT, 'reconciler/manifests/index.ts'))});
    const { silentLogger } = await import(${JSON.stringify(join(ROOT, 'lib/log.ts'))});
    const out = { problems: [], objects: 0 };
    const source = createRemoteSource({ repo: ${JSON.stringify(url)}, stateDir: ${JSON.stringify(stateDir)}, pollIntervalMs: 3600000,
      transportLimits: { maxMemoryBytes: ${maxMemoryBytes}, maxPackBytes: ${maxPackBytes}, timeoutMs: 240000 } }, silentLogger());
    try {
      const tip = await source.refresh();
      const r = await loadManifestsFromGit({ dir: source.gitdir, gitdir: source.gitdir, ref: tip });
      out.problems = r.problems; out.objects = r.objects.length;
      // What the header-first size check sees, to explain a peak RSS over the limit (CI run 19: 3 GiB).
      const { objectSize } = await import(${JSON.stringify(join(ROOT, 'reconciler/manifests/index.ts'))});
      const { readdirSync } = await import('node:fs');
      out.packs = readdirSync(source.gitdir + '/objects/pack');
      out.sizes = r.problems.map((p) => [p.file, /git object ([0-9a-f]{40})/.exec(p.message)?.[1]]).map(([f, oid]) => [f, oid && objectSize(source.gitdir, oid)]);
    } catch (err) { out.error = err.message; out.code = err.code; }
    await source.stop();
    out.vmHwmKiB = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    process.stdout.write(JSON.stringify(out));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 300_000, maxBuffer: 16 * MiB });
  return JSON.parse(stdout) as ChildResult;
}

test('a 1 GiB blob bomb fetched over HTTP from git http-backend is refused at the limit; memory stays low', async (t) => {
  const { server, url, work } = await makeRemoteRepo(t);
  work.commit({ 'ok.yaml': ok }, 'first');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  // The attacker's commit, written straight into the served repository: 1 GiB of zeros, ~1 MiB deflated.
  const bare = join(server.root, 'cluster.git');
  const okBlob = work.git('rev-parse', 'HEAD:ok.yaml');
  const bomb = await writeLooseZeros(bare, 'blob', 1024 * MiB);
  commitEntries(bare, { 'ok.yaml': { oid: okBlob, type: 'blob' }, 'bomb.yaml': { oid: bomb, type: 'blob' } }, 'bomb');
  const stateDir = makeTempDir(t, 'gitcell-transport-');

  // git's heap is capped at 128 MiB: the fetch succeeds only because git streams the blob to disk.
  const res = await fetchInChild(url, stateDir, 128 * MiB);
  assert.equal(res.error, undefined, JSON.stringify(res));
  const p = res.problems.find((x) => x.file === 'bomb.yaml');
  assert.ok(p, JSON.stringify(res.problems));
  assert.equal(p.code, 'E_MANIFEST_TOO_LARGE');
  assert.match(p.message, new RegExp(`git object ${bomb} \\(bomb\\.yaml\\) inflates to 1073741824 bytes, over the limit of 1048576 bytes`));
  assert.equal(res.objects, 1, 'the other file still loads');
  t.diagnostic(`fetching process peak RSS (VmHWM): ${Math.round(res.vmHwmKiB / 1024)} MiB for a 1 GiB bomb; ${JSON.stringify({ packs: res.packs, sizes: res.sizes })}`);
  // A node process with tsx loaded sits near 100 MiB; inflating the bomb would take over 1 GiB.
  assert.ok(res.vmHwmKiB < 300 * 1024, `peak RSS ${res.vmHwmKiB} KiB; ${JSON.stringify({ packs: res.packs, sizes: res.sizes })}`);
});

test('an object git would have to hold whole (a 96 MiB commit) fails the fetch at the git heap limit, clearly', async (t) => {
  const { server, url, work } = await makeRemoteRepo(t);
  work.commit({ 'ok.yaml': ok }, 'first');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const bare = join(server.root, 'cluster.git');
  const parent = work.head();
  const tree = work.git('rev-parse', 'HEAD^{tree}');
  const head = Buffer.from(`tree ${tree}\nparent ${parent}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nbomb\n`);
  const commit = await writeLooseZeros(bare, 'commit', 96 * MiB, 96 * MiB, head);
  await promisify(execFile)('/usr/bin/git', [`--git-dir=${bare}`, 'update-ref', 'refs/heads/main', commit]);
  const stateDir = makeTempDir(t, 'gitcell-transport-');

  const res = await fetchInChild(url, stateDir, 48 * MiB);
  assert.equal(res.code, 'E_GIT_OBJECT_TOO_LARGE', JSON.stringify(res));
  assert.match(res.error!, new RegExp(`^fetching ${url.replace(/\./g, '\\.')}: an object inflates to more than git's memory limit of 50331648 bytes \\(a zip bomb\\?\\): refused`));
  assert.ok(res.vmHwmKiB < 300 * 1024, `peak RSS ${res.vmHwmKiB} KiB`);
});

test('a pack over the size limit is refused and nothing of it is kept', async (t) => {
  const { url, work } = await makeRemoteRepo(t);
  // Random bytes do not compress: the pack is over 2 MiB.
  work.commit({ 'ok.yaml': ok, 'noise.bin': randomBytes(3 * MiB).toString('base64') }, 'noise');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const stateDir = makeTempDir(t, 'gitcell-transport-');
  const source = createRemoteSource({ repo: url, stateDir, pollIntervalMs: 3_600_000, transportLimits: { maxMemoryBytes: 256 * MiB, maxPackBytes: 2 * MiB, timeoutMs: 120_000 } }, silentLogger());
  t.after(() => source.stop());
  await assert.rejects(source.refresh(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_GIT_PACK_TOO_LARGE');
    assert.match(err.message, /the pack is larger than the limit of 2097152 bytes: refused, nothing of it is kept/);
    return true;
  });
  assert.deepEqual(readdirSync(join(source.gitdir, 'objects', 'pack')).filter((f) => f.startsWith('tmp_')), []);
});
