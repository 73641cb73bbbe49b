// The spawn helper runs real commands through a real /bin/sh: exit codes, output, the exact
// environment, inputs with every quoting hazard, deadlines, and its directory removed when it ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnHelper, shellQuote } from '../../../lib/spawn-helper.ts';
import { waitFor } from '../../helpers/wait.ts';

test('shellQuote keeps every character literal', () => {
  assert.equal(shellQuote(`it's`), `'it'\\''s'`);
});

test('the helper runs commands with their input, output, exit code and exactly the given environment', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'gitcell-spawn-test-'));
  const h = new SpawnHelper(base);
  t.after(async () => {
    h.close();
    await rm(base, { recursive: true, force: true });
  });
  const stale = join(base, 'gitcell-spawn-999999999-abc'); // a helper killed with its owner (no such pid)
  mkdirSync(stale);
  const hazards = `{"a": "it's $HOME \`id\` $(id) \\\\ \\n"}\nGITCELL_EOF_x\n'`;
  const cat = await h.run('/bin/cat', [], { input: hazards });
  assert.deepEqual(cat, { code: 0, stdout: `${hazards}\n`, stderr: '' });
  const env = await h.run('/usr/bin/env', [], { env: { ONE: `a'b c`, PATH: '/usr/bin:/bin' } });
  assert.deepEqual(env.stdout.trim().split('\n').sort(), [`ONE=a'b c`, 'PATH=/usr/bin:/bin']);
  const args = await h.run('/bin/echo', ['x y', `'`, '$HOME']);
  assert.equal(args.stdout, `x y ' $HOME\n`);
  assert.deepEqual(await h.run('/bin/sh', ['-c', 'echo oops >&2; exit 3']), { code: 3, stdout: '', stderr: 'oops\n' });
  const missing = await h.run('/nonexistent/binary', []);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /not found/);
  const many = await Promise.all(Array.from({ length: 40 }, (_, i) => h.run('/bin/echo', [String(i)])));
  assert.deepEqual(many.map((r) => r.stdout), Array.from({ length: 40 }, (_, i) => `${i}\n`));
  const sync = await h.run('/bin/sh', ['-c', 'echo \'{"data": 5}\' >&3; sleep 1; echo later >&3'], { syncFd3: true });
  assert.equal(sync.sync, '{"data": 5}', 'the first line on fd 3, answered before the command ends');
  const escaped = await h.run('/bin/sh', ['-c', `printf '%s\\n' '{"data": -1, "message": "a\\nb\\\\c"}' >&3`], { syncFd3: true });
  assert.equal(escaped.sync, '{"data": -1, "message": "a\\nb\\\\c"}', 'a report passes through unchanged (backslashes too)');
  const many3 = await Promise.all(Array.from({ length: 20 }, (_, i) => h.run('/bin/sh', ['-c', `echo '{"data": ${i}}' >&3`], { syncFd3: true, env: { X: String(i) } })));
  assert.deepEqual(many3.map((r) => r.sync), Array.from({ length: 20 }, (_, i) => `{"data": ${i}}`), 'concurrent reports reach their own requests');
  const inDir = await h.run('/bin/sh', ['-c', 'echo "$PWD $X" >&3'], { syncFd3: true, cwd: base, env: { X: 'y' } });
  assert.equal(inDir.sync, `${base} y`, 'cwd and env apply to the command, not to the helper');
  assert.equal((await h.run('/bin/sh', ['-c', 'echo "[$X]"'])).stdout, '[]\n', 'the helper itself kept none of them');
  await assert.rejects(h.run('/bin/true', [], { syncFd3: true, timeoutMs: 1 }), /not supported/);
  const silent = await h.run('/bin/sh', ['-c', 'echo why >&2; exit 1'], { syncFd3: true });
  assert.deepEqual([silent.sync, silent.stderr], ['', 'why\n'], 'fd 3 closed without a line: the answer carries the output');
  assert.equal((await h.run('/bin/pwd', [], { cwd: base })).stdout, `${base}\n`, 'run from cwd');
  const t0 = Date.now();
  const slow = await h.run('/bin/sleep', ['30'], { timeoutMs: 200 });
  assert.equal(slow.code, 137, 'killed by SIGKILL at the deadline');
  assert.ok(Date.now() - t0 < 20_000);
  assert.ok(!existsSync(stale), 'the directory of a dead owner swept');
  const dirs = readdirSync(base);
  assert.equal(dirs.length, 1);
  await waitFor('every command file removed after it ended', () => readdirSync(join(base, dirs[0]!)).length === 0, 10_000);
  h.close();
  await waitFor('the helper removed its directory', () => !existsSync(join(base, dirs[0]!)), 10_000);
});

test('a fifo made in the helper\'s directory becomes a command\'s fd 4: a byte lets it go, our close is its EOF', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'gitcell-spawn-test-'));
  const h = new SpawnHelper(base);
  t.after(async () => {
    h.close();
    await rm(base, { recursive: true, force: true });
  });
  const fifo = await h.makeFifo('gate.fifo');
  assert.equal(fifo, join(base, readdirSync(base)[0]!, 'gate.fifo'), 'in the helper\'s private directory');
  assert.ok(statSync(fifo).isFIFO());
  // O_RDWR: our end never waits for a peer, and the shell's open for reading finds a writer.
  let fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  // unref: the waiting commands alone would not keep this process alive (a spare monitor must not).
  const alive = setInterval(() => undefined, 1000);
  t.after(() => clearInterval(alive));
  const wait = 'if IFS= read -r x <&4; then echo "got $x" >&3; else echo eof >&3; fi';
  const first = h.run('/bin/sh', ['-c', wait], { syncFd3: true, fd4From: fifo, unref: true });
  writeSync(fd, 'go\n');
  assert.equal((await first).sync, 'got go');
  const second = h.run('/bin/sh', ['-c', wait], { syncFd3: true, fd4From: fifo, unref: true });
  closeSync(fd); // the only writer: the reader sees EOF, as a monitor does when its owner dies
  assert.equal((await second).sync, 'eof');
  fd = -1;
});
