// `gitcell up --isolated-nodes --nodes 3`: each node its own "machine" (a network namespace on an
// underlay bridge, NATS reached over it). From the network namespace of a web task on node A, a
// client resolves web.default.svc.cluster.local through node A's dnsmasq and sends 200 requests to
// it: the 3 web tasks on nodes A, B and C answer, through node A's nftables and the host-gw routes
// the agents programmed from the store. One web task on another node is killed -9 mid-stream: no
// request fails once its endpoint is removed. Web is rolled out by a commit: no request fails at all. Ctrl-C: every namespace, veth and bridge is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/index.ts';
import { connectFromOptions, Informer, openClusterStore } from '../../../store/index.ts';
import type { ServiceRecord } from '../../../api/index.ts';
import type { DesiredRecord, SyncRecord } from '../../../reconciler/index.ts';
import { runCommand } from '../../../runtime/network/exec.ts';
import { waitFor } from '../../helpers/wait.ts';
import { BIN, git, interruptUp, leftovers, removeLeftovers, logTails, tasksOf, unmountBelow, webSettled, reserveSubnetBase } from '../../helpers/up.ts';

const UP_TIMEOUT = 420_000;

// The client: resolve the name through the task's gateway (its node's dnsmasq), then one request
// every 40 ms, a line per answer: "<ms since epoch the request was sent> ok <body>" or "<ms> err <code>".
// The send time, not the answer's: a request sent to a killed task before its endpoint left times out
// 2 s later (its namespace and veth went with it: no refusal, silence), after the removal.
const CLIENT = `
const dns = require('node:dns').promises; const http = require('node:http');
(async () => {
  const r = new dns.Resolver(); r.setServers([process.argv[1]]);
  const [vip] = await r.resolve4('web.default.svc.cluster.local');
  console.log('vip ' + vip);
  for (let i = 0; i < Number(process.argv[2]); i++) {
    const sent = Date.now();
    const line = await new Promise((done) => {
      const q = http.get({ host: vip, port: 8080, path: '/', agent: false, timeout: 2000 }, (s) => { let b = ''; s.on('data', (d) => (b += d)); s.on('end', () => done('ok ' + b.trim())); });
      q.on('timeout', () => q.destroy(new Error('timeout'))); q.on('error', (e) => done('err ' + (e.code || e.message)));
    });
    console.log(sent + ' ' + line);
    await new Promise((w) => setTimeout(w, 40));
  }
  console.log('done');
})().catch((e) => console.log('fatal ' + e.message));`;

test('isolated nodes: a client on node A is answered by web tasks on A, B and C through the VIP; kill -9 of one fails nothing once its endpoint is gone', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-iso-'));
  let up: ChildProcess | undefined;
  let output = '';
  const ac = new AbortController();
  t.after(async () => {
    ac.abort();
    if (up) await interruptUp(up);
    const left = leftovers(stateDir);
    if (left.length) removeLeftovers(stateDir);
    unmountBelow(stateDir);
    await rm(stateDir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'gitcell up left nothing behind');
  });
  up = spawn(process.execPath, [BIN, 'up', '--cluster-dir', stateDir, '--nodes', '3', '--no-view', '--isolated-nodes', '--subnet-base', reserveSubnetBase(t, 150, 50)], { stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const dump = () => logTails(stateDir, output);
  await waitFor('gitcell up to print where things are', () => output.includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT).catch((err) => { throw new Error(`${(err as Error).message}\n${dump()}`); });
  const nc = await connectFromOptions({ stateDir, name: 'e2e' });
  t.after(() => nc.close());
  const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
  await waitFor('web 3/3 running and ready', () => webSettled(s, 3), UP_TIMEOUT).catch((err) => { throw new Error(`${(err as Error).message}\n${dump()}`); });
  const web = await tasksOf(s, 'Job/default/web');
  const nodes = new Set(web.map((w) => w.status!.node));
  assert.equal(nodes.size, 3, `one web task per node: ${JSON.stringify(web.map((w) => w.status!.node))}`);
  const onA = web.find((w) => w.status!.node === 'node-1')!;
  const victim = web.find((w) => w.status!.node !== 'node-1')!;
  // runc makes each task's network namespace (no name under /run/netns): enter it by the task's pid
  const clientNs = `/proc/${onA.status!.pid!}/ns/net`;
  const gw = /default via (\S+)/.exec((await runCommand('nsenter', [`--net=${clientNs}`, 'ip', 'route', 'show', 'default'])).stdout)?.[1];
  assert.ok(gw, `the client's namespace ${clientNs} has a default route`);
  const services = new Informer<ServiceRecord>(s.services, { signal: ac.signal, log: silentLogger() });
  await services.synced;

  const { lines, answers, child: client } = startClient(clientNs, gw, 200);
  t.after(() => client.kill('SIGKILL'));
  await waitFor('50 answers', () => answers().length >= 50 || lines.some((l) => l.startsWith('fatal')), 120_000).catch((err) => { throw new Error(`${(err as Error).message}: ${lines.join('\n')}`); });
  assert.ok(!lines.some((l) => l.startsWith('fatal')), lines.join('\n'));
  process.kill(victim.status!.pid!, 'SIGKILL');
  const removedAt = await waitFor('the killed task\'s endpoint removed', () => (services.get('default.web')?.endpoints.some((e) => e.taskId === victim.spec.id) ? undefined : Date.now()), 60_000);
  await waitFor('the client done', () => lines.includes('done') || lines.some((l) => l.startsWith('fatal')), 180_000)
    .catch((err) => { throw new Error(`${(err as Error).message}\n${clientSummary(lines, removedAt)}\nendpoints: ${JSON.stringify(services.get('default.web')?.endpoints)}\n${dump()}`); });
  const all = answers();
  assert.equal(all.length, 200, lines.filter((l) => !/ (ok|err) /.test(l)).join('\n'));
  const hosts = new Set(all.flatMap((l) => /hello from (\S+)/.exec(l)?.[1] ?? []));
  for (const w of web) assert.ok(hosts.has(w.spec.id), `${w.spec.id} on ${w.status!.node} answered (${[...hosts].join(', ')})`);
  const failedAfter = all.filter((l) => l.includes(' err ') && Number(l.split(' ')[0]) > removedAt);
  assert.deepEqual(failedAfter, [], 'no request sent once the endpoint is removed fails');
  process.stderr.write(`e2e isolated: ${all.filter((l) => l.includes(' err ')).length} of 200 failed, all before the endpoint left; answered by ${[...hosts].join(', ')}\n`);
  await rollOutUnderLoad(s, stateDir, gw);
});

/**
 * clientSummary says what a client that did not finish got: its answers by host and its failures by
 * reason, before and after the endpoint's removal, and its last lines (why a run was slow).
 */
function clientSummary(lines: string[], removedAt: number): string {
  const counts = new Map<string, number>();
  for (const l of lines) {
    const m = /^(\d+) (ok|err) (?:hello from )?(\S+)/.exec(l);
    if (!m) continue;
    const key = `${Number(m[1]) > removedAt ? 'after' : 'before'} removal: ${m[2]} ${m[3]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return `client: ${[...counts].map(([k, n]) => `${k} x${n}`).join('; ')}\nlast lines:\n${lines.slice(-10).join('\n')}`;
}

/** startClient runs CLIENT for `n` requests in a network namespace (a `/proc/PID/ns/net` path); its lines as they come. */
function startClient(netns: string, dnsServer: string, n: number) {
  const lines: string[] = [];
  const child = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', CLIENT, dnsServer, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { lines, child, answers: () => lines.filter((l) => / (ok|err) /.test(l)) };
}

/**
 * rollOutUnderLoad: a commit changes the web template; while the rollout replaces every web task,
 * a client on node A (in the node-logger task's namespace: it outlives the rollout) keeps calling
 * the Service by name: no request fails at all, and the new tasks answer once they are ready.
 */
async function rollOutUnderLoad(s: Parameters<typeof webSettled>[0], stateDir: string, dnsServer: string): Promise<void> {
  const before = (await webSettled(s, 3))!;
  // the DaemonSet's task can still be starting when web has settled (a loaded machine)
  const logger = await waitFor('a node-logger task running on node-1', async () => (await tasksOf(s, 'DaemonSet/default/node-logger')).find((x) => x.status?.node === 'node-1' && x.status.state === 'running'), UP_TIMEOUT);
  const c = startClient(`/proc/${logger.status!.pid!}/ns/net`, dnsServer, 100_000);
  try {
    await waitFor('the rollout client answered', () => c.answers().length >= 10 || c.lines.some((l) => l.startsWith('fatal')), 120_000);
    const repo = join(stateDir, 'repo');
    const file = join(repo, 'jobs', 'web.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('value: production', 'value: rolled-out'));
    git(repo, 'commit', '-qam', 'web: roll out');
    await waitFor('web rolled out: 3 new tasks running and ready', async () => { const h = await webSettled(s, 3); return h && h !== before; }, UP_TIMEOUT);
    const rolled = await tasksOf(s, 'Job/default/web');
    await waitFor('the new tasks answering', () => rolled.every((w) => c.answers().some((l) => l.includes(w.spec.id))), 120_000);
  } finally {
    c.child.kill('SIGKILL');
  }
  const failed = c.answers().filter((l) => l.includes(' err '));
  assert.deepEqual(failed, [], `no request fails during the rollout (${c.answers().length} sent)`);
  process.stderr.write(`e2e isolated: rollout under ${c.answers().length} requests, none failed\n`);
}
