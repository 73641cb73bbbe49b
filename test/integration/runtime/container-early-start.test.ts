// run()'s early start through real conmon and runc (runtime/container/spec-fifo.ts): conmon and
// `runc create` start while create() still builds the spec, which reaches runc through config.json
// as a fifo; config.json is a regular file afterwards; a create failing after the early start leaves
// no container, runc state or monitor behind; adopt() unblocks a runc whose creator died before
// feeding it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { useRuntimeFixture } from '../../helpers/runtime.ts';
import { waitFor } from '../../helpers/agent.ts';
import { MKFIFO, SpecFeed } from '../../../runtime/container/spec-fifo.ts';

const fx = useRuntimeFixture('early-start');
const fifos = (): string[] => (fs.existsSync(join(fx.root, 'fifos')) ? fs.readdirSync(join(fx.root, 'fifos')) : []);

/** monitorsOf lists the conmon processes whose command line names this fixture's root. */
function monitorsOf(root: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (/(^|\/)conmon\0/.test(cmd) && cmd.includes(root)) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('run() feeds the spec through a fifo from the pool; config.json is a plain file afterwards', async () => {
  // The first run finds the pool empty (plain path) and has it filled in the background.
  const first = await fx.manager.run({ image: fx.image, name: 'plain', command: ['sleep', '1000'] });
  assert.equal(first.status, 'running');
  await waitFor('the fifo pool filled', () => fifos().length > 0, 10_000);
  const before = fifos().length;
  const c = await fx.manager.run({ image: fx.image, name: 'early', command: ['sh', '-c', 'echo from-early; sleep 1000'] });
  assert.equal(c.status, 'running');
  assert.equal(fifos().length, before - 1, 'one fifo taken from the pool');
  const config = join(fx.manager.pathsOf(c.id).dir, 'config.json');
  assert.ok(fs.lstatSync(config).isFile(), 'the fifo was replaced by the regular file');
  assert.deepEqual((JSON.parse(fs.readFileSync(config, 'utf8')) as { process: { args: string[] } }).process.args, ['sh', '-c', 'echo from-early; sleep 1000']);
  assert.equal((await fx.manager.runc.state(c.id))?.status, 'running', 'runc read the spec from the pipe and started it');
  await waitFor('the output logged', () => fx.manager.logs(c.id).some((l) => l.text === 'from-early'), 10_000);
  await fx.manager.delete(c.id, { force: true });
  await fx.manager.delete(first.id, { force: true });
});

test('a create failing after the early start leaves no container, runc state or monitor', async () => {
  await waitFor('the fifo pool has a fifo', () => fifos().length > 0, 10_000);
  const before = fifos().length;
  // runAsNonRoot fails in create after conmon started (the user is resolved from the layers).
  await assert.rejects(fx.manager.run({ image: fx.image, name: 'refused', command: ['true'], runAsNonRoot: true }), /runAsNonRoot/);
  assert.equal(fifos().length, before - 1, 'the early start ran');
  assert.deepEqual(fs.readdirSync(join(fx.root, 'containers')), [], 'no container directory left');
  assert.deepEqual(await fx.manager.runc.list(), [], 'runc create failed before making state');
  await waitFor('no monitor left', () => monitorsOf(fx.root).length === 0, 10_000);
  // The name was released: it can be used again.
  const again = await fx.manager.run({ image: fx.image, name: 'refused', command: ['sleep', '1000'] });
  assert.equal(again.status, 'running');
  await fx.manager.delete(again.id, { force: true });
});

test('adopt() unblocks a runc create waiting on the fifo of a creator that died', async () => {
  const id = 'deadbeefdeadbeef';
  const dir = join(fx.root, 'containers', id);
  fs.mkdirSync(dir, { recursive: true });
  const mk = spawn(MKFIFO, ['-m', '600', join(dir, 'config.json')], { stdio: 'ignore' });
  assert.deepEqual(await once(mk, 'exit'), [0, null]);
  const runc = spawn(fx.manager.runc.bin, ['--root', fx.manager.runc.root, 'create', '--bundle', dir, id], { stdio: 'ignore' });
  // runc waits in open(2) for a writer that will never come (its creator is gone).
  await waitFor('runc waits on the fifo', () => {
    try {
      return fs.readFileSync(`/proc/${runc.pid}/wchan`, 'utf8').includes('fifo') || fs.readFileSync(`/proc/${runc.pid}/stack`, 'utf8').includes('fifo_open');
    } catch {
      return false;
    }
  }, 10_000);
  const old = new Date(Date.now() - 120_000);
  fs.utimesSync(dir, old, old); // a directory without container.json older than a minute: half-created
  const exited = once(runc, 'exit');
  await fx.manager.adopt();
  const [code] = await Promise.race([exited, new Promise<[string]>((r) => setTimeout(() => r(['still waiting after 10 s']), 10_000))]);
  assert.notEqual(code, 0, 'runc create failed (EOF, no spec)');
  assert.equal(typeof code, 'number', String(code));
  assert.equal(fs.existsSync(dir), false, 'the half-created directory is gone');
});

test('an aborted feed refuses a runc that opens config.json late, even one that looked the path up before the abort', async () => {
  const dir = fs.mkdtempSync(join(fx.root, 'feed-'));
  const path = join(dir, 'config.json');
  const mk = spawn(MKFIFO, ['-m', '600', path], { stdio: 'ignore' });
  assert.deepEqual(await once(mk, 'exit'), [0, null]);
  const feed = new SpecFeed(path);
  // A second name for the fifo stands for a runc that resolved config.json before the abort and
  // enters open(2) after it: with no writer left that open would wait for good.
  fs.linkSync(path, join(dir, 'looked-up'));
  feed.abort();
  const reader = spawn('/usr/bin/cat', [join(dir, 'looked-up')], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    let read = '';
    reader.stdout.on('data', (c: Buffer) => (read += c.toString()));
    await waitFor('the late reader got the refused spec', () => read === '{}', 10_000);
    feed.close(); // the start settled: the reader then sees EOF
    const [code] = await Promise.race([once(reader, 'exit'), new Promise<[string]>((r) => setTimeout(() => r(['still reading after 10 s']), 10_000))]);
    assert.equal(code, 0);
  } finally {
    reader.kill('SIGKILL');
    feed.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
