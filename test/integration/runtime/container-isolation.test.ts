// Isolation through real runc, overlayfs and cgroups: PID namespace, hostname, memory limit with OOM
// report, pids limit against a fork bomb, dropped capabilities, seccomp, user, mounts, netns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { useRuntimeFixture } from '../../helpers/runtime.ts';
import type { ContainerOptions } from '../../../runtime/index.ts';

const fx = useRuntimeFixture('isolation');

/** runToEnd runs a container to its exit and returns exit status and stdout/stderr text. */
async function runToEnd(opts: Omit<ContainerOptions, 'image'>): Promise<{ exitCode: number; oomKilled: boolean; out: string; err: string; id: string }> {
  const c = await fx.manager.run({ image: fx.image, ...opts });
  const exit = await fx.manager.wait(c.id, { timeoutMs: 30_000 });
  const lines = fx.manager.logs(c.id);
  const out = lines.filter((l) => l.stream === 'stdout').map((l) => l.text).join('\n');
  const err = lines.filter((l) => l.stream === 'stderr').map((l) => l.text).join('\n');
  return { ...exit, out, err, id: c.id };
}

test('the task is PID 1 and sees no host process', async () => {
  const r = await runToEnd({ command: ['sh', '-c', `echo $$; ls /proc | grep -c '^[0-9][0-9]*$'; test -e /proc/${process.pid} && echo host-visible || echo hidden`] });
  const [pid, count, visible] = r.out.split('\n');
  assert.equal(pid, '1');
  assert.ok(Number(count) <= 3, `only sh and its children are visible, saw ${count}`);
  assert.equal(visible, 'hidden');
  assert.equal(r.exitCode, 0);
  await fx.manager.delete(r.id);
});

test('the hostname is the container\'s own, in uname and /etc/hostname', async () => {
  const r = await runToEnd({ hostname: 'cell-one', command: ['sh', '-c', 'hostname; cat /etc/hostname; grep -c cell-one /etc/hosts'] });
  assert.deepEqual(r.out.split('\n'), ['cell-one', 'cell-one', '1']);
  assert.notEqual(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'cell-one');
  await fx.manager.delete(r.id);
});

test('a memory limit is enforced: allocating past it is OOM-killed and reported as OOM', async () => {
  const limit = 32 * 1024 * 1024;
  const r = await runToEnd({ memoryBytes: limit, command: ['awk', 'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) { s = s s; print length(s) } }'] });
  assert.equal(r.oomKilled, true);
  assert.equal(r.exitCode, 137, 'SIGKILL from the OOM killer');
  const reached = Math.max(...r.out.split('\n').map(Number));
  assert.ok(reached < limit, `the string never reached the limit (last ${reached} bytes)`);
  await fx.manager.delete(r.id);
  // and a container that stays below its limit is not reported as OOM
  const ok = await runToEnd({ memoryBytes: limit, command: ['sh', '-c', 'echo fine'] });
  assert.equal(ok.oomKilled, false);
  assert.equal(ok.exitCode, 0);
  await fx.manager.delete(ok.id);
});

test('a pids limit stops a fork bomb', async () => {
  const limit = 20;
  // Forks until fork fails, counting successes into a file of the container's own layer.
  const r = await runToEnd({ pidsLimit: limit, command: ['sh', '-c', 'i=0; while :; do sleep 1000 & i=$((i+1)); echo $i > /count; done'] });
  assert.match(r.err, /can't fork|Resource temporarily unavailable/);
  const count = Number(fs.readFileSync(join(fx.manager.pathsOf(r.id).upper, 'count'), 'utf8'));
  assert.ok(count > 1 && count < limit, `forked ${count} times under a limit of ${limit}`);
  await fx.manager.delete(r.id);
});

test('dropped capabilities are really absent: Docker\'s set only, no CAP_SYS_ADMIN', async () => {
  const r = await runToEnd({ command: ['sh', '-c', 'grep CapEff /proc/self/status; grep CapBnd /proc/self/status; hostname other 2>&1 || echo hostname-denied; mkdir /m; mount -t tmpfs none /m 2>&1 || echo mount-denied'] });
  const eff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(r.out)![1]}`);
  const bnd = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(r.out)![1]}`);
  const CAP_SYS_ADMIN = 21n;
  assert.equal((eff >> CAP_SYS_ADMIN) & 1n, 0n, 'CAP_SYS_ADMIN not effective');
  assert.equal((bnd >> CAP_SYS_ADMIN) & 1n, 0n, 'CAP_SYS_ADMIN not even in the bounding set');
  assert.equal(eff, 0xa80425fbn, 'exactly Docker\'s default set');
  assert.match(r.out, /hostname-denied/);
  assert.match(r.out, /mount-denied/);
  await fx.manager.delete(r.id);
});

test('seccomp denies new user namespaces, no_new_privileges is set, /proc paths are masked or read-only', async () => {
  const r = await runToEnd({ command: ['sh', '-c', 'unshare -U true 2>&1 && echo userns-allowed || echo userns-denied; grep NoNewPrivs /proc/self/status; grep Seccomp: /proc/self/status; echo masked=$(grep -c " /proc/timer_list " /proc/self/mountinfo); echo x > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-ro'] });
  assert.match(r.out, /masked=1/, '/proc/timer_list is masked by a mount over it (this kernel has no /proc/kcore)');
  assert.match(r.out, /sysrq-ro/);
  assert.match(r.out, /userns-denied/);
  assert.match(r.out, /NoNewPrivs:\s*1/);
  assert.match(r.out, /Seccomp:\s*2/, 'a seccomp filter is active');
  await fx.manager.delete(r.id);
});

test('user, env and cwd come from the task over the image; /proc paths are masked', async () => {
  const r = await runToEnd({ user: 'nobody', env: ['GREETING=hi'], cwd: '/tmp', command: ['sh', '-c', 'id -u; id -g; echo $GREETING; pwd; echo $HOME'] });
  const lines = r.out.split('\n');
  assert.deepEqual(lines, ['65534', '65534', 'hi', '/tmp', '/nonexistent']);
  await fx.manager.delete(r.id);
  await assert.rejects(fx.manager.create({ image: fx.image, user: 'nosuchuser', command: ['true'] }), /E_CONTAINER_USER|nosuchuser/);
});

test('extra mounts: read-only bind and tmpfs with mode and size', async () => {
  const src = fs.mkdtempSync(join(fx.root, 'bind-'));
  fs.writeFileSync(join(src, 'secret'), 's3cret');
  const r = await runToEnd({
    mounts: [{ type: 'bind', source: src, destination: '/data' }, { type: 'tmpfs', destination: '/run/secrets', mode: 0o700, sizeBytes: 1024 * 1024 }],
    command: ['sh', '-c', 'cat /data/secret; echo; touch /data/x 2>/dev/null && echo rw || echo ro; stat -c %a /run/secrets; grep /run/secrets /proc/mounts'],
  });
  const lines = r.out.split('\n');
  assert.equal(lines[0], 's3cret');
  assert.equal(lines[1], 'ro');
  assert.equal(lines[2], '700');
  assert.match(lines[3]!, /tmpfs.*size=1024k/);
  await fx.manager.delete(r.id);
});

test('netnsPath joins an existing network namespace', async () => {
  const ns = `gitcell-test-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const r = await runToEnd({ netnsPath: `/run/netns/${ns}`, command: ['sh', '-c', 'readlink /proc/self/ns/net'] });
    assert.equal(r.out, `net:[${fs.statSync(`/run/netns/${ns}`).ino}]`);
    await fx.manager.delete(r.id);
  } finally {
    execFileSync('ip', ['netns', 'delete', ns]);
  }
});

test('bad options are refused at the boundary, naming the field', async () => {
  const before = fx.manager.list().length;
  const cases: [Partial<ContainerOptions>, RegExp][] = [
    [{ memoryBytes: -1 }, /memoryBytes/],
    [{ name: '../evil' }, /name/],
    [{ mounts: [{ type: 'bind', source: 'relative', destination: '/x' }] }, /mounts\[0\]\.source/],
    [{ mounts: [{ type: 'tmpfs', destination: '/proc/x' }] }, /mounts\[0\]\.destination/],
    [{ env: ['NOEQUALS'] }, /env/],
    [{ cgroupParent: 'notgitcell/x' }, /cgroupParent/],
    [{ cgroupParent: 'gitcell/../x' }, /cgroupParent/],
  ];
  for (const [opts, re] of cases) {
    await assert.rejects(fx.manager.create({ image: fx.image, command: ['true'], ...opts }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_CONTAINER_INVALID', err.message);
      assert.match(err.message, re);
      return true;
    });
  }
  assert.equal(fx.manager.list().length, before, 'refused containers leave nothing behind');
});
