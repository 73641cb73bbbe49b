// The container commands end to end: `gitcell run/ps/stop/rm/commit` as a user types them, against
// real runc and overlayfs, in a state directory of their own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ImageStore, buildBusyboxRootfs, importRootfs, readMounts, ContainerManager, listCgroups, pushImage, removeCgroupParent, stateRootOf } from '../../../runtime/index.ts';
import { startRegistry } from '../../helpers/registry.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';

let state = '';

function gitcell(...args: string[]): { code: number; out: string; err: string } {
  return gitcellIn(process.cwd(), state, ...args);
}

/** gitcellIn runs the CLI binary from `cwd` with GITCELL_CLUSTER_DIR=`stateDir` (possibly relative). */
function gitcellIn(cwd: string, stateDir: string, ...args: string[]): { code: number; out: string; err: string } {
  const bin = resolve('cli/bin.js');
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, GITCELL_CLUSTER_DIR: stateDir }, timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

before(async () => {
  requireRoot();
  requireTools('runc', 'busybox');
  state = fs.mkdtempSync(join(tmpdir(), 'gitcell-cli-'));
  const images = new ImageStore(join(state, 'runtime'));
  const rfs = join(state, 'rootfs');
  fs.mkdirSync(rfs);
  await buildBusyboxRootfs(rfs);
  await importRootfs(images, rfs, 'busybox:cli');
});
after(async () => {
  if (!state) return;
  const manager = new ContainerManager({ root: join(state, 'runtime') });
  const leftState = fs.existsSync(manager.stateRoot); // the CLI's last `rm` removed it (its manager closed)
  manager.close();
  for (const c of manager.list()) await manager.delete(c.id, { force: true }).catch(() => undefined);
  const leftMounts = readMounts().filter((m) => m.target.startsWith(state));
  const leftRunc = await manager.runc.list();
  fs.rmSync(state, { recursive: true, force: true });
  fs.rmSync(manager.stateRoot, { recursive: true, force: true });
  // The CLI's containers share the parent `gitcell/cli` (cli/containers.ts), which the CLI keeps as
  // Docker keeps its own; this file is its only user in the suite, so it removes what it made.
  const leftCgroups = removeCgroupParent('gitcell/cli');
  assert.deepEqual(leftMounts, []);
  assert.deepEqual(leftRunc, []);
  assert.deepEqual(leftCgroups, [], 'no container cgroup left under gitcell/cli');
  assert.equal(leftState, false, 'no runtime state directory left on the tmpfs');
});

test('run in the foreground streams output and exits with the container\'s code; --rm leaves nothing', () => {
  const r = gitcell('run', '--rm', '--env', 'WHO=world', 'busybox:cli', '--', 'sh', '-c', 'echo hello $WHO; echo oops >&2; exit 7');
  assert.equal(r.code, 7, r.err);
  assert.equal(r.out, 'hello world\n');
  assert.equal(r.err, 'oops\n');
  assert.equal(gitcell('ps', '-q').out, '', '--rm removed it');
});

test('run --rm with a relative state dir (run from the directory that holds it) works like an absolute one', () => {
  const parent = join(state, '..');
  const relative = state.slice(parent.length + 1);
  const r = gitcellIn(parent, relative, 'run', '--rm', 'busybox:cli', '--', 'sh', '-c', 'echo relative ok');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'relative ok\n');
  assert.equal(gitcellIn(parent, relative, 'ps', '-q').out, '', '--rm removed it');
});

test('run -d, ps, stop, rm', () => {
  const d = gitcell('run', '-d', '--name', 'web', '--memory', '64Mi', '--cpus', '0.5', 'busybox:cli', '--', 'sleep', '1000');
  assert.equal(d.code, 0, d.err);
  const id = d.out.trim();
  assert.match(id, /^[0-9a-f]{16}$/);
  const ps = gitcell('ps');
  assert.match(ps.out, /web/);
  assert.match(ps.out, /running/);
  const json = JSON.parse(gitcell('ps', '--json').out) as { id: string; limits: { memoryBytes: number; cpuMillis: number } }[];
  assert.deepEqual(json.find((c) => c.id === id)?.limits, { memoryBytes: 64 * 1024 * 1024, cpuMillis: 500 });
  // -o as every listing command: name, wide (PID), yaml, jsonpath; a bad format names the closest.
  assert.equal(gitcell('ps', '-o', 'name').out, 'container/web\n');
  assert.match(gitcell('ps', '-o', 'wide').out, /PID.*IMAGE DIGEST.*LABELS[\s\S]*web .* running .* \d+ +sha256:/);
  assert.match(gitcell('ps', '-o', 'yaml').out, /^- id: [0-9a-f]{16}\n/);
  assert.equal(gitcell('ps', '-o', 'jsonpath={[*].name}').out, 'web\n');
  const bad = gitcell('ps', '-o', 'jsn');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /did you mean -o json\?/);
  // config.json is in the container's state directory, on a tmpfs (runtime/container/state-root.ts).
  const cfg = JSON.parse(fs.readFileSync(join(stateRootOf(join(state, 'runtime')), 'containers', id, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.linux.resources.cpu, { shares: 512, quota: 50000, period: 100000 });
  assert.match(cfg.linux.cgroupsPath, /^\/gitcell\/cli\//);
  const rmRunning = gitcell('rm', 'web');
  assert.equal(rmRunning.code, 1, 'a running container is not removed without -f');
  const stop = gitcell('stop', '-t', '1', 'web');
  assert.equal(stop.code, 0, stop.err);
  // sleep is PID 1 with no SIGTERM handler, so the kernel ignores SIGTERM and stop escalates.
  assert.match(gitcell('ps').out, /exited \(137\)/);
  assert.equal(gitcell('rm', 'web').code, 0);
  assert.equal(gitcell('ps', '-q').out, '');
  assert.deepEqual(listCgroups(`gitcell/cli/${id}`), []);
});

test('an OOM kill is reported in the foreground', () => {
  const r = gitcell('run', '--rm', '--memory', '32Mi', 'busybox:cli', '--', 'awk', 'BEGIN { s = "xxxxxxxx"; while (1) s = s s }');
  assert.equal(r.code, 137);
  assert.match(r.err, /out of memory/);
});

test('commit makes an image that keeps the change', () => {
  assert.equal(gitcell('run', '--name', 'c1', 'busybox:cli', '--', 'sh', '-c', 'echo committed > /marker; rm /etc/group').code, 0);
  const c = gitcell('commit', 'c1', 'busybox:committed');
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /busybox:committed sha256:[0-9a-f]{64}/);
  const r = gitcell('run', '--rm', 'busybox:committed', '--', 'sh', '-c', 'cat /marker; ls /etc/group 2>/dev/null || echo no-group');
  assert.equal(r.out, 'committed\nno-group\n');
  assert.equal(gitcell('rm', 'c1').code, 0);
});

test('usage errors exit 2, problems exit 1 without a stack trace', () => {
  assert.equal(gitcell('run').code, 2);
  const bad = gitcell('run', '--memory', 'lots', 'busybox:cli', '--', 'true');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /lots/);
  assert.doesNotMatch(bad.err, /\n\s+at /);
  const missing = gitcell('run', 'nosuchimage:v1', '--', 'true');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /E_IMAGE_NOT_FOUND/);
  assert.equal(gitcell('stop', 'ghost').code, 1);
});

test('run pulls a registry image it does not have yet', async () => {
  const registry = await startRegistry();
  try {
    const ref = `${registry.domain}/cli/busybox:v1`;
    await pushImage(new ImageStore(join(state, 'runtime')), ref, { source: 'busybox:cli' });
    const fresh = fs.mkdtempSync(join(state, 'fresh-'));
    const r = spawnSync(process.execPath, ['cli/bin.js', 'run', '--rm', '--root', join(fresh, 'runtime'), ref, '--', 'echo', 'pulled'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'pulled\n');
    assert.match(r.stderr, /pulling/);
    const local = spawnSync(process.execPath, ['cli/bin.js', 'run', '--rm', '--root', join(fresh, 'runtime'), 'never-pushed:v1', '--', 'true'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(local.status, 1, 'a local name is never pulled');
  } finally {
    await registry.stop();
  }
});
