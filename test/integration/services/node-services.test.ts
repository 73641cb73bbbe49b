// The agent's services module against the real parts: a nats-server holding the services bucket,
// nft and dnsmasq in a node namespace the test owns (bridge + task namespaces, "gc-" names), a
// client task resolving Service names through the node's dnsmasq and reaching them through the VIP.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceRecord } from '../../../api/index.ts';
import { NodeServices } from '../../../agent/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Dnsmasq, NftApplier } from '../../../runtime/index.ts';
import { runCommand } from '../../../runtime/network/exec.ts';
import { lineOf, makeNetLab } from '../../helpers/netlab.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { openTestStore } from '../../helpers/store.ts';
import { waitFor } from '../../helpers/wait.ts';

requireRoot();
requireTools('nft', 'ip', 'dnsmasq');

const subnet = `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`;
const lab = await makeNetLab('svc', subnet, ['a', 'b', 'client']);
after(() => lab.destroy());
const ip = (n: string) => lab.leaves.get(n)!.ip;

const SERVER = `
const name = process.argv[1];
require('http').createServer((q, r) => r.end(name)).listen(80, '0.0.0.0', () => console.log('ready'));`;
await Promise.all(['a', 'b'].map((n) => lineOf(lab.spawn(lab.leaves.get(n)!.netns, [process.execPath, '-e', SERVER, n]), /ready/)));

// "resolve NAME": the A records the node's DNS gives (or the error code); "http URL N": the answers.
const CLIENT = `
const [mode, a, b] = process.argv.slice(1);
(async () => {
  if (mode === 'resolve') {
    const r = new (require('dns').promises.Resolver)({ timeout: 2000, tries: 2 });
    r.setServers([process.env.DNS]);
    try { console.log('A ' + (await r.resolve4(a)).sort().join(',')); } catch (e) { console.log('A ' + e.code); }
    return;
  }
  const out = [];
  for (let i = 0; i < Number(b); i++) {
    try { out.push(await (await fetch(a, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) })).text()); }
    catch (e) { out.push('ERR ' + (e.cause?.code ?? e.message)); }
  }
  console.log(JSON.stringify(out));
})();`;

async function resolve(name: string): Promise<string> {
  const child = lab.spawn(lab.leaves.get('client')!.netns, ['/usr/bin/env', `DNS=${lab.gateway}`, process.execPath, '-e', CLIENT, 'resolve', name]);
  return (await lineOf(child, /^A /, 60_000)).slice(2);
}
async function http(url: string, n: number): Promise<string[]> {
  return JSON.parse(await lineOf(lab.spawn(lab.leaves.get('client')!.netns, [process.execPath, '-e', CLIENT, 'http', url, String(n)]), /^\[/, 120_000)) as string[];
}

function record(name: string, endpoints: string[], over: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    namespace: 'default', name, generation: 1, type: 'ClusterIP', headless: false, clusterIP: '10.96.1.10', selector: { app: name },
    ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 80 }],
    endpoints: endpoints.map((n) => ({ taskId: `default.web.${n}`, node: 'n1', ip: ip(n), ports: { http: 80 } })),
    notReady: [], updatedAt: new Date().toISOString(), ...over,
  };
}

test('nft and dnsmasq follow the services bucket: names resolve to the VIP (headless: to task IPs), the VIP balances, a stopping task drains first, failures show in ServicesReady', async (t) => {
  const { store } = await openTestStore(t, { tag: 'ns' });
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-dns-'));
  await chmod(dir, 0o755); // dnsmasq rereads its hosts file as nobody
  t.after(() => rm(dir, { recursive: true, force: true }));
  const conditions: string[] = [];
  let services!: NodeServices;
  const dns = new Dnsmasq({ dir: join(dir, 'dns'), listen: lab.gateway, netns: lab.node, onExit: (why) => services.dnsExited(why) });
  const nft = new NftApplier({ table: 'gitcell', netns: lab.node });
  services = new NodeServices({
    services: store.services, nft, dns, dnsAddress: lab.gateway, lb: { local: { subnet, bridge: lab.bridge } }, log: silentLogger(),
    onCondition: (c) => conditions.push(`${c.status}:${c.reason}`),
  });
  t.after(() => services.stop({ removeTable: true }));

  await store.services.put('default.web', record('web', ['a', 'b']));
  await store.services.put('default.db', record('db', ['a', 'b'], { headless: true, clusterIP: undefined as never }));
  await services.start();
  await services.firstProgrammed();
  assert.equal(services.conditions()[0]!.status, 'True', JSON.stringify(services.conditions()));
  assert.deepEqual(services.dnsFor('shop'), { nameservers: [lab.gateway], search: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] });

  assert.equal(await resolve('web.default.svc.cluster.local'), '10.96.1.10');
  assert.equal(await resolve('db.default.svc.cluster.local'), [ip('a'), ip('b')].sort().join(','));
  assert.equal(await resolve('nothing.default.svc.cluster.local'), 'ENOTFOUND');
  const answers = await http('http://10.96.1.10:8080/', 30);
  assert.deepEqual([...new Set(answers)].sort(), ['a', 'b'], answers.join(','));

  // A new Service appears in DNS and nft without a restart; a stopping task waits until it left.
  await store.services.put('default.api', record('api', ['b'], { clusterIP: '10.96.1.11' }));
  await waitFor('api in DNS', async () => (await resolve('api.default.svc.cluster.local')) === '10.96.1.11');
  let drained = false;
  const drain = services.beforeStop('default.web.a').then(() => (drained = true));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(drained, false, 'still an endpoint: no SIGTERM yet');
  await store.services.put('default.web', record('web', ['b']));
  await drain;
  assert.deepEqual([...new Set(await http('http://10.96.1.10:8080/', 10))], ['b']);

  // dnsmasq dies: the node is not ready for services until the module started it again.
  const pid = (await runCommand('ip', ['netns', 'pids', lab.node])).stdout.split('\n').filter(Boolean);
  const comm = await Promise.all(pid.map(async (p) => [p, (await runCommand('cat', [`/proc/${p}/comm`])).stdout.trim()] as const));
  const dnsPid = comm.find(([, c]) => c === 'dnsmasq')?.[0];
  assert.ok(dnsPid, `dnsmasq runs in ${lab.node}`);
  process.kill(Number(dnsPid), 'SIGKILL');
  await waitFor('ServicesReady False after dnsmasq died', () => conditions.includes('False:DnsFailed'));
  await waitFor('ServicesReady True again', () => services.conditions()[0]!.status === 'True');
  assert.equal(await resolve('web.default.svc.cluster.local'), '10.96.1.10');

  await services.stop({ removeTable: true });
  const tables = await runCommand('ip', ['netns', 'exec', lab.node, '/usr/sbin/nft', 'list', 'tables']);
  assert.doesNotMatch(tables.stdout, /gitcell/);
  assert.equal(dns.running, false);
});

test('the DNS server\'s address is taken at start: the VIP works at once, DNS starts once the address is free', async (t) => {
  const { store } = await openTestStore(t, { tag: 'nd' });
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-dns-'));
  await chmod(dir, 0o755);
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Another DNS server holds port 53 on the gateway (in CI: a second cluster on the same subnet).
  const blocker = lab.spawn(lab.node, [process.execPath, '-e', `require('dgram').createSocket('udp4').bind(53, '${lab.gateway}', () => console.log('ready'))`]);
  t.after(() => void blocker.kill('SIGKILL'));
  await lineOf(blocker, /ready/);
  const conditions: string[] = [];
  let services!: NodeServices;
  const dns = new Dnsmasq({ dir: join(dir, 'dns'), listen: lab.gateway, netns: lab.node, onExit: (why) => services.dnsExited(why) });
  services = new NodeServices({
    services: store.services, nft: new NftApplier({ table: 'gitcell', netns: lab.node }), dns, dnsAddress: lab.gateway, lb: { local: { subnet, bridge: lab.bridge } }, log: silentLogger(),
    onCondition: (c) => conditions.push(`${c.status}:${c.reason}`), onProgrammed: () => (programmed = true),
  });
  let programmed = false;
  t.after(() => services.stop({ removeTable: true }));
  await store.services.put('default.web', record('web', ['a', 'b']));
  await services.start();
  assert.equal(services.conditions()[0]!.reason, 'DnsFailed', JSON.stringify(services.conditions()));
  assert.match(services.conditions()[0]!.message, /in use/i);
  await waitFor('the VIP programmed', () => programmed);
  const answers = await http('http://10.96.1.10:8080/', 10);
  assert.deepEqual([...new Set(answers)].sort(), ['a', 'b'], `the VIP balances without DNS: ${answers.join(',')}`);
  assert.equal(services.conditions()[0]!.status, 'False', 'not ready while names do not resolve');
  blocker.kill('SIGKILL');
  await waitFor('ServicesReady True once DNS started', () => services.conditions()[0]!.status === 'True', 60_000);
  assert.equal(await resolve('web.default.svc.cluster.local'), '10.96.1.10');
  assert.ok(conditions.includes('False:DnsFailed') && conditions.at(-1) === 'True:Programmed', conditions.join(' '));
});

test('without a usable nft the node reports ServicesReady False and names why', async (t) => {
  const { store } = await openTestStore(t, { tag: 'nf' });
  const services = new NodeServices({ services: store.services, nft: new NftApplier({ table: 'gitcell', netns: 'gc-no-such-namespace' }), log: silentLogger() });
  t.after(() => services.stop());
  await services.start();
  const [c] = services.conditions();
  assert.equal(c!.status, 'False');
  assert.equal(c!.reason, 'Unavailable');
  assert.match(c!.message, /nft is not usable/);
});
