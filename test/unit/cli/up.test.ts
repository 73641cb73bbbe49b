// Pure parts of `gitcell up`: restart backoff, agent flags, the view's summary, re-sealing the
// sample Secrets with the cluster key (the re-sealed values must open with that key, the
// placeholders must not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { nextBackoff } from '../../../cli/up/supervisor.ts';
import { agentArgs, clusterCidr, nodeName } from '../../../cli/up/run.ts';
import { clusterCgroupParent, clusterTag, componentIdentity, nodeBridge, nodeCgroupParent, nodeNetnsPrefix, subnetBaseHolder } from '../../../cli/up/naming.ts';
import { netnsPath, validateCgroupParent } from '../../../runtime/index.ts';
import { summary } from '../../../cli/up/view.ts';
import { resealSecrets } from '../../../cli/up/repo.ts';
import { Keyring, openValue } from '../../../secrets/index.ts';

test('nextBackoff doubles from 1 s to 30 s and resets after a healthy minute', () => {
  assert.equal(nextBackoff(500, 10), 1000); // first crash: the floor
  assert.equal(nextBackoff(1000, 10), 2000);
  assert.equal(nextBackoff(16_000, 10), 30_000); // 32 s capped
  assert.equal(nextBackoff(30_000, 10), 30_000);
  assert.equal(nextBackoff(30_000, 60_000), 1000); // ran a minute: healthy again
});

test('agentArgs gives node i its own bridge, credentials, state and cleanup on exit', () => {
  const a = agentArgs({ i: 2, natsUrl: 'nats://127.0.0.1:1', seedFile: '/s/nodes/node-2/agent.nk', stateDir: '/s', capacity: 'cpu=1,memory=1Gi', prefix: 'gitcell_' });
  const flag = (f: string) => a[a.indexOf(f) + 1];
  assert.equal(nodeName(2), 'node-2');
  assert.equal(flag('--node'), 'node-2');
  assert.ok(!a.includes('--subnet'), 'the control plane allocates the subnet');
  assert.equal(clusterCidr('10.88'), '10.88.0.0/16');
  assert.equal(flag('--creds'), '/s/nodes/node-2/agent.nk');
  assert.equal(flag('--node-dir'), '/s/nodes/node-2');
  assert.equal(flag('--image-cache'), '/s/images');
  assert.match(flag('--bridge')!, /^gc[0-9a-f]{8}$/);
  assert.ok(a.includes('--stop-tasks-on-exit'));
  const b = agentArgs({ i: 2, natsUrl: 'x', seedFile: 'y', stateDir: '/other', capacity: 'c', prefix: 'p' });
  assert.notEqual(b[b.indexOf('--bridge') + 1], flag('--bridge'), 'two state dirs never share a bridge');
  assert.equal(flag('--cgroup-parent'), nodeCgroupParent('/s', 'node-2'));
  assert.equal(flag('--netns-prefix'), nodeNetnsPrefix('/s', 'node-2'));
  assert.notEqual(b[b.indexOf('--cgroup-parent') + 1], flag('--cgroup-parent'), 'two state dirs never share a cgroup parent');
  assert.notEqual(b[b.indexOf('--netns-prefix') + 1], flag('--netns-prefix'), 'two state dirs never share netns names');
});

test('machine-global names carry the cluster tag of the state dir; node names stay node-i', () => {
  const tag = clusterTag('/var/lib/a');
  assert.match(tag, /^[0-9a-f]{8}$/);
  assert.equal(clusterTag('/var/lib/a/'), tag, 'the same directory spelled differently is the same cluster');
  assert.equal(clusterTag('/var/lib/x/../a'), tag);
  assert.notEqual(clusterTag('/var/lib/b'), tag);
  // Same node name in two clusters: every machine-global name differs.
  const names = (dir: string) => [nodeBridge(dir, 'node-1'), nodeCgroupParent(dir, 'node-1'), nodeNetnsPrefix(dir, 'node-1')];
  const [a, b] = [names('/var/lib/a'), names('/var/lib/b')];
  for (let i = 0; i < a.length; i++) assert.notEqual(a[i], b[i]);
  assert.deepEqual(a, [nodeBridge('/var/lib/a', 'node-1'), `gitcell/up-${tag}/node-1`, `gc-${tag}-node-1-`]);
  assert.equal(clusterCgroupParent('/var/lib/a'), `gitcell/up-${tag}`);
  // Within one cluster, nodes differ too; and the names are valid where they are used.
  assert.notEqual(nodeBridge('/var/lib/a', 'node-1'), nodeBridge('/var/lib/a', 'node-2'));
  assert.notEqual(nodeNetnsPrefix('/var/lib/a', 'node-1'), nodeNetnsPrefix('/var/lib/a', 'node-2'));
  for (const node of ['node-1', 'node-200']) {
    assert.ok(nodeBridge('/var/lib/a', node).length <= 15, 'Linux interface names have at most 15 characters');
    assert.equal(validateCgroupParent(nodeCgroupParent('/var/lib/a', node)), nodeCgroupParent('/var/lib/a', node));
    netnsPath(`${nodeNetnsPrefix('/var/lib/a', node)}${'t'.repeat(128)}`); // validates the name, for the longest task id
  }
  // node-1's prefix must not be a prefix of node-10's names (each agent lists its own netns by prefix).
  assert.ok(!nodeNetnsPrefix('/var/lib/a', 'node-10').startsWith(nodeNetnsPrefix('/var/lib/a', 'node-1')));
});

test('componentIdentity is stable per host, cluster and component, and differs across any of them', () => {
  const id = componentIdentity('/var/lib/a', 'scheduler', 'host1');
  assert.equal(id, `host1-up-${clusterTag('/var/lib/a')}-scheduler`);
  assert.equal(componentIdentity('/var/lib/a/', 'scheduler', 'host1'), id, 'a restart under the same state dir keeps it');
  assert.notEqual(componentIdentity('/var/lib/b', 'scheduler', 'host1'), id, 'another cluster, even sharing NATS');
  assert.notEqual(componentIdentity('/var/lib/a', 'scheduler', 'host2'), id, 'the same path on another machine');
  assert.notEqual(componentIdentity('/var/lib/a', 'reconciler', 'host1'), id);
});

test('summary counts live nodes, tasks per state and ready tasks', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const node = (name: string, heartbeatAt: string) => ({ name, heartbeatAt }) as never;
  const task = (state?: string, ready = false, node?: string) => ({ spec: {} as never, ...(node ? { node } : {}), ...(state ? { status: { state, ready } as never } : {}) });
  const line = summary({
    nodes: [node('node-1', '2026-01-01T00:00:59Z'), node('node-2', '2026-01-01T00:00:00Z')], // node-2: 60 s old
    tasks: [task('running', true, 'node-1'), task('running', false, 'node-1'), task(undefined, false, 'node-1'), task()],
    appliedRevision: 'abcdef0123456789',
    now,
  });
  assert.equal(line, 'nodes 1/2 live; tasks 4 (bound 1, pending 1, running 2), 1 ready; applied abcdef012345');
});

test('resealSecrets replaces every sealed value with one the cluster key opens, keeping comments', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-up-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sample = await readFile(new URL('../../../sample-repo/secrets/web-credentials.yaml', import.meta.url), 'utf8');
  await writeFile(join(dir, 'web-credentials.yaml'), sample);
  await writeFile(join(dir, 'broken.yaml'), 'a: [');
  const ring = await Keyring.open(join(dir, 'state'), { modulusLength: 2048 });
  assert.equal(await resealSecrets(dir, ring), 2);
  const text = await readFile(join(dir, 'web-credentials.yaml'), 'utf8');
  assert.ok(text.startsWith('# PLACEHOLDER'), 'comments kept');
  const doc = load(text) as { spec: { encryptedData: Record<string, string> } };
  const before = load(sample) as { spec: { encryptedData: Record<string, string> } };
  for (const key of ['admin-password', 'api-token']) {
    assert.notEqual(doc.spec.encryptedData[key], before.spec.encryptedData[key]);
    const plain = openValue(doc.spec.encryptedData[key]!, { namespace: 'default', name: 'web-credentials', key }, (id) => ring.privateKey(id));
    assert.ok(plain.length >= 16, `${key} opens with the cluster key`);
    assert.throws(() => openValue(before.spec.encryptedData[key]!, { namespace: 'default', name: 'web-credentials', key }, (id) => ring.privateKey(id)));
  }
});

test('subnetBaseHolder finds another interface on the /16, never this cluster\'s own bridges', () => {
  const addr = (address: string) => ({ address, family: 'IPv4' as const, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` });
  const mine = nodeBridge('/tmp/cluster-a', nodeName(2));
  const other = nodeBridge('/tmp/cluster-b', nodeName(2));
  assert.equal(subnetBaseHolder('10.185', '/tmp/cluster-a', { lo: [addr('127.0.0.1')], [mine]: [addr('10.185.242.1')], eth0: [addr('10.1850.0.1'), addr('10.18.5.1')] }), undefined);
  assert.deepEqual(subnetBaseHolder('10.185', '/tmp/cluster-a', { [mine]: [addr('10.185.242.1')], [other]: [addr('10.185.242.1')] }), { iface: other, address: '10.185.242.1' });
  assert.deepEqual(subnetBaseHolder('10.185', '/tmp/cluster-b', { [mine]: [addr('10.185.242.1')] }), { iface: mine, address: '10.185.242.1' });
});
