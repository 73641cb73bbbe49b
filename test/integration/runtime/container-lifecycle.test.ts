// Lifecycle through real runc: adopt after the creator is kill -9'ed, stop/kill/wait, states and
// names, rotated timestamped logs, start failures, a container whose tmpfs state a reboot took, and
// cleanup of everything on delete; one conmon process per container, nothing else resident.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ContainerManager, isMounted, logFiles, readMounts } from '../../../runtime/index.ts';
import { useRuntimeFixture } from '../../helpers/runtime.ts';

const fx = useRuntimeFixture('lifecycle');

test('a container outlives its creator (kill -9) and is adopted by a new manager', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/start-container.ts', fx.root, fx.image, fx.cgroupParent], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  while (!out.includes('\n')) {
    const [code] = await Promise.race([once(child.stdout, 'data'), once(child, 'exit')]);
    if (typeof code === 'number') throw new Error(`start-container exited with ${code}`);
  }
  const id = out.trim();
  child.kill('SIGKILL');
  await once(child, 'exit');

  const adopter = new ContainerManager({ root: fx.root, images: fx.images, cgroupParent: fx.cgroupParent });
  const adopted = await adopter.adopt();
  const c = adopted.find((x) => x.id === id);
  assert.ok(c, 'the container is listed');
  assert.equal(c.status, 'running');
  assert.equal(c.name, 'adoptee');
  assert.equal((await adopter.runc.state(id))?.status, 'running', 'runc agrees');
  await assert.rejects(adopter.delete(id), /E_CONTAINER_RUNNING|stop it first/);
  const exit = await adopter.stop('adoptee', { timeoutMs: 10_000 });
  assert.equal(exit.exitCode, 143, 'the trap ran: SIGTERM reached PID 1');
  assert.deepEqual(adopter.logs(id).map((l) => l.text), ['started', 'got-term']);
  await adopter.delete('adoptee');
  assert.equal(adopter.list().length, 0);
});

test('stop escalates to SIGKILL when SIGTERM is ignored; wait and states follow', async () => {
  const c = await fx.manager.create({ image: fx.image, name: 'stubborn', command: ['sh', '-c', 'trap "" TERM; echo up; while :; do sleep 0.1; done'] });
  assert.equal(fx.manager.inspect('stubborn').status, 'created');
  await assert.rejects(fx.manager.wait(c.id), /never started/);
  await fx.manager.start('stubborn');
  assert.equal(fx.manager.inspect(c.id).status, 'running');
  assert.equal((await fx.manager.runc.state(c.id))?.status, 'running', 'released through the exec fifo: runc agrees it runs');
  await assert.rejects(fx.manager.start(c.id), /E_CONTAINER_STATE|not created/);
  await assert.rejects(fx.manager.create({ image: fx.image, name: 'stubborn', command: ['true'] }), /E_CONTAINER_NAME_IN_USE|is used by/);
  const exit = await fx.manager.stop(c.id, { timeoutMs: 500 });
  assert.equal(exit.exitCode, 137);
  assert.equal(exit.oomKilled, false);
  assert.equal(fx.manager.inspect(c.id).status, 'exited');
  const rootfs = fx.manager.pathsOf(c.id).rootfs;
  assert.equal(isMounted(rootfs), false, 'the overlay lives in the container\'s mount namespace only');
  assert.equal(readMounts().some((m) => m.source === `gitcell-${c.id}`), false);
  await fx.manager.delete('stubborn');
  assert.equal(fs.existsSync(fx.manager.pathsOf(c.id).dir), false, 'bundle removed');
  assert.equal(await fx.manager.runc.state(c.id), undefined, 'runc forgot it');
  // the name is free again
  const again = await fx.manager.create({ image: fx.image, name: 'stubborn', command: ['true'] });
  await fx.manager.delete(again.id);
});

test('logs carry timestamps and rotate by size, keeping N files', async () => {
  // conmon replaces container.log once it reaches maxBytes; rotateLogs (the agent calls it on each
  // pass) keeps the replaced files. The container writes in bursts with pauses, as services do.
  const c = await fx.manager.run({
    image: fx.image, log: { maxBytes: 2048, keep: 2 },
    command: ['sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); [ $((i % 10)) -eq 0 ] && sleep 0.2; done; echo bye >&2'],
  });
  const exited = fx.manager.wait(c.id, { timeoutMs: 60_000 });
  let done = false;
  void exited.finally(() => { done = true; });
  while (!done) {
    fx.manager.rotateLogs(c.id);
    await new Promise((r) => setTimeout(r, 20)); // the agent's pass, compressed
  }
  await exited;
  fx.manager.rotateLogs(c.id);
  const logDir = fx.manager.pathsOf(c.id).logs;
  const files = logFiles(logDir, 'stdout').map((f) => f.slice(logDir.length + 1));
  assert.ok(files.includes('container.log.1'), `a replaced file was kept (${files.join(', ')})`);
  assert.ok(files.every((f) => /^container\.log(\.[12])?$/.test(f)), `at most two earlier files (${files.join(', ')})`);
  for (const f of files) assert.ok(fs.statSync(join(logDir, f)).size <= 2048, `${f} stays within the limit`);
  const lines = fx.manager.logs(c.id);
  const out = lines.filter((l) => l.stream === 'stdout');
  assert.ok(out.length < 200 && out.length > 20, `old lines were rotated away (kept ${out.length})`);
  assert.match(out.at(-1)!.text, /^line 199 /, 'the newest line is kept');
  for (const l of lines) assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.text), ['bye']);
  await fx.manager.delete(c.id);
});

test('followLogs streams lines while the container runs and ends when it exits', async () => {
  const c = await fx.manager.run({ image: fx.image, command: ['sh', '-c', 'echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three'] });
  const seen: string[] = [];
  await fx.manager.followLogs(c.id, (l) => seen.push(`${l.stream}:${l.text}`));
  assert.deepEqual(seen.sort(), ['stderr:two', 'stdout:one', 'stdout:three']);
  await fx.manager.delete(c.id);
});

test('a command that cannot start fails start() with runc\'s reason and cleans up on delete', async () => {
  const c = await fx.manager.create({ image: fx.image, command: ['/no/such/binary'] });
  await assert.rejects(fx.manager.start(c.id), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_CONTAINER_START_FAILED');
    assert.match(err.message, /no such file|not found|executable/i);
    return true;
  });
  await fx.manager.delete(c.id);
  assert.equal(readMounts().filter((m) => m.target.startsWith(fx.root)).length, 0);
});

/** hostProcessesOfSession lists the processes of a session that live in this pid namespace (not the container's). */
function hostProcessesOfSession(session: number): number[] {
  const ownNs = fs.readlinkSync('/proc/self/ns/pid');
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) === session && fs.readlinkSync(`/proc/${p}/ns/pid`) === ownNs) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('deleting a running container with force kills it and removes everything', async () => {
  const c = await fx.manager.run({ image: fx.image, memoryBytes: 64 * 1024 * 1024, command: ['sleep', '1000'] });
  const monitor = Number(fs.readFileSync(join(fx.manager.pathsOf(c.id).state, 'shim.pid'), 'utf8'));
  assert.deepEqual(hostProcessesOfSession(monitor), [monitor], 'one process on the node besides the container: conmon (no runc, shell or log writer)');
  assert.match(fs.readFileSync(`/proc/${monitor}/cmdline`, 'utf8'), /conmon/);
  await fx.manager.delete(c.id, { force: true });
  assert.equal(fx.manager.list().length, 0);
});

test('a monitor killed from outside leaves the container "unknown": wait says lost, delete still cleans up', async () => {
  const c = await fx.manager.run({ image: fx.image, command: ['sleep', '1000'] });
  const shim = Number(fs.readFileSync(join(fx.manager.pathsOf(c.id).state, 'shim.pid'), 'utf8'));
  process.kill(-shim, 'SIGKILL'); // the monitor's whole process group (conmon is its session leader)
  const groupAlive = (): boolean => { try { process.kill(-shim, 0); return true; } catch { return false; } };
  while (groupAlive()) await new Promise((r) => setTimeout(r, 20)); // condition: the whole group is gone
  assert.equal(fx.manager.inspect(c.id).status, 'running', 'the container outlives its monitor');
  await fx.manager.kill(c.id, 'SIGKILL');
  await assert.rejects(fx.manager.wait(c.id, { timeoutMs: 30_000 }), (err: Error & { code?: string }) => err.code === 'E_CONTAINER_LOST');
  assert.equal(fx.manager.inspect(c.id).status, 'unknown');
  await fx.manager.delete(c.id, { force: true });
  assert.equal(await fx.manager.runc.state(c.id), undefined);
});

test('after a reboot (the state directory gone with its tmpfs) a container reads "unknown": wait says lost, delete cleans up', async () => {
  const c = await fx.manager.run({ image: fx.image, command: ['sleep', '1000'] });
  const p = fx.manager.pathsOf(c.id);
  // What a reboot leaves: no process, no runc state, an empty tmpfs; container.json, upper and logs on disk.
  await fx.manager.runc.delete(c.id, true);
  await fx.manager.wait(c.id, { timeoutMs: 30_000 }).catch(() => undefined); // conmon saw its child die
  fs.rmSync(p.state, { recursive: true, force: true });
  const after = new ContainerManager({ root: fx.root, images: fx.images, cgroupParent: fx.cgroupParent });
  try {
    assert.equal(after.inspect(c.id).status, 'unknown', 'no state: neither created nor running');
    await assert.rejects(after.wait(c.id, { timeoutMs: 30_000 }), (err: Error & { code?: string }) => err.code === 'E_CONTAINER_LOST');
    await after.delete(c.id);
    assert.equal(fs.existsSync(p.dir), false, 'delete removed the directory on disk');
    assert.deepEqual(after.list(), []);
  } finally {
    after.close();
  }
});
