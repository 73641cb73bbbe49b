// Real nftables in a node namespace the test owns: HTTP through a VIP to servers in their own
// namespaces, an endpoint change that leaves established connections alone, NodePort, and
// a service without endpoints refusing at once. Everything lives in "gc-" namespaces, removed after.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { NftApplier, type LbService } from '../../../runtime/services/index.ts';
import { lineOf, makeNetLab } from '../../helpers/netlab.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { waitFor } from '../../helpers/wait.ts';

requireRoot();
requireTools('nft', 'ip');

const subnet = `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`;
const lab = await makeNetLab('nft', subnet, ['a', 'b', 'c', 'client']);
after(() => lab.destroy());

const VIP = '10.96.7.7';
const SERVER = `
const name = process.argv[1];
require('http').createServer((q, r) => r.end(name)).listen(80, '0.0.0.0');
require('net').createServer((s) => s.on('data', () => s.write(name + '\\n'))).listen(81, '0.0.0.0', () => console.log('ready'));`;
// The client: "http URL N" prints the answers as JSON; "hold HOST PORT" keeps one TCP connection
// and answers each stdin line with the server's reply on that same connection.
const CLIENT = `
const [mode, a, b] = process.argv.slice(1);
if (mode === 'http') {
  (async () => {
    const out = [];
    for (let i = 0; i < Number(b); i++) {
      try { out.push(await (await fetch(a, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) })).text()); }
      catch (e) { out.push('ERR ' + (e.cause?.code ?? e.message)); }
    }
    console.log(JSON.stringify(out));
  })();
} else {
  const s = require('net').connect(Number(b), a, () => s.write('1\\n'));
  s.on('data', (d) => console.log('reply ' + d.toString().trim()));
  s.on('error', (e) => console.log('error ' + e.message));
  s.on('close', () => console.log('closed'));
  process.stdin.on('data', () => s.write('again\\n'));
}`;

const ip = (n: string) => lab.leaves.get(n)!.ip;
const servers = ['a', 'b', 'c'].map((n) => {
  const child = lab.spawn(lab.leaves.get(n)!.netns, [process.execPath, '-e', SERVER, n]);
  return lineOf(child, /ready/);
});
await Promise.all(servers);

async function http(url: string, n: number): Promise<string[]> {
  const child = lab.spawn(lab.leaves.get('client')!.netns, [process.execPath, '-e', CLIENT, 'http', url, String(n)]);
  return JSON.parse(await lineOf(child, /^\[/, 120_000)) as string[];
}

function web(endpoints: string[]): LbService[] {
  return [{
    id: 'default/web', vip: VIP,
    ports: [
      { name: 'http', protocol: 'TCP', port: 8080, nodePort: 30080, endpoints: endpoints.map((e) => ({ ip: ip(e), port: 80 })) },
      { name: 'raw', protocol: 'TCP', port: 9090, endpoints: endpoints.map((e) => ({ ip: ip(e), port: 81 })) },
    ],
  }];
}

test('VIP:port reaches a random ready endpoint; an endpoint change keeps established connections; NodePort; no endpoints, no DNAT', async () => {
  const nft = new NftApplier({ table: 'gitcell', netns: lab.node });
  await nft.check();
  const local = { subnet, bridge: lab.bridge };
  assert.equal((await nft.apply({ services: web(['a', 'b']), local })).mode, 'full');

  const first = await http(`http://${VIP}:8080/`, 30);
  assert.deepEqual([...new Set(first)].sort(), ['a', 'b'], `answers: ${first.join(',')}`);

  // One long-lived connection through the VIP, answered by X.
  const holder = lab.spawn(lab.leaves.get('client')!.netns, [process.execPath, '-e', CLIENT, 'hold', VIP, '9090']);
  const x = (await lineOf(holder, /^(reply|error|closed)/)).replace(/^reply /, '');
  assert.ok(x === 'a' || x === 'b', `held connection answered by ${x}`);
  const gone = x === 'a' ? 'b' : 'a';

  // Add c, remove the other one: a delta of map elements; X's connection stays NATed in conntrack.
  const delta = await nft.apply({ services: web([x, 'c']), local });
  assert.equal(delta.mode, 'delta');
  assert.doesNotMatch(delta.script, /(flush|delete) chain|add rule/, delta.script);
  assert.match(delta.script, new RegExp(`: ${ip('c').replace(/\./g, '\\.')} \\. 80 \\}`));
  assert.equal((await nft.apply({ services: web([x, 'c']), local })).mode, 'none');

  // One endpoint left: the VIP moves to the lb-1 chain, and lb-2 goes in a later transaction once the kernel lets go.
  await nft.apply({ services: web(['c']), local });
  assert.deepEqual([...new Set(await http(`http://${VIP}:8080/`, 5))], ['c']);
  await waitFor('unused lb chain deleted', async () => {
    if (nft.pendingCleanup() > 0) await nft.apply({ services: web(['c']), local });
    return nft.pendingCleanup() === 0;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  await nft.apply({ services: web([x, 'c']), local });

  const again = lineOf(holder, /^(reply|error|closed)/);
  holder.stdin!.write('go\n');
  assert.equal(await again, `reply ${x}`, 'the established connection survived the update');

  const second = await http(`http://${VIP}:8080/`, 30);
  assert.deepEqual([...new Set(second)].sort(), [x, 'c'].sort(), `answers after the update: ${second.join(',')}`);

  const viaNodePort = await http(`http://${lab.gateway}:30080/`, 10);
  assert.ok(viaNodePort.every((a) => a === x || a === 'c'), `NodePort answers: ${viaNodePort.join(',')}`);

  // No endpoints: the VIP leaves the service map (nothing is DNATed to a stale endpoint).
  const empty = await nft.apply({ services: web([]), local });
  assert.match(empty.script, /delete element ip gitcell service-ips \{ 10\.96\.7\.7 \. tcp \. 8080 \}/);

  await nft.remove();
  const { runCommand } = await import('../../../runtime/network/exec.ts');
  const tables = await waitFor('table removed', async () => {
    const r = await runCommand('ip', ['netns', 'exec', lab.node, 'nft', 'list', 'tables']);
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.doesNotMatch(tables, /gitcell/);
});
