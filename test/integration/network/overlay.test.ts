// The VXLAN overlay and the outbound masquerade between two "machines" on no shared link: node
// namespaces A and C each on an underlay segment of its own, joined by a router namespace R that
// forwards between them (the underlay routes, nothing else). A's task reaches C's task without NAT
// only through the vxlan devices, FDB/neighbour entries and routes programmed from the plan, and no
// longer once C leaves; A's task reaching R (the outside world) is masqueraded to A's address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { planRoutes, RouteProgrammer, VxlanDevice, vtepOf } from '../../../runtime/network/index.ts';
import { NftApplier } from '../../../runtime/services/index.ts';
import { runCommand } from '../../../runtime/network/exec.ts';
import type { NodeRecord } from '../../../api/index.ts';
import { ClusterNetwork } from '../../../agent/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { lineOf, makeNetLab } from '../../helpers/netlab.ts';
import { openTestStore } from '../../helpers/store.ts';
import { waitFor } from '../../helpers/wait.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';

requireRoot();
requireTools('ip', 'bridge', 'nft');

const o = randomInt(200, 250);
const a = await makeNetLab('ova', `10.${o}.1.0/24`, ['task']);
const c = await makeNetLab('ovc', `10.${o}.2.0/24`, ['task']);
const tag = randomBytes(3).toString('hex');
const router = `gc-ovr-${tag}`;
const nft = new NftApplier({ table: `gc_ov${tag}`, netns: a.node });
after(async () => {
  nft.close();
  await a.destroy();
  await c.destroy();
  await runCommand('ip', ['netns', 'delete', router], { timeoutMs: 30_000 });
});
const sh = async (args: string[]) => {
  const r = await runCommand('ip', args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
};
// Underlay: A 10.o.32.1 -- R 10.o.32.254 | R 10.o.48.254 -- C 10.o.48.1.
await sh(['netns', 'add', router]);
await sh(['-n', router, 'link', 'set', 'lo', 'up']);
await sh(['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
for (const [lab, seg, end] of [[a, 32, 'a'], [c, 48, 'c']] as const) {
  await sh(['link', 'add', `gco${tag}${end}`, 'type', 'veth', 'peer', 'name', `gcr${tag}${end}`]);
  await sh(['link', 'set', `gco${tag}${end}`, 'netns', lab.node]);
  await sh(['link', 'set', `gcr${tag}${end}`, 'netns', router]);
  await sh(['-n', lab.node, 'addr', 'add', `10.${o}.${seg}.1/24`, 'dev', `gco${tag}${end}`]);
  await sh(['-n', lab.node, 'link', 'set', `gco${tag}${end}`, 'up']);
  await sh(['-n', router, 'addr', 'add', `10.${o}.${seg}.254/24`, 'dev', `gcr${tag}${end}`]);
  await sh(['-n', router, 'link', 'set', `gcr${tag}${end}`, 'up']);
  await sh(['-n', lab.node, 'route', 'add', `10.${o}.${seg === 32 ? 48 : 32}.0/24`, 'via', `10.${o}.${seg}.254`]);
}

const SERVER = `require('http').createServer((q, r) => r.end(q.socket.remoteAddress)).listen(80, '0.0.0.0', () => console.log('ready'));`;
const CLIENT = `fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then((r) => r.text()).then((t) => console.log('ok ' + t), (e) => console.log('err ' + (e.cause?.code ?? e.name)));`;
const UDP_LISTENER = `const d = require('dgram'); let n = 0; for (const port of [4789, 4790]) { const s = d.createSocket('udp4'); s.on('message', (m) => console.log('got ' + m)); s.bind(port, () => ++n === 2 && console.log('ready')); }`;
const UDP_SENDER = `const s = require('dgram').createSocket('udp4'); let i = 0; setInterval(() => { s.send('vx', 4789, process.argv[1]); s.send('ctl', 4790, process.argv[1]); if (++i > 50) process.exit(0); }, 100);`;
const spawnServer = (lab: typeof a, netns: string) => lineOf(lab.spawn(netns, [process.execPath, '-e', SERVER]), /ready/);
await spawnServer(c, c.leaves.get('task')!.netns);
await spawnServer(c, router);
const fetchFromA = (url: string) => lineOf(a.spawn(a.leaves.get('task')!.netns, [process.execPath, '-e', CLIENT, url]), /^(ok|err)/, 30_000);

test('task to task across nodes on no shared link through the VXLAN overlay, without NAT; the outside world sees the node; a node that leaves takes its entries', async () => {
  const nodes = [
    { name: 'a', subnet: a.subnet, addresses: [`10.${o}.32.1`] },
    { name: 'c', subnet: c.subnet, addresses: [`10.${o}.48.1`] },
  ];
  const links = (seg: number) => [{ address: `10.${o}.${seg}.1`, cidr: `10.${o}.${seg}.0/24` }];
  const taskC = `http://${c.leaves.get('task')!.ip}/`;
  assert.match(await fetchFromA(taskC), /^err/, 'no overlay yet');
  const planA = planRoutes('a', links(32), nodes);
  assert.deepEqual(planA.routes, []);
  assert.deepEqual(planA.overlay, [{ node: 'c', subnet: c.subnet, underlay: `10.${o}.48.1` }]);
  const program = async (lab: typeof a, seg: number, self: string, peers: typeof nodes) => {
    const vx = new VxlanDevice({ name: 'gcvx0', vni: 1, local: `10.${o}.${seg}.1`, subnet: lab.subnet, netns: lab.node });
    await vx.ensure();
    const routes = await vx.apply(planRoutes(self, links(seg), peers).overlay);
    return { vx, rp: new RouteProgrammer({ netns: lab.node }), routes };
  };
  const pa = await program(a, 32, 'a', nodes);
  const pc = await program(c, 48, 'c', nodes);
  assert.deepEqual(await pa.rp.apply(pa.routes), { added: [c.subnet], removed: [] });
  await pc.rp.apply(pc.routes);
  assert.deepEqual(await pa.rp.apply(pa.routes), { added: [], removed: [] }, 'a second apply changes nothing');
  await pa.vx.ensure(); // idempotent
  const fdb = (await runCommand('ip', ['netns', 'exec', a.node, 'bridge', 'fdb', 'show', 'dev', 'gcvx0'])).stdout;
  assert.match(fdb, new RegExp(`${vtepOf(c.subnet).mac} dst 10\\.${o}\\.48\\.1`));

  // Masquerade leaving the cluster CIDR only: tasks keep their addresses between each other.
  await nft.apply({ services: [], local: { subnet: a.subnet, bridge: a.bridge }, clusterCidr: `10.${o}.0.0/20`, masqueradeOutbound: true });
  assert.equal(await fetchFromA(taskC), `ok ${a.leaves.get('task')!.ip}`, 'C sees A\'s task address: no NAT between tasks');
  assert.equal(await fetchFromA(`http://10.${o}.32.254/`), `ok 10.${o}.32.1`, 'the outside world sees node A\'s address');

  // The attack: A's task speaks VXLAN to the underlay (another machine would decapsulate its frame
  // with any inner source it wrote). Dropped at node A; the same datagrams to another port pass.
  const listener = c.spawn(router, [process.execPath, '-e', UDP_LISTENER]);
  let heard = '';
  listener.stdout!.on('data', (d: Buffer) => (heard += d.toString()));
  await waitFor('the underlay listener', () => heard.includes('ready'), 30_000);
  const sender = a.spawn(a.leaves.get('task')!.netns, [process.execPath, '-e', UDP_SENDER, `10.${o}.32.254`]);
  await waitFor('the control datagrams', () => (heard.match(/got ctl/g) ?? []).length >= 3, 30_000);
  sender.kill('SIGKILL');
  listener.kill('SIGKILL');
  assert.doesNotMatch(heard, /got vx/, 'a task\'s datagram to the VXLAN port never leaves its node');

  // C leaves: its neighbour, FDB entry and route go.
  const gone = await pa.vx.apply(planRoutes('a', links(32), nodes.filter((n) => n.name !== 'c')).overlay);
  assert.deepEqual(await pa.rp.apply(gone), { added: [], removed: [c.subnet] });
  assert.doesNotMatch((await runCommand('ip', ['netns', 'exec', a.node, 'bridge', 'fdb', 'show', 'dev', 'gcvx0'])).stdout, /dst/);
  assert.equal((await runCommand('ip', ['-n', a.node, 'neigh', 'show', 'dev', 'gcvx0'])).stdout.trim(), '');
  assert.match(await fetchFromA(taskC), /^err/);
  await pa.vx.remove();
  await pc.vx.remove();
  await pa.vx.remove(); // idempotent
});

test('each agent programs host-gw and overlay routes from the nodes and subnets buckets; a node that leaves loses them everywhere; a node leaving for good removes its own', async (t) => {
  const { store } = await openTestStore(t, { tag: 'ovl' });
  const rec = (name: string, address: string): NodeRecord => ({
    name, labels: {}, taints: [], capacity: { cpuMillis: 1, memoryBytes: 1 }, allocatable: { cpuMillis: 1, memoryBytes: 1 }, addresses: [address],
    runtime: { runc: '', kernel: '', agentVersion: '' }, images: [], startedAt: '', heartbeatAt: new Date().toISOString(),
  });
  const peerB = `10.${o}.3.0/24`;
  for (const [name, address, subnet] of [['a', `10.${o}.32.1`, a.subnet], ['c', `10.${o}.48.1`, c.subnet], ['b', `10.${o}.32.7`, peerB]] as const) {
    await store.nodes.put(name, rec(name, address));
    await store.subnets.put(name, { node: name, subnet, updatedAt: '' });
  }
  const start = (node: string, lab: typeof a) => {
    const n = new ClusterNetwork({ node, subnet: lab.subnet, nodes: store.nodes, subnets: store.subnets, vxlanName: 'gcvx1', netns: lab.node, log: silentLogger(), tickMs: 60_000 });
    n.start();
    return n;
  };
  const na = start('a', a);
  const nc = start('c', c);
  t.after(() => nc.stop({ remove: true }));
  const routesOf = async (lab: typeof a) => (await runCommand('ip', ['-n', lab.node, 'route', 'show', 'proto', '211'])).stdout;
  const programmed = await waitFor('A routes to B (host-gw) and C (overlay)', async () => {
    const r = await routesOf(a);
    return r.includes(`${peerB} via 10.${o}.32.7`) && r.includes(`${c.subnet} via ${vtepOf(c.subnet).address} dev gcvx1`) ? r : undefined;
  }, 60_000);
  assert.doesNotMatch(programmed, new RegExp(a.subnet.replace(/\./g, '\\.')), 'no route to its own subnet');
  await waitFor('C routes to A (overlay)', async () => (await routesOf(c)).includes(`${a.subnet} via ${vtepOf(a.subnet).address} dev gcvx1`), 60_000);
  const taskC = `http://${c.leaves.get('task')!.ip}/`;
  assert.equal(await fetchFromA(taskC), `ok ${a.leaves.get('task')!.ip}`, 'through the overlay the agents programmed, without NAT');
  assert.deepEqual(na.last, { hostGw: ['b'], overlay: ['c'], unreachable: [] });

  // C's record goes (it left): A drops its route, neighbour and FDB entry; B's allocation goes: its route too.
  await store.nodes.delete('c');
  await store.subnets.delete('b');
  await waitFor('A without routes to B and C', async () => (await routesOf(a)).trim() === '', 60_000);
  assert.match(await fetchFromA(taskC), /^err/);
  assert.equal((await runCommand('ip', ['-n', a.node, 'link', 'show', 'gcvx1'])).code, 1, 'no peer needs the overlay: the device went');
  // A leaves for good: nothing of it stays.
  await store.nodes.put('c', rec('c', `10.${o}.48.1`));
  await waitFor('A routes to C again', async () => (await routesOf(a)).includes(c.subnet), 60_000);
  await na.stop({ remove: true });
  assert.equal((await routesOf(a)).trim(), '');
  assert.equal((await runCommand('ip', ['-n', a.node, 'link', 'show', 'gcvx1'])).code, 1);
});
