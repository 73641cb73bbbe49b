/**
 * Watch fan-out benchmark (issue 17): what watchers of a KV bucket cost nats-server's ingest.
 * `npm run bench -- watch-fanout [--creates N] [--nodes W] [--quick]`. Each mode gets a fresh
 * nats-server (test/helpers/nats.ts) and a `tasks` bucket (history 4) whose keys name a node
 * (`n00042.t7`), then N creates (CAS on "no value", as the reconciler creates tasks, 128 in flight)
 * while the watchers follow, and reports creates/s, nats-server CPU-µs per create and how many
 * changes reached the watchers:
 *
 *   none        no watcher
 *   unfiltered  15 store watches of the whole bucket (what the 10,000-node scale run holds on `tasks`)
 *   filtered    W store watches, one per node prefix (a JetStream consumer each: an agent per node
 *               watching its own keys)
 *   republish   the stream made with RePublish {src: $KV.tasks.>, dest: rp.tasks.>}: W core
 *               subscriptions `rp.tasks.<node>.>` instead of consumers (only stored messages are
 *               republished; nats-server 2.9 cannot add RePublish to an existing stream)
 *
 * Last line: one JSON object, a key per mode.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { mapLimit } from '../lib/index.ts';
import { Bucket, jsonCodec } from '../store/index.ts';
import { startNatsServer } from '../test/helpers/nats.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const CREATES = Number(arg('--creates') ?? (quick ? 2000 : 20_000));
const NODES = Number(arg('--nodes') ?? (quick ? 1000 : 10_000));
// Filtered consumers are ~100x slower: fewer creates keep the mode within minutes (its rate is the figure).
const FILTERED_CREATES = Math.min(CREATES, Number(arg('--filtered-creates') ?? (quick ? 500 : 3000)));
const MODES = ['none', 'unfiltered', 'filtered', 'republish'] as const;
type Mode = (typeof MODES)[number];

const codec = jsonCodec<Record<string, unknown>>();
const nodeName = (i: number): string => `n${String(i % NODES).padStart(5, '0')}`;
/** a task spec's size (~1 KB) */
const spec = (i: number): Record<string, unknown> => ({ id: `t${i}`, job: `job-${i % 1000}`, image: 'busybox', command: ['sleep', '3600'], resources: { cpuMillis: 100, memoryBytes: 64 << 20 }, pad: 'x'.repeat(900) });
const cpuS = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line} (load ${loadavg()[0]!.toFixed(2)})`);

/** watchers starts the mode's watchers on `nc`; `seen` counts every change they get. Returns their closer. */
async function watchers(mode: Mode, nc: NatsConnection, seen: { n: number }): Promise<() => Promise<void>> {
  const b = await Bucket.bind(nc, { name: 'tasks' }, codec);
  const closers: Array<() => Promise<unknown>> = [];
  const count = mode === 'none' ? 0 : mode === 'unfiltered' ? 15 : NODES;
  for (let i = 0; i < count; i++) {
    if (mode === 'republish') {
      const sub = nc.subscribe(`rp.tasks.${nodeName(i)}.>`, { callback: () => void seen.n++ });
      closers.push(async () => sub.unsubscribe());
      continue;
    }
    const w = b.watch(mode === 'filtered' ? { prefix: nodeName(i) } : {});
    void (async () => {
      for await (const ev of w) if (ev.type !== 'synced') seen.n++;
    })();
    closers.push(() => w.close());
    if (i % 500 === 499) await nc.flush();
  }
  await nc.flush();
  return async () => {
    await Promise.all(closers.map((c) => c().catch(() => undefined)));
  };
}

/** runMode measures one mode on its own server. */
async function runMode(mode: Mode): Promise<Record<string, number>> {
  const srv = await startNatsServer();
  const nc = await connect({ servers: srv.url });
  const wnc = await connect({ servers: srv.url });
  try {
    if (mode === 'republish') {
      const jsm = await jetstreamManager(nc);
      // The KV stream as Kvm makes it, plus RePublish (an update may not add it in 2.9).
      await jsm.streams.add({ name: 'KV_tasks', subjects: ['$KV.tasks.>'], max_msgs_per_subject: 4, discard: 'new' as never, allow_direct: true, deny_delete: true, num_replicas: 1, republish: { src: '$KV.tasks.>', dest: 'rp.tasks.>' } });
    }
    const b = mode === 'republish' ? await Bucket.bind(nc, { name: 'tasks' }, codec) : await Bucket.open(nc, { name: 'tasks', history: 4 }, codec);
    const seen = { n: 0 };
    const t0w = Date.now();
    const close = await watchers(mode, wnc, seen);
    const watchersS = (Date.now() - t0w) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    const n = mode === 'filtered' ? FILTERED_CREATES : CREATES;
    const pid = srv.pid()!;
    const c0 = cpuS(pid);
    const t0 = Date.now();
    await mapLimit(Array.from({ length: n }, (_, i) => i), 128, async (i) => {
      await b.create(`${nodeName(i)}.t${i}`, spec(i));
    });
    const secs = (Date.now() - t0) / 1000;
    const cpu = cpuS(pid) - c0;
    await new Promise((r) => setTimeout(r, 1000));
    const r = { creates: n, creates_per_s: Math.round(n / secs), nats_us_per_create: Math.round((cpu / n) * 1e6), nats_cpu_pct: Math.round((cpu / secs) * 100), delivered: seen.n, watchers_up_s: Math.round(watchersS * 10) / 10 };
    log(`${mode}: ${JSON.stringify(r)}`);
    await close();
    return r;
  } finally {
    await nc.close();
    await wnc.close();
    await srv.stop();
  }
}

log(`watch fan-out: ${CREATES} creates (${FILTERED_CREATES} with filtered consumers), ${NODES} nodes; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const out: Record<string, unknown> = { nodes: NODES };
for (const mode of MODES) out[mode] = await runMode(mode);
console.log(JSON.stringify(out));
process.exit(0);
