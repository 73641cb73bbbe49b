// Real CNI plugins (bridge + host-local from /usr/lib/cni) on real network namespaces (lo up by ip).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { spawn } from 'node:child_process';
import { NetworkManager, execInNetns, listNetns } from '../../../runtime/index.ts';
import { ipv4InSubnet } from '../../../runtime/network/index.ts';
import { runCommand } from '../../../runtime/network/exec.ts';

assert.equal(process.getuid?.(), 0, 'network tests need root (ip netns, CNI plugins)');
await access('/usr/lib/cni/bridge').catch(() => assert.fail('CNI plugins missing: install containernetworking-plugins (scripts/bootstrap.sh)'));

const suffix = randomBytes(3).toString('hex');
const subnet = `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`;
const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-net-'));
const net = new NetworkManager({ bridge: `gct${suffix}`, subnet, stateDir: join(stateDir, 'net'), netnsPrefix: `gct-${suffix}-` });

after(async () => {
  await net.destroy();
  await rm(stateDir, { recursive: true, force: true });
});

/** listen starts a TCP server inside a namespace and resolves once it accepts connections. */
function listenInNetns(netns: string, port: number) {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e',
    `require('net').createServer((s)=>s.end('hello from '+process.argv[1])).listen(${port},'0.0.0.0',()=>console.log('ready'))`, netns],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('ready')) resolve(); });
    child.on('exit', (code) => reject(new Error(`listener in ${netns} exited with ${code}`)));
  });
  return { child, ready };
}

test('two sandboxes get different IPs in the subnet and reach each other over TCP', async () => {
  const a = await net.setup('a');
  const b = await net.setup('b');
  assert.notEqual(a.ip, b.ip);
  assert.ok(ipv4InSubnet(a.ip, subnet) && ipv4InSubnet(b.ip, subnet), `${a.ip} and ${b.ip} in ${subnet}`);
  assert.deepEqual(Object.fromEntries(await net.allocations()), { [a.ip]: 'a', [b.ip]: 'b' });

  const server = listenInNetns(b.netns, 7070);
  try {
    await server.ready;
    // From inside a's namespace to b's address.
    const r = await execInNetns(a.netns, [process.execPath, '-e',
      `const s=require('net').connect(7070,'${b.ip}');s.on('data',d=>{process.stdout.write(d)});s.on('error',e=>{console.error(e.message);process.exit(1)})`], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `hello from ${b.netns}`);
    // And from the host through the bridge (how the agent probes tasks).
    const fromHost = await new Promise<string>((resolve, reject) => {
      const s = connect(7070, b.ip);
      let data = '';
      s.on('data', (d) => { data += d.toString(); });
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    assert.equal(fromHost, `hello from ${b.netns}`);
    // Loopback is up inside the namespace.
    const lo = await execInNetns(a.netns, ['ip', '-o', 'link', 'show', 'lo']);
    assert.match(lo.stdout, /UP|UNKNOWN/);
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('setup is idempotent and CHECK passes on a live attachment', async () => {
  const first = await net.setup('c');
  const again = await net.setup('c');
  assert.equal(again.ip, first.ip);
  await net.check('c');
  await net.teardown('c');
});

test('teardown releases the IP and deletes the namespace; a second teardown is harmless', async () => {
  const d = await net.setup('d');
  assert.ok((await net.allocations()).has(d.ip));
  await net.teardown('d');
  await net.teardown('d');
  assert.ok(!(await net.allocations()).has(d.ip));
  assert.ok(!(await listNetns()).includes(d.netns));
  await assert.rejects(net.check('d'), { code: 'E_NETWORK_NOT_FOUND' });
});

test('a half-done setup (allocation without cached result) is cleaned and redone', async () => {
  await net.setup('e');
  // Simulate a crash between CNI ADD and writing the cached result.
  await unlink(join(stateDir, 'net', 'results', 'e.json'));
  const again = await net.setup('e');
  assert.ok(ipv4InSubnet(again.ip, subnet));
  const owners = [...(await net.allocations()).values()].filter((id) => id === 'e');
  assert.equal(owners.length, 1, 'exactly one address held by e');
  await net.teardown('e');
});

test('a namespace removed behind our back is re-attached by setup', async () => {
  const f = await net.setup('f');
  await runCommand('ip', ['netns', 'delete', f.netns]);
  const again = await net.setup('f');
  assert.ok((await listNetns()).includes(again.netns));
  await net.check('f');
  await net.teardown('f');
});

test('destroy leaves no namespace, bridge or address file behind', async () => {
  const extra = new NetworkManager({ bridge: `gcx${suffix}`, subnet: `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`, stateDir: join(stateDir, 'extra'), netnsPrefix: `gcx-${suffix}-` });
  await extra.setup('g');
  await extra.setup('h');
  await extra.destroy();
  assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`gcx-${suffix}-`)), []);
  const link = await runCommand('ip', ['link', 'show', `gcx${suffix}`]);
  assert.notEqual(link.code, 0, 'bridge deleted');
  await assert.rejects(readdir(join(stateDir, 'extra')), { code: 'ENOENT' });
});
