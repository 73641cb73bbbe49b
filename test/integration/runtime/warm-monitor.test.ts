// The warm monitor (runtime/container/warm-monitor.ts) against real conmon and runc: the next
// container's conmon waits on its start pipe; a start lets it go; a failed create, close() and the
// owner's kill -9 each leave no process, runc state or cgroup (only a directory without container.json
// that adopt() removes), and a container created but not started when its owner died stays "created".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ContainerManager, listCgroups } from '../../../runtime/index.ts';
import { useRuntimeFixture } from '../../helpers/runtime.ts';
import { conmonsUnder } from '../../helpers/warm.ts';

const fx = useRuntimeFixture('warm');

/** until polls `check` every 20 ms until it returns a value, failing after `ms`. */
async function until<T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const containersDir = (): string => join(fx.root, 'containers');
/** spareDirs are the container directories without container.json (a spare's, until create takes it). */
const spareDirs = (): string[] => fs.readdirSync(containersDir()).filter((d) => !fs.existsSync(join(containersDir(), d, 'container.json')));
const waitingSpare = (): string | undefined => spareDirs().find((d) => conmonsUnder(join(containersDir(), d)).length > 0);

test('the next container takes the waiting conmon: same id, bundle <dir>/started, logs and exit as a cold start', async () => {
  const m = new ContainerManager({ root: fx.root, images: fx.images, cgroupParent: fx.cgroupParent, warmMonitor: true });
  try {
    const a = await m.run({ image: fx.image, command: ['sleep', '1000'] });
    assert.ok(!fs.existsSync(join(m.pathsOf(a.id).state, 'started')), 'the first start had no spare: cold');
    const spare = await until('a spare conmon', waitingSpare);
    const b = await m.run({ image: fx.image, command: ['sh', '-c', 'echo warm-hello; exit 7'] });
    assert.equal(b.id, spare);
    assert.ok(fs.existsSync(join(m.pathsOf(b.id).state, 'started', 'config.json')), 'runc ran from the gate');
    const exit = await m.wait(b.id, { timeoutMs: 20_000 });
    assert.equal(exit.exitCode, 7);
    assert.deepEqual(m.logs(b.id).map((l) => l.text), ['warm-hello']);
    await m.delete(a.id, { force: true });
    await m.delete(b.id);
    const next = await until('the next spare', waitingSpare);
    m.close();
    await until('the spare gone after close()', () => conmonsUnder(join(containersDir(), next)).length === 0);
    assert.ok(!fs.existsSync(join(containersDir(), next)), 'close() removed its directory');
    assert.ok(!fs.existsSync(m.pathsOf(next).state), 'and its state directory');
  } finally {
    m.close();
  }
});

test('a create that fails after taking the spare lets it go: it ends before runc, the next one waits', async () => {
  const m = new ContainerManager({ root: fx.root, images: fx.images, cgroupParent: fx.cgroupParent, warmMonitor: true });
  try {
    const a = await m.run({ image: fx.image, command: ['sleep', '1000'] });
    const spare = await until('a spare conmon', waitingSpare);
    await assert.rejects(m.create({ image: fx.image, command: ['true'], runAsNonRoot: true }), /E_CONTAINER_RUNASNONROOT|non-root|root/);
    await until('the discarded spare gone', () => conmonsUnder(join(containersDir(), spare)).length === 0);
    assert.ok(!fs.existsSync(join(containersDir(), spare)));
    const next = await until('the next spare', waitingSpare);
    assert.notEqual(next, spare);
    assert.deepEqual((await m.runc.list()).map((c) => c.id), [a.id], 'runc never saw the spare');
    await m.delete(a.id, { force: true });
  } finally {
    m.close();
  }
});

/** ownerKilled runs test/helpers/warm-owner.ts in `mode`, kill -9's it once it printed, and returns its ids. */
async function ownerKilled(mode: 'idle' | 'claimed'): Promise<{ running: string; spare: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/warm-owner.ts', fx.root, fx.image, fx.cgroupParent, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  try {
    while (!out.includes('\n')) {
      const [code] = await Promise.race([once(child.stdout, 'data'), once(child, 'exit')]);
      if (typeof code === 'number' || code === null) throw new Error(`warm-owner exited before printing (${code})`);
    }
  } finally {
    clearTimeout(timer);
  }
  child.kill('SIGKILL');
  await once(child, 'exit');
  const [running, spare] = out.trim().split(' ');
  return { running: running!, spare: spare! };
}

test('the owner killed with -9: its idle spare ends before runc and leaves only a directory adopt() removes', async () => {
  const { running, spare } = await ownerKilled('idle');
  const dir = join(containersDir(), spare);
  await until('the spare conmon gone', () => conmonsUnder(dir).length === 0);
  const state = fx.manager.pathsOf(spare).state;
  assert.ok(!fs.existsSync(join(dir, 'container.json')), 'no container.json in the spare\'s directory');
  for (const f of ['shim.pid', 'pid', 'started', 'exit']) assert.ok(!fs.existsSync(join(state, f)), `no ${f} in the spare's state directory`);
  assert.deepEqual((await fx.manager.runc.list()).map((c) => c.id), [running], 'runc knows only the running container');
  assert.ok(listCgroups(fx.cgroupParent).every((c) => !c.includes(spare)), 'no cgroup of the spare');
  const adopter = new ContainerManager({ root: fx.root, images: fx.images, cgroupParent: fx.cgroupParent });
  try {
    assert.deepEqual(adopter.list().map((c) => [c.id, c.status]), [[running, 'running']]);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(dir, old, old); // a minute and more: what adopt() takes for a creator that died
    await adopter.adopt();
    assert.ok(!fs.existsSync(dir), 'adopt() removed it');
    assert.ok(!fs.existsSync(state), 'and its state directory on the tmpfs');
    await adopter.delete(running, { force: true });
  } finally {
    adopter.close();
  }
});

test('the owner killed with -9 between create and start: the container stays "created", starts cold later', async () => {
  const { running, spare } = await ownerKilled('claimed');
  const dir = join(containersDir(), spare);
  await until('the claimed spare conmon gone', () => conmonsUnder(dir).length === 0);
  const adopter = new ContainerManager({ root: fx.root, images: fx.images, cgroupParent: fx.cgroupParent });
  try {
    assert.equal(adopter.inspect(spare).status, 'created', 'never started by the EOF');
    assert.deepEqual((await adopter.runc.list()).map((c) => c.id), [running]);
    await adopter.adopt();
    const c = await adopter.start(spare);
    assert.equal(c.status, 'running');
    for (const id of [running, spare]) await adopter.delete(id, { force: true });
  } finally {
    adopter.close();
  }
});
