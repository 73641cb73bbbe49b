// Services benchmark: the real parts in network namespaces the benchmark owns ("gc-" names, removed at exit).
//   endpoint_update_p99_ms      a task's readiness change (its status written) to every node's nft
//                               table programmed without it / with it again: real nats-server,
//                               the endpoints loop, 3 NodeServices each programming its own namespace
//   vip_rtt_ratio_vs_direct     median time of an HTTP request (new connection each) through the VIP
//                               over the same request to the task IP, from a client namespace
//   nft_apply_ms_1000_services  programming 1,000 services of 10 endpoints each as one transaction
//                               (median of 3); nft_delta_ms_one_endpoint: one endpoint leaving them;
//                               nft_apply_cpu_ms_1000_services: the CPU that one apply costs
import { randomInt } from 'node:crypto';
import type { NodeRecord, ServiceRecord, TaskSpec, TaskStatus } from '../api/index.ts';
import { NodeServices } from '../agent/index.ts';
import { silentLogger } from '../lib/index.ts';
import { makeTask, runEndpoints, type DesiredRecord } from '../reconciler/index.ts';
import { resolveTemplate } from '../reconciler/template/index.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NftApplier, runCommand, type LbService } from '../runtime/index.ts';
import { buildModel, nftBinary, renderFull } from '../runtime/services/index.ts';
import { connect, openClusterStore } from '../store/index.ts';
import { startNatsServer } from '../test/helpers/nats.ts';
import { lineOf, makeNetLab, type NetLab } from '../test/helpers/netlab.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const labs: NetLab[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

/** cpuOfNft is the CPU time (user + system, ms) one `nft -f` of `script` costs in `netns`: wall time on 2 shared cores is mostly waiting for a core. */
async function cpuOfNft(netns: string, script: string): Promise<number> {
  const file = join(mkdtempSync(join(tmpdir(), 'gc-bench-nft-')), 'full.nft');
  writeFileSync(file, script);
  try {
    // bash's `times` prints the children's user and system time (second line: "0m0.150s 0m0.120s").
    const r = await runCommand('ip', ['netns', 'exec', netns, 'bash', '-c', `"$0" -f "$1" && times`, nftBinary(), file], { timeoutMs: 120_000 });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    if (r.code !== 0 || secs.length !== 2) throw new Error(`nft -f in ${netns}: ${r.stderr || line}`);
    return (secs[0]! + secs[1]!) * 1000;
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
}

async function nftApply(): Promise<{ full: number; delta: number; cpu: number }> {
  const lab = await makeNetLab('bnft', `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`, []);
  labs.push(lab);
  const services = (drop = false): LbService[] => Array.from({ length: 1000 }, (_, s) => ({
    id: `bench/svc-${s}`, vip: `10.96.${s >> 8}.${s & 255}`,
    ports: [{ name: 'http', protocol: 'TCP' as const, port: 80, endpoints: Array.from({ length: drop && s === 0 ? 9 : 10 }, (_, e) => ({ ip: `10.${100 + (s >> 8)}.${s & 255}.${10 + e}`, port: 8080 })) }],
  }));
  const full: number[] = [];
  let delta = 0;
  for (let round = 0; round < 3; round++) {
    const nft = new NftApplier({ table: 'gcbench', netns: lab.node, timeoutMs: 120_000 });
    await nft.remove();
    const t0 = performance.now();
    await nft.apply({ services: services() });
    full.push(performance.now() - t0);
    if (round === 2) {
      const t1 = performance.now();
      await nft.apply({ services: services(true) });
      delta = performance.now() - t1;
    }
    await nft.remove();
  }
  const cpu: number[] = [];
  for (let round = 0; round < 3; round++) {
    cpu.push(await cpuOfNft(lab.node, renderFull('gcbench', buildModel({ table: 'gcbench', services: services() }))));
    await new NftApplier({ table: 'gcbench', netns: lab.node }).remove();
  }
  process.stderr.write(`nft: 1,000 services x 10 endpoints: ${full.map((x) => x.toFixed(0)).join(', ')} ms (CPU ${cpu.map((x) => x.toFixed(0)).join(', ')} ms); one endpoint leaving: ${delta.toFixed(0)} ms\n`);
  return { full: median(full), delta, cpu: median(cpu) };
}

async function vipRatio(): Promise<number> {
  const subnet = `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`;
  const lab = await makeNetLab('bvip', subnet, ['srv', 'client']);
  labs.push(lab);
  const srv = lab.leaves.get('srv')!;
  await lineOf(lab.spawn(srv.netns, [process.execPath, '-e', `require('http').createServer((q, r) => r.end('ok')).listen(80, () => console.log('ready'))`]), /ready/);
  const nft = new NftApplier({ table: 'gcbench', netns: lab.node });
  await nft.apply({ services: [{ id: 'bench/web', vip: '10.96.9.9', ports: [{ name: 'http', protocol: 'TCP', port: 8080, endpoints: [{ ip: srv.ip, port: 80 }] }] }], local: { subnet, bridge: lab.bridge } });
  // Alternating rounds of 200 requests each way; each request its own TCP connection (the NAT path is set up per connection).
  const CLIENT = `
const http = require('http');
const one = (host, port) => new Promise((res, rej) => { const t = process.hrtime.bigint(); http.get({ host, port, agent: false }, (r) => { r.resume(); r.on('end', () => res(Number(process.hrtime.bigint() - t) / 1e6)); }).on('error', rej); });
(async () => {
  const vip = [], direct = [];
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 200; i++) vip.push(await one('10.96.9.9', 8080));
    for (let i = 0; i < 200; i++) direct.push(await one('${srv.ip}', 80));
  }
  const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  console.log('RTT ' + JSON.stringify({ vip: med(vip), direct: med(direct) }));
})();`;
  const line = await lineOf(lab.spawn(lab.leaves.get('client')!.netns, [process.execPath, '-e', CLIENT]), /^RTT /, 300_000);
  // Its long-lived `nft -i` child would keep this process alive after the JSON line (the hang noted in issue 14's notes).
  nft.close();
  const { vip, direct } = JSON.parse(line.slice(4)) as { vip: number; direct: number };
  process.stderr.write(`HTTP request, new connection each: through the VIP ${vip.toFixed(3)} ms, direct ${direct.toFixed(3)} ms (medians of 2,000)\n`);
  return vip / direct;
}

async function endpointUpdates(): Promise<number[]> {
  const server = await startNatsServer();
  cleanups.push(() => server.stop());
  const nc = await connect({ servers: server.url });
  cleanups.push(() => nc.close());
  const store = await openClusterStore<DesiredRecord>(nc, { prefix: `bsv${randomInt(1e6)}_`, log: silentLogger() });
  const ac = new AbortController();
  let lastWrite = 0;
  const loop = runEndpoints({ store, signal: ac.signal, log: silentLogger(), onPass: (r) => { if (r.written.length) lastWrite = performance.now(); } });
  cleanups.push(async () => { ac.abort(); await loop.done; });
  const now = () => new Date().toISOString();
  const node = (name: string): NodeRecord => ({ name, labels: {}, taints: [], capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30 }, allocatable: { cpuMillis: 1000, memoryBytes: 2 ** 30 }, addresses: [], subnet: '10.88.0.0/16', runtime: { runc: '1', kernel: '6', agentVersion: '0' }, images: [], startedAt: now(), heartbeatAt: now() });
  const beat = setInterval(() => { for (const n of ['n1', 'n2', 'n3']) void store.nodes.put(n, node(n)).catch(() => undefined); }, 1000);
  cleanups.push(async () => clearInterval(beat));
  for (const n of ['n1', 'n2', 'n3']) await store.nodes.put(n, node(n));
  const { template, templateHash } = resolveTemplate({ image: 'web:1', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: 80 }] }, { type: 'service' });
  const tasks: TaskSpec[] = Array.from({ length: 10 }, (_, i) => makeTask({ kind: 'Job', namespace: 'default', name: 'web', generation: 1, revision: 'c1', type: 'service', priority: 300, template, templateHash }, `default.web.${i}-abc`, i, Date.now()));
  const status = (t: TaskSpec, i: number, ready: boolean): TaskStatus => ({ taskId: t.id, node: `n${(i % 3) + 1}`, templateHash: t.templateHash, state: 'running', ready, restarts: 0, ip: `10.88.${i % 3}.${10 + i}`, updatedAt: now() });
  for (const [i, t] of tasks.entries()) {
    await store.tasks.put(t.id, t);
    await store.bindings.put(t.id, { taskId: t.id, node: `n${(i % 3) + 1}`, boundAt: now(), schedulerTerm: 1 });
    await store.status.put(`n${(i % 3) + 1}.${t.id}`, status(t, i, true));
  }
  const desired: DesiredRecord = { key: 'Service.default.web', generation: 1, specHash: 'h', origin: { type: 'git', revision: 'c1' }, revision: 'c1', updatedAt: now(), object: { apiVersion: 'gitcell.io/v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] } } as DesiredRecord['object'] };
  await store.desired.put(desired.key, desired);
  // Three nodes, each programming nft in its own namespace from the bucket, as three agents do.
  const seen: ((records: readonly ServiceRecord[]) => void)[] = [];
  const latest: (readonly ServiceRecord[])[] = [];
  for (let n = 0; n < 3; n++) {
    const lab = await makeNetLab(`bep${n}`, `10.${200 + randomInt(50)}.${randomInt(256)}.0/24`, []);
    labs.push(lab);
    const svc = new NodeServices({ services: store.services, nft: new NftApplier({ table: 'gcbench', netns: lab.node }), log: silentLogger(), onProgrammed: (r) => { latest[n] = r; seen[n]?.(r); } });
    await svc.start();
    cleanups.push(() => svc.stop({ removeTable: true }));
  }
  const programmed = (n: number, want: (r: readonly ServiceRecord[]) => boolean, already = false) => new Promise<number>((resolve) => {
    if (already && latest[n] && want(latest[n]!)) return resolve(performance.now());
    seen[n] = (r) => { if (want(r)) { seen[n] = () => undefined; resolve(performance.now()); } };
  });
  const count = (r: readonly ServiceRecord[]) => r.find((x) => x.name === 'web')?.endpoints.length ?? -1;
  await Promise.all([0, 1, 2].map((n) => programmed(n, (r) => count(r) === 10, true)));
  const samples: number[] = [];
  const written: number[] = [];
  for (let round = 0; round < 60; round++) {
    const i = Math.floor(round / 2) % 10; // each task goes unready, then ready again
    const ready = round % 2 === 1;
    const wants = [0, 1, 2].map((n) => programmed(n, (r) => count(r) === (ready ? 10 : 9)));
    const t0 = performance.now();
    await store.status.put(`n${(i % 3) + 1}.${tasks[i]!.id}`, status(tasks[i]!, i, ready));
    const done = await Promise.all(wants);
    samples.push(Math.max(...done) - t0);
    written.push(lastWrite - t0);
  }
  process.stderr.write(`status written to services record written: p50 ${pct(written, 50).toFixed(1)} ms, p99 ${pct(written, 99).toFixed(1)} ms\n`);
  process.stderr.write(`readiness change to 3 nodes' tables: p50 ${pct(samples, 50).toFixed(1)} ms, p99 ${pct(samples, 99).toFixed(1)} ms over ${samples.length}\n`);
  return samples;
}

// Ctrl-C or a timeout still removes the namespaces, the table and the servers.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  for (const l of labs.splice(0)) await l.destroy();
}

// `npm run bench -- services [endpoints|vip|nft]...` measures only the parts named (all by default).
const parts = process.argv.slice(2);
const want = (part: string) => parts.length === 0 || parts.includes(part);
try {
  const updates = want('endpoints') ? await endpointUpdates() : [NaN];
  const ratio = want('vip') ? await vipRatio() : NaN;
  const nftMs = want('nft') ? await nftApply() : { full: NaN, delta: NaN, cpu: NaN };
  console.log(JSON.stringify({
    endpoint_update_p99_ms: Math.round(pct(updates, 99) * 10) / 10,
    vip_rtt_ratio_vs_direct: Math.round(ratio * 1000) / 1000,
    nft_apply_ms_1000_services: Math.round(nftMs.full),
    nft_delta_ms_one_endpoint: Math.round(nftMs.delta),
    nft_apply_cpu_ms_1000_services: Math.round(nftMs.cpu),
  }));
} finally {
  await cleanup();
}
