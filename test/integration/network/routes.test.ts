// host-gw routes between two "machines": two node namespaces the test owns, linked by a veth pair
// (their shared underlay link), each with a task bridge and one task namespace. Task A reaches task
// B across the nodes without NAT only through the routes RouteProgrammer installs from the plan,
// and no longer once node B leaves the plan. Everything lives in "gc-" namespaces, removed after.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { planRoutes, RouteProgrammer } from '../../../runtime/network/index.ts';
import { runCommand } from '../../../runtime/network/exec.ts';
import { lineOf, makeNetLab } from '../../helpers/netlab.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';

requireRoot();
requireTools('ip');

const o = randomInt(200, 250);
const a = await makeNetLab('rta', `10.${o}.1.0/24`, ['task']);
const b = await makeNetLab('rtb', `10.${o}.2.0/24`, ['task']);
after(async () => {
  await a.destroy();
  await b.destroy();
});
const sh = async (args: string[]) => {
  const r = await runCommand('ip', args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
};
// The underlay: one veth pair, 10.o.0.1 on node A, 10.o.0.2 on node B.
const tag = randomBytes(3).toString('hex');
await sh(['link', 'add', `gcu${tag}a`, 'type', 'veth', 'peer', 'name', `gcu${tag}b`]);
await sh(['link', 'set', `gcu${tag}a`, 'netns', a.node]);
await sh(['link', 'set', `gcu${tag}b`, 'netns', b.node]);
for (const [lab, end, addr] of [[a, 'a', `10.${o}.0.1`], [b, 'b', `10.${o}.0.2`]] as const) {
  await sh(['-n', lab.node, 'addr', 'add', `${addr}/24`, 'dev', `gcu${tag}${end}`]);
  await sh(['-n', lab.node, 'link', 'set', `gcu${tag}${end}`, 'up']);
}

const SERVER = `require('http').createServer((q, r) => r.end(q.socket.remoteAddress)).listen(80, '0.0.0.0', () => console.log('ready'));`;
const CLIENT = `fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then((r) => r.text()).then((t) => console.log('ok ' + t), (e) => console.log('err ' + (e.cause?.code ?? e.name)));`;
await lineOf(b.spawn(b.leaves.get('task')!.netns, [process.execPath, '-e', SERVER]), /ready/);
const fetchB = () => lineOf(a.spawn(a.leaves.get('task')!.netns, [process.execPath, '-e', CLIENT, `http://${b.leaves.get('task')!.ip}/`]), /^(ok|err)/, 30_000);

test('task to task across nodes through host-gw routes, without NAT; a node that leaves takes its route with it', async () => {
  const nodes = [
    { name: 'a', subnet: a.subnet, addresses: [`10.${o}.0.1`] },
    { name: 'b', subnet: b.subnet, addresses: [`10.${o}.0.2`] },
    { name: 'far', subnet: `10.${o}.9.0/24`, addresses: ['10.255.255.1'] },
  ];
  assert.match(await fetchB(), /^err/, 'no route yet: B\'s task is unreachable');
  const planA = planRoutes('a', [{ address: `10.${o}.0.1`, cidr: `10.${o}.0.0/24` }], nodes);
  assert.deepEqual(planA.routes, [{ subnet: b.subnet, via: `10.${o}.0.2`, node: 'b' }]);
  assert.deepEqual(planA.overlay, [{ node: 'far', subnet: `10.${o}.9.0/24`, underlay: '10.255.255.1' }], 'a node on no shared link goes through the overlay');
  assert.deepEqual(planRoutes('a', [], [{ name: 'mute', subnet: `10.${o}.8.0/24`, addresses: [] }]).unreachable.map((u) => u.node), ['mute']);
  const ra = new RouteProgrammer({ netns: a.node });
  const rb = new RouteProgrammer({ netns: b.node });
  assert.deepEqual(await ra.apply(planA.routes), { added: [b.subnet], removed: [] });
  await rb.apply(planRoutes('b', [{ address: `10.${o}.0.2`, cidr: `10.${o}.0.0/24` }], nodes).routes);
  assert.deepEqual(await ra.apply(planA.routes), { added: [], removed: [] }, 'a second apply changes nothing');

  assert.equal(await fetchB(), `ok ${a.leaves.get('task')!.ip}`, 'B sees A\'s task address: no NAT between tasks');

  // Node B leaves: A's route to it goes; the routes A did not make stay.
  await sh(['-n', a.node, 'route', 'add', '192.0.2.0/24', 'via', `10.${o}.0.2`]);
  const gone = planRoutes('a', [{ address: `10.${o}.0.1`, cidr: `10.${o}.0.0/24` }], nodes.filter((n) => n.name !== 'b'));
  assert.deepEqual(await ra.apply(gone.routes), { added: [], removed: [b.subnet] });
  assert.deepEqual([...(await ra.current()).keys()], []);
  assert.match((await runCommand('ip', ['-n', a.node, 'route', 'show', '192.0.2.0/24'])).stdout, /192\.0\.2\.0\/24 via/);
  assert.match(await fetchB(), /^err/);
  await rb.removeAll();
});
