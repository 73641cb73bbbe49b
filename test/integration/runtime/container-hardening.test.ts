// Container hardening against real runc, close to Kubernetes' restricted profile: the allow-list
// seccomp profile (a static probe makes the calls busybox cannot), runAsNonRoot / runAsUser /
// runAsGroup, a read-only root file system, capabilities dropped and added from the safe set, and
// rlimits of the container's own instead of the agent's.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { useRuntimeFixture, scratch } from '../../helpers/runtime.ts';
import { buildSyscallProbe, parseProbe } from '../../helpers/syscall-probe.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import type { ContainerOptions } from '../../../runtime/index.ts';

const fx = useRuntimeFixture('hardening');
const tmp = scratch();
let probe: string;
before(async () => {
  probe = buildSyscallProbe(await tmp.dir('gitcell-probe-'));
});

async function runToEnd(opts: Omit<ContainerOptions, 'image'>): Promise<{ exitCode: number; out: string; err: string }> {
  const c = await fx.manager.run({ image: fx.image, ...opts });
  const exit = await fx.manager.wait(c.id, { timeoutMs: 60_000 });
  const lines = fx.manager.logs(c.id);
  await fx.manager.delete(c.id);
  return { exitCode: exit.exitCode, out: lines.filter((l) => l.stream === 'stdout').map((l) => l.text).join('\n'), err: lines.filter((l) => l.stream === 'stderr').map((l) => l.text).join('\n') };
}

test('seccomp is an allow list: keyctl, ptrace, unshare, mount, io_uring, vsock and address-randomisation off fail with EPERM; ordinary calls work', async () => {
  const r = await runToEnd({ mounts: [{ type: 'bind', source: dirname(probe), destination: '/probe' }], command: ['/probe/syscall-probe'] });
  assert.equal(r.exitCode, 0, r.err);
  const got = parseProbe(r.out);
  assert.equal(got.getpid, 'ok');
  assert.equal(got.socket_inet, 'ok');
  for (const call of ['keyctl', 'add_key', 'ptrace', 'unshare_user', 'unshare_net', 'mount', 'personality_no_randomize', 'socket_vsock', 'io_uring_setup', 'userfaultfd', 'name_to_handle_at']) {
    assert.equal(got[call], 'EPERM', `${call} is refused by seccomp (got ${got[call]})`);
  }
});

test('the x32 ABI is refused outright: its calls hit the filter\'s bad-architecture action (SIGSYS)', async () => {
  const r = await runToEnd({ mounts: [{ type: 'bind', source: dirname(probe), destination: '/probe' }], command: ['/probe/syscall-probe', 'x32'] });
  assert.notEqual(parseProbe(r.out).x32_getpid, 'ok');
  assert.equal(r.exitCode, 128 + 31, `killed by SIGSYS, not answered (output: ${r.out})`);
});

test('runAsNonRoot refuses an image whose user is root, with a clear reason; runAsUser and runAsGroup set the ids', async () => {
  await assert.rejects(fx.manager.create({ image: fx.image, runAsNonRoot: true, command: ['true'] }), (e) => {
    assert.ok(isGitcellError(e, 'E_CONTAINER_RUNASNONROOT'), String(e));
    assert.match(e.message, /runAsNonRoot is set but image .*busybox:test runs as root/);
    return true;
  });
  await assert.rejects(fx.manager.create({ image: fx.image, runAsNonRoot: true, runAsUser: 0, command: ['true'] }), (e) => isGitcellError(e, 'E_CONTAINER_RUNASNONROOT') && /runAsUser is 0/.test(e.message));
  assert.deepEqual(fx.manager.list(), [], 'nothing half-created is left');
  const r = await runToEnd({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 2000, command: ['sh', '-c', 'id -u; id -g; grep CapEff /proc/self/status'] });
  const [uid, gid, capEff] = r.out.split('\n');
  assert.equal(uid, '1000');
  assert.equal(gid, '2000');
  assert.match(capEff!, /CapEff:\s*0+$/, 'a non-root user has no effective capabilities');
});

test('readOnlyRootFilesystem: writes to the root fail, /dev/shm stays writable', async () => {
  const r = await runToEnd({ readOnlyRootfs: true, command: ['sh', '-c', 'touch /x 2>&1 || echo root-ro; echo y > /etc/hostname 2>&1 || echo etc-ro; touch /dev/shm/ok && echo shm-rw'] });
  assert.match(r.out, /Read-only file system/);
  assert.match(r.out, /root-ro/);
  assert.match(r.out, /etc-ro/);
  assert.match(r.out, /shm-rw/);
  const rw = await runToEnd({ command: ['sh', '-c', 'touch /x && echo root-rw'] });
  assert.equal(rw.out, 'root-rw', 'the default root stays writable');
});

test('capabilities: drop ALL + add NET_BIND_SERVICE leaves exactly that one; a dropped one is absent from CapEff and CapBnd; SYS_ADMIN cannot be added', async () => {
  const caps = (out: string, field: string): bigint => BigInt(`0x${new RegExp(`${field}:\\s*([0-9a-f]+)`).exec(out)![1]}`);
  const only = await runToEnd({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'], command: ['sh', '-c', 'grep -E "CapEff|CapBnd" /proc/self/status'] });
  const CAP_NET_BIND_SERVICE = 10n;
  assert.equal(caps(only.out, 'CapEff'), 1n << CAP_NET_BIND_SERVICE);
  assert.equal(caps(only.out, 'CapBnd'), 1n << CAP_NET_BIND_SERVICE);
  const noRaw = await runToEnd({ capDrop: ['NET_RAW'], command: ['sh', '-c', 'grep -E "CapEff|CapBnd" /proc/self/status; ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && echo ping-ok || echo ping-denied'] });
  const CAP_NET_RAW = 13n;
  assert.equal((caps(noRaw.out, 'CapEff') >> CAP_NET_RAW) & 1n, 0n);
  assert.equal((caps(noRaw.out, 'CapBnd') >> CAP_NET_RAW) & 1n, 0n);
  assert.equal(caps(noRaw.out, 'CapEff'), 0xa80425fbn & ~(1n << CAP_NET_RAW), 'Docker\'s set minus NET_RAW');
  assert.match(noRaw.out, /ping-denied/);
  await assert.rejects(fx.manager.create({ image: fx.image, capAdd: ['SYS_ADMIN'], command: ['true'] }), (e) => isGitcellError(e, 'E_CONTAINER_INVALID') && /capAdd: "SYS_ADMIN" may not be added/.test(e.message));
});

test('rlimits are the container defaults, not inherited from the agent', async () => {
  const mine = fs.readFileSync('/proc/self/limits', 'utf8');
  const r = await runToEnd({ command: ['cat', '/proc/self/limits'] });
  const row = (text: string, name: string): string[] => text.split('\n').find((l) => l.startsWith(name))!.slice(26).trim().split(/\s+/).slice(0, 2);
  // The hard open-files limit is containerd's 1048576 unless this process may not raise its own
  // (root without CAP_SYS_RESOURCE, as on this machine): then it is the agent's hard limit.
  const myHard = row(mine, 'Max open files')[1]!;
  const hard = myHard === 'unlimited' || Number(myHard) >= 1048576 ? '1048576' : myHard;
  assert.deepEqual(row(r.out, 'Max open files'), ['1024', hard]);
  assert.deepEqual(row(r.out, 'Max processes'), ['16384', '16384']);
  assert.deepEqual(row(r.out, 'Max core file size'), ['0', '0']);
  assert.notEqual(row(mine, 'Max open files')[0], '1024', 'the agent (this test process) has another soft limit, so it was not inherited');
  assert.notDeepEqual(row(mine, 'Max processes'), ['16384', '16384']);
});
