// The sealed copy of runc that containers are created from (runtime/container/sealed-runc.ts):
// it is runc byte for byte, nobody can write it (root on the host included), containers start from
// it, and a container process that holds it (CVE-2019-5736's end state) cannot overwrite it, against real runc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { useRuntimeFixture } from '../../helpers/runtime.ts';
import { findRunc, runcForInit, sealedCopy } from '../../../runtime/container/index.ts';

const fx = useRuntimeFixture('sealed-runc');

const sha256 = (path: string): string => createHash('sha256').update(fs.readFileSync(path)).digest('hex');

test('the sealed copy is runc byte for byte, runs, and cannot be written, truncated or grown', async () => {
  const bin = findRunc();
  const path = await sealedCopy(bin);
  assert.match(path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
  assert.match(fs.readlinkSync(path), /^\/memfd:runc \(deleted\)$/);
  assert.equal(sha256(path), sha256(bin));
  const v = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^runc version/);
  assert.throws(() => fs.writeFileSync(path, 'x'), /EPERM/, 'opening with O_TRUNC is refused (F_SEAL_SHRINK)');
  const fd = fs.openSync(path, 'r+');
  try {
    assert.throws(() => fs.writeSync(fd, 'x', 0), /EPERM/, 'a write is refused (F_SEAL_WRITE)');
    assert.throws(() => fs.ftruncateSync(fd, 1), /EPERM/, 'shrinking is refused');
  } finally {
    fs.closeSync(fd);
  }
  assert.equal(sha256(path), sha256(bin));
});

test('containers are created from the sealed copy: conmon runs runc create from it', async () => {
  const c = await fx.manager.run({ image: fx.image, command: ['sleep', '1000'] });
  const monitor = Number(fs.readFileSync(`${fx.manager.pathsOf(c.id).state}/shim.pid`, 'utf8'));
  const argv = fs.readFileSync(`/proc/${monitor}/cmdline`, 'utf8').split('\0');
  assert.equal(argv[argv.indexOf('-r') + 1], await runcForInit(fx.manager.runc.bin));
  await fx.manager.delete(c.id, { force: true });
});

// CVE-2019-5736 ends with a process in the container holding runc's binary (it opened
// /proc/<runc's pid>/exe while runc ran inside the container) and writing it. On this kernel its
// entry (`runc exec` of a script whose interpreter is /proc/self/exe) fails with ENOENT, and runc
// init is not dumpable inside the container, so the test starts from that end state: `runc exec`
// hands the container's process the binary as fd 3 (opened read-write by the host), and the process
// writes through it, reopens it through /proc/self/fd/3 truncating, and appending. A plain writable
// copy of runc is the control: the same script changes it, so the attack does work where nothing
// stops it.
const ATTACK = [
  '(echo pwned >&3) 2>/dev/null && echo FD-WRITE-OK || echo FD-WRITE-DENIED',
  '(echo pwned >/proc/self/fd/3) 2>/dev/null && echo TRUNC-WRITE-OK || echo TRUNC-WRITE-DENIED',
  '(echo pwned >>/proc/self/fd/3) 2>/dev/null && echo APPEND-WRITE-OK || echo APPEND-WRITE-DENIED',
].join('\n');

/** attackThrough runs ATTACK in container `id` by `runc exec` with `target` as its fd 3; resolves with its output. */
function attackThrough(runc: string, id: string, target: string): Promise<string> {
  const fd = fs.openSync(target, 'r+');
  return new Promise<string>((resolve, reject) => {
    const child = spawn(runc, ['--root', fx.manager.runc.root, 'exec', '--preserve-fds', '1', id, 'sh', '-c', ATTACK], { stdio: ['ignore', 'pipe', 'inherit', fd] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`runc exec exited ${code}: ${out}`));
    });
  }).finally(() => fs.closeSync(fd));
}

test('a container process holding a sealed copy (CVE-2019-5736) cannot write it; a plain copy it can', async () => {
  const bin = findRunc();
  const before = sha256(bin);
  // A copy of its own: a file open for writing cannot be executed (ETXTBSY), and this process's
  // copy must stay runnable for the starts of the other tests.
  const target = await sealedCopy(bin);
  const control = `${fx.root}/runc-copy`;
  fs.copyFileSync(bin, control);
  const c = await fx.manager.run({ image: fx.image, command: ['sleep', '1000'] });
  try {
    const sealed = await attackThrough(bin, c.id, target);
    assert.deepEqual(sealed.trim().split('\n'), ['FD-WRITE-DENIED', 'TRUNC-WRITE-DENIED', 'APPEND-WRITE-DENIED']);
    const plain = await attackThrough(bin, c.id, control);
    assert.deepEqual(plain.trim().split('\n'), ['FD-WRITE-OK', 'TRUNC-WRITE-OK', 'APPEND-WRITE-OK'], 'the attack works on a writable copy');
    assert.notEqual(sha256(control), before);
  } finally {
    await fx.manager.delete(c.id, { force: true });
  }
  assert.equal(sha256(target), before, 'the sealed copy is unchanged');
  assert.equal(sha256(bin), before, 'runc on disk is unchanged');
});
