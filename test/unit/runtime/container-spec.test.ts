import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLogLine } from '../../../runtime/index.ts';
import { buildSpec, defaultSpec, defaultSeccomp, allowedSyscalls, applyCapabilities, clampRlimits, parseProcLimits, DENIED_SYSCALLS, DEFAULT_CAPABILITIES, DEFAULT_RLIMITS, overlayMount, MAX_MOUNT_OPTIONS, validateOptions, mergeEnv, resolveUser, parsePasswd, parseGroup, hostsFile, resolvConf, parseOomKills, cgroupsPathOf, type ContainerSpec } from '../../../runtime/container/index.ts';
import { parseGetfattr } from '../../../runtime/snapshot/fsops.ts';
import { isGitcellError } from '../../../lib/errors.ts';

const task = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  rootfs: '/r/rootfs', args: ['sh'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, hostname: 'h', cgroupsPath: '/gitcell/x', ...over,
});

test('defaultSpec is the one secure base: namespaces, caps, no_new_privileges, masks, seccomp', () => {
  const s = defaultSpec();
  assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.deepEqual(s.process.capabilities.bounding, [...DEFAULT_CAPABILITIES]);
  assert.ok(!(s.process.capabilities.bounding as string[]).includes('CAP_SYS_ADMIN'));
  assert.equal(s.process.noNewPrivileges, true);
  assert.ok(s.linux.maskedPaths.includes('/proc/kcore'));
  assert.ok(s.linux.readonlyPaths.includes('/proc/sys'));
  // An allow list: everything not named fails with EPERM, and none of the dangerous calls is named.
  const allowed = allowedSyscalls(s.linux.seccomp!);
  for (const sc of ['mount', 'umount2', 'kexec_load', 'init_module', 'finit_module', 'delete_module', 'bpf', 'ptrace', 'keyctl', 'add_key', 'request_key', 'reboot', 'swapon', 'pivot_root']) {
    assert.ok(!allowed.has(sc), `${sc} is denied`);
  }
  for (const sc of DENIED_SYSCALLS) assert.ok(!allowed.has(sc), `${sc} is never allowed`);
  assert.equal(s.linux.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(s.linux.seccomp!.defaultErrnoRet, 1, 'EPERM, as Docker');
  assert.deepEqual(defaultSeccomp(), s.linux.seccomp);
  for (const sc of ['read', 'write', 'execve', 'futex', 'epoll_wait', 'clone', 'socket', 'chroot']) assert.ok(allowed.has(sc), `${sc} is allowed`);
  assert.deepEqual(s.process.rlimits, [...DEFAULT_RLIMITS], 'rlimits of its own, none inherited from the agent');
  assert.notEqual(defaultSpec(), defaultSpec(), 'a fresh object each call: callers may mutate theirs');
});

test('rlimits: the defaults, hard limits lowered to what the agent may set (no CAP_SYS_RESOURCE)', () => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units     \nMax core file size        0                    unlimited            bytes     \nMax processes             96367                96367                processes \nMax open files            20000                20000                files     \n';
  const ceilings = parseProcLimits(limits);
  assert.equal(ceilings.get('RLIMIT_NOFILE'), 20000);
  assert.equal(ceilings.get('RLIMIT_CORE'), Infinity);
  assert.deepEqual(clampRlimits(DEFAULT_RLIMITS, ceilings), [
    { type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 },
    { type: 'RLIMIT_NPROC', soft: 16384, hard: 16384 },
    { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
  ]);
  assert.deepEqual(clampRlimits(DEFAULT_RLIMITS, new Map()), [...DEFAULT_RLIMITS], 'unlimited: containerd\'s 1024:1048576');
  assert.deepEqual(buildSpec(task({ rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 2 }] })).process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 2 }]);
});

test('capabilities: drop ALL then add from the safe set; SYS_ADMIN may not be added; the seccomp profile follows the set', () => {
  assert.deepEqual(applyCapabilities(['ALL'], ['NET_BIND_SERVICE']), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(applyCapabilities(['net_raw', 'CAP_MKNOD']).includes('CAP_NET_RAW'), false);
  assert.throws(() => applyCapabilities([], ['SYS_ADMIN']), (e: unknown) => isGitcellError(e, 'E_CONTAINER_INVALID') && /capAdd: "SYS_ADMIN" may not be added/.test((e as Error).message));
  assert.throws(() => applyCapabilities(['NOT_A_CAP']), (e: unknown) => isGitcellError(e, 'E_CONTAINER_INVALID') && /unknown capability/.test((e as Error).message));
  assert.throws(() => validateOptions({ image: 'x', capAdd: ['CAP_SYS_PTRACE'] }), (e: unknown) => isGitcellError(e, 'E_CONTAINER_INVALID'));
  const s = buildSpec(task({ capabilities: applyCapabilities(['ALL'], ['NET_BIND_SERVICE']), readonlyRootfs: true }));
  assert.deepEqual(s.process.capabilities.bounding, ['CAP_NET_BIND_SERVICE']);
  assert.equal(s.root.readonly, true);
  // chroot is allowed only with CAP_SYS_CHROOT in the bounding set, as in Docker's profile
  assert.equal(allowedSyscalls(s.linux.seccomp!).has('chroot'), false);
  assert.equal(allowedSyscalls(buildSpec(task()).linux.seccomp!).has('chroot'), true);
});

test('buildSpec adds the task without mutating the default', () => {
  const base = defaultSpec();
  const before = JSON.stringify(base);
  const s = buildSpec(task({ memoryBytes: 64 << 20, cpuMillis: 500, pidsLimit: 50, netnsPath: '/run/netns/n1', uid: 1000, gid: 1000, additionalGids: [10] }), base);
  assert.equal(JSON.stringify(base), before);
  assert.deepEqual(s.linux.resources.memory, { limit: 64 << 20, swap: 64 << 20 });
  // 500 millicores of a 100 ms period = 50 ms quota; shares = 500 * 1024 / 1000 = 512
  assert.deepEqual(s.linux.resources.cpu, { shares: 512, quota: 50_000, period: 100_000 });
  assert.deepEqual(s.linux.resources.pids, { limit: 50 });
  assert.deepEqual(s.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/run/netns/n1' });
  assert.deepEqual(s.process.user, { uid: 1000, gid: 1000, additionalGids: [10] });
  assert.deepEqual(s.process.capabilities.effective, [], 'a non-root user starts without effective capabilities');
  assert.equal(s.linux.cgroupsPath, '/gitcell/x');
  const t = buildSpec(task({ mounts: [{ type: 'tmpfs', destination: '/run/secrets', mode: 0o700, sizeBytes: 1024 }, { type: 'bind', source: '/src', destination: '/dst' }] }));
  assert.deepEqual(t.mounts.at(-2), { destination: '/run/secrets', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=0700', 'size=1024'] });
  assert.deepEqual(t.mounts.at(-1), { destination: '/dst', type: 'bind', source: '/src', options: ['rbind', 'nosuid', 'nodev', 'ro'] });
});

test('overlayMount lists the init layer first, then image layers top to bottom, and names its owner', () => {
  const p = overlayMount({ id: 'abc', lowers: ['/s/l0', '/s/l1', '/s/l2'], init: '/c/init', upper: '/c/upper', work: '/c/work', target: '/c/rootfs' });
  assert.equal(p.source, 'gitcell-abc');
  assert.equal(p.options, 'lowerdir=/c/init:/s/l2:/s/l1:/s/l0,upperdir=/c/upper,workdir=/c/work,index=off,redirect_dir=off,metacopy=off');
  assert.equal(p.cwd, undefined);
  // 40 layers of long absolute paths overflow a page: the plan falls back to paths relative to the root
  const lowers = Array.from({ length: 40 }, (_, i) => `/var/lib/gitcell/runtime/snapshots/${String(i).padStart(64, '0')}/fs`);
  const long = overlayMount({ id: 'x', lowers, init: '/var/lib/gitcell/runtime/containers/x/init', upper: '/var/lib/gitcell/runtime/containers/x/upper', work: '/var/lib/gitcell/runtime/containers/x/work', target: '/t', base: '/var/lib/gitcell/runtime' });
  assert.equal(long.cwd, '/var/lib/gitcell/runtime');
  assert.ok(long.options.length <= MAX_MOUNT_OPTIONS);
  assert.match(long.options, /^lowerdir=containers\/x\/init:snapshots\//);
  assert.throws(() => overlayMount({ id: 'y', lowers: ['/a,b'], init: '/i', upper: '/u', work: '/w', target: '/t' }), (e: unknown) => isGitcellError(e, 'E_MOUNT_BAD_PATH'));
});

test('resolveUser handles names, numbers, groups and refuses unknown names', () => {
  const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\nweb:x:100:101:web:/srv:/bin/sh\nbroken line\n');
  const groups = parseGroup('root:x:0:\nwww:x:101:\nextra:x:200:web,other\n');
  assert.deepEqual(resolveUser(undefined, passwd, groups), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
  assert.deepEqual(resolveUser('web', passwd, groups), { uid: 100, gid: 101, additionalGids: [200], home: '/srv' });
  assert.deepEqual(resolveUser('web:root', passwd, groups), { uid: 100, gid: 0, additionalGids: [200], home: '/srv' });
  assert.deepEqual(resolveUser('1234:5678', passwd, groups), { uid: 1234, gid: 5678, additionalGids: [], home: '/' });
  assert.deepEqual(resolveUser('100', passwd, groups).gid, 101, 'a known uid takes its primary group');
  for (const bad of ['ghost', 'web:nogroup', 'a:b:c', ':1', '99999999999']) {
    assert.throws(() => resolveUser(bad, passwd, groups), (e: unknown) => isGitcellError(e, 'E_CONTAINER_USER'), bad);
  }
});

test('validateOptions and mergeEnv', () => {
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3']), ['PATH=/bin', 'A=2', 'B=3']);
  const ok = validateOptions({ image: 'x', mounts: [{ type: 'bind', source: '/a/./b', destination: '/c/' }] });
  assert.deepEqual(ok.mounts, [{ type: 'bind', source: '/a/b', destination: '/c/', readonly: true }]);
  for (const [opts, field] of [
    [{ image: '' }, 'image'], [{ image: 'x', memoryBytes: 100 }, 'memoryBytes'], [{ image: 'x', cpuMillis: 1.5 }, 'cpuMillis'],
    [{ image: 'x', hostname: 'bad host' }, 'hostname'], [{ image: 'x', cwd: 'rel' }, 'cwd'], [{ image: 'x', command: ['a\0b'] }, 'command'],
    [{ image: 'x', mounts: [{ type: 'bind', source: '/a/../etc', destination: '/x' }] }, 'mounts[0].source'],
    [{ image: 'x', mounts: [{ type: 'bind', source: '/a', destination: '/' }] }, 'mounts[0].destination'],
    [{ image: 'x', mounts: [{ type: 'nfs', destination: '/x' }] }, 'mounts[0].type'],
    [{ image: 'x', dns: ['8.8.8.8; rm -rf'] }, 'dns'],
  ] as const) {
    assert.throws(() => validateOptions(opts as never), (e: unknown) => isGitcellError(e, 'E_CONTAINER_INVALID') && (e.data as { field: string }).field === field, field);
  }
});

test('init layer files: hosts and resolv.conf without loopback resolvers', () => {
  assert.equal(hostsFile('web', { db: '10.0.0.2' }), '127.0.0.1\tlocalhost\n127.0.1.1\tweb\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\tdb\n');
  assert.equal(resolvConf(undefined, 'nameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch lan\n'), 'nameserver 10.0.0.1\nsearch lan\n');
  assert.equal(resolvConf(['1.1.1.1']), 'nameserver 1.1.1.1\n');
  assert.equal(resolvConf(['10.88.0.1'], '', ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ['ndots:5']), 'nameserver 10.88.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
});

test('small parsers: OOM counters, cgroup paths, log lines, getfattr output', () => {
  assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), 3);
  assert.equal(parseOomKills('low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\noom_group_kill 0\n'), 1);
  assert.equal(parseOomKills(''), 0);
  assert.equal(cgroupsPathOf('gitcell/node-1', 'abc'), '/gitcell/node-1/abc');
  assert.throws(() => cgroupsPathOf('system.slice', 'abc'), (e: unknown) => isGitcellError(e, 'E_CONTAINER_INVALID'));
  assert.deepEqual(parseLogLine('stdout', '2026-01-01T00:00:00Z hello world'), { stream: 'stdout', time: '2026-01-01T00:00:00Z', text: 'hello world' });
  assert.deepEqual(parseGetfattr('# file: /u/a\ntrusted.overlay.opaque="y"\n\n# file: /u/we ird\\134n\ntrusted.overlay.opaque="y"\n'), ['/u/a', '/u/we ird\\n']);
});
