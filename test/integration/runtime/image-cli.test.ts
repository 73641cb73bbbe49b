import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { requireTool } from '../../helpers/tools.ts';
import { scratch } from '../../helpers/runtime.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', '..', 'cli', 'bin.js');
const tmp = scratch();

/** gitcell runs the real CLI and returns exit code and output, never throwing on a non-zero exit. */
async function gitcell(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, ...args], { env: { ...process.env, GITCELL_LOG_PRETTY: '0' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

let rootfs: string;
let reg: TestRegistry;
before(async () => {
  rootfs = await tmp.busyboxRootfs();
  reg = await startRegistry({ kind: 'basic', username: 'ci', password: 'pw' });
  tmp.defer(reg.stop);
});

test('image import, ls, push, rm, gc, pull through the CLI: digests survive the round trip', async () => {
  const state = await tmp.dir('gitcell-state-');
  const ref = `${reg.domain}/cli/busybox:v1`;
  const imp = await gitcell(['image', 'import', rootfs, ref, '--root', state, '--mtime', '2024-01-01T00:00:00Z']);
  assert.equal(imp.code, 0, imp.stderr);
  const digest = imp.stdout.trim().split(' ')[1]!;
  assert.match(digest, /^sha256:[a-f0-9]{64}$/);
  const ls = await gitcell(['image', 'ls', '--json', '--root', state]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(JSON.parse(ls.stdout).map((r: { ref: string; manifestDigest: string }) => [r.ref, r.manifestDigest]), [[ref, digest]]);
  const table = await gitcell(['image', 'ls', '--root', state]);
  assert.match(table.stdout, /REFERENCE.*DIGEST.*SIZE/);
  assert.ok(table.stdout.includes(digest.slice(7, 19)));

  const denied = await gitcell(['image', 'push', ref, '--root', state]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /E_REGISTRY_UNAUTHORIZED/);
  assert.ok(!denied.stderr.includes('    at '), 'no stack trace');
  const push = await gitcell(['image', 'push', ref, '--root', state, '--username', 'ci', '--password-stdin'], 'pw\n');
  assert.equal(push.code, 0, push.stderr);
  assert.equal(push.stdout.trim(), `${ref} ${digest}`);

  assert.equal((await gitcell(['image', 'rm', ref, '--root', state])).code, 0);
  const gc = await gitcell(['image', 'gc', '--root', state]);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /removed 3 blobs/);
  assert.equal((await gitcell(['image', 'rm', ref, '--root', state])).code, 1);

  const pull = await gitcell(['image', 'pull', ref, '--root', state], undefined);
  assert.equal(pull.code, 1, 'no credentials: refused');
  const pulled = await run(process.execPath, [cli, 'image', 'pull', ref, '--root', state], { env: { ...process.env, GITCELL_REGISTRY_USERNAME: 'ci', GITCELL_REGISTRY_PASSWORD: 'pw' } });
  assert.equal(pulled.stdout.trim(), `${ref} ${digest}`);
  assert.equal(pulled.stderr, '', 'quiet when stderr is not a TTY');
});

test('skopeo pushes gitcell\'s OCI export to docker-registry and gitcell pulls it back', async () => {
  await requireTool('skopeo');
  const state = await tmp.dir('gitcell-state-');
  const imp = await gitcell(['image', 'import', rootfs, 'sample:v2', '--root', state]);
  assert.equal(imp.code, 0, imp.stderr);
  const digest = imp.stdout.trim().split(' ')[1]!;
  const layout = join(await tmp.dir('gitcell-layout-'), 'oci');
  const exp = await gitcell(['image', 'export', 'sample:v2', `${layout}:v2`, '--root', state]);
  assert.equal(exp.code, 0, exp.stderr);
  await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', 'ci:pw', `oci:${layout}:v2`, `docker://${reg.domain}/skopeo/sample:v2`]);
  const other = await tmp.dir('gitcell-state-');
  const pulled = await run(process.execPath, [cli, 'image', 'pull', `${reg.domain}/skopeo/sample:v2`, '--root', other], { env: { ...process.env, GITCELL_REGISTRY_USERNAME: 'ci', GITCELL_REGISTRY_PASSWORD: 'pw' } });
  assert.equal(pulled.stdout.trim(), `${reg.domain}/skopeo/sample:v2 ${digest}`);
  // and the layout imports back into a third store as the same image
  const third = await tmp.dir('gitcell-state-');
  const back = await gitcell(['image', 'import', `${layout}:v2`, 'again:v2', '--root', third]);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.stdout.trim(), `localhost/again:v2 ${digest}`);
});

test('image pull draws a progress bar when stderr is a terminal', async () => {
  await requireTool('script');
  const src = await tmp.dir('gitcell-state-');
  const ref = `${reg.domain}/cli/tty:v1`;
  assert.equal((await gitcell(['image', 'import', rootfs, ref, '--root', src])).code, 0);
  const push = await run(process.execPath, [cli, 'image', 'push', ref, '--root', src], { env: { ...process.env, GITCELL_REGISTRY_USERNAME: 'ci', GITCELL_REGISTRY_PASSWORD: 'pw' } });
  assert.equal(push.stderr, '');
  const dst = await tmp.dir('gitcell-state-');
  // script(1) gives the command a pseudo-terminal, so stderr.isTTY is true as for a user.
  const cmd = [process.execPath, cli, 'image', 'pull', ref, '--root', dst].map((a) => `'${a}'`).join(' ');
  const tty = await run('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, GITCELL_REGISTRY_USERNAME: 'ci', GITCELL_REGISTRY_PASSWORD: 'pw', GITCELL_LOG_PRETTY: '0' } });
  // One bar per blob with human units; done when complete (rate and ETA while it runs).
  assert.match(tty.stdout, /pull [0-9a-f]{12} \[=+\] 100%  [\d.]+ (B|KiB|MiB) \/ [\d.]+ (B|KiB|MiB)  done/);
});
