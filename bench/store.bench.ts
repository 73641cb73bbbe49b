/**
 * Store benchmark: `npm run bench -- store [--quick]`. For R1 (one server) and R3 (three-server
 * cluster) on loopback it measures sequential CAS writes/s, pipelined writes/s and watch delivery
 * latency, each through the store layer and through a raw nats.js KV client in the same run, so the
 * store's overhead is a ratio; then the write stall when the R3 stream leader is killed -9.
 * Runs alternate raw/store and keep the median of several rounds (this machine is shared).
 * Last line: one JSON object.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { isGitcellError, silentLogger } from '../lib/index.ts';
import { Bucket, connect, jsonCodec, StoreErrorCodes } from '../store/index.ts';
import { startNatsCluster, startNatsServer } from '../test/helpers/nats.ts';

const quick = process.argv.includes('--quick');
const SEQ_N = quick ? 300 : 1500;
const PIPE_N = quick ? 2000 : 10_000;
const WINDOW = 512;
const WATCH_N = quick ? 300 : 2000;
const ROUNDS = quick ? 1 : 5;

interface Payload {
  n: number;
  at: number;
  pad: string;
}
const PAD = 'x'.repeat(200); // a task record is a few hundred bytes
const payload = (n: number): Payload => ({ n, at: performance.now(), pad: PAD });
const codec = jsonCodec<Payload>();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** phase names what the benchmark waits on now: a bounded wait that runs out says where it hung. */
let phase = 'start';
/**
 * within bounds one wait of the benchmark: it rejects naming `what` once `ms` passed. Every step
 * below runs under one, so a write or a watch that never completes fails the run instead of hanging it.
 */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  phase = what;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`store bench: ${what} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
const STEP_MS = 120_000;

async function pipelined(n: number, write: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < n) await write(next++);
    }),
  );
}

interface Side {
  seqCas(n: number): Promise<number>; // ms
  pipe(n: number): Promise<number>; // ms
  watchLatencies(n: number): Promise<number[]>; // ms each
}

function storeSide(b: Bucket<Payload>, watcher: Bucket<Payload>): Side {
  return {
    async seqCas(n) {
      let rev = await b.put('cas', payload(0));
      const t0 = performance.now();
      for (let i = 1; i <= n; i++) rev = await b.update('cas', payload(i), rev);
      return performance.now() - t0;
    },
    async pipe(n) {
      const t0 = performance.now();
      await pipelined(n, (i) => b.put(`p.${i % 1000}`, payload(i)));
      return performance.now() - t0;
    },
    async watchLatencies(n) {
      const w = watcher.watch({ prefix: 'lat' });
      const lat: number[] = [];
      const it = w[Symbol.asyncIterator]();
      for (;;) {
        const r = await it.next();
        if (r.done) throw new Error('store bench: the watch ended before its snapshot was synced');
        if (r.value.type === 'synced') break;
      }
      const done = (async () => {
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          if (r.value.type === 'put') lat.push(performance.now() - r.value.value.at);
          if (lat.length >= n) return;
        }
      })();
      for (let i = 0; i < n; i++) {
        await b.put(`lat.${i % 100}`, payload(i));
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      await done;
      await w.close();
      return lat;
    },
  };
}

function rawSide(kv: KV, watcherKv: KV): Side {
  const enc = (p: Payload): string => JSON.stringify(p);
  return {
    async seqCas(n) {
      let rev = await kv.put('cas', enc(payload(0)));
      const t0 = performance.now();
      for (let i = 1; i <= n; i++) rev = await kv.update('cas', enc(payload(i)), rev);
      return performance.now() - t0;
    },
    async pipe(n) {
      const t0 = performance.now();
      await pipelined(n, (i) => kv.put(`p.${i % 1000}`, enc(payload(i))));
      return performance.now() - t0;
    },
    async watchLatencies(n) {
      const iter = await watcherKv.watch({ key: 'lat.>', include: 'updates' as never });
      const lat: number[] = [];
      // An updates-only watch has no "synced" marker, and its consumer may be created well after
      // watch() returned (R3, a loaded machine): a fixed pause here lost the first writes and the
      // count below waited forever. Instead write a marker until the watch sees one, then measure.
      let ready = (): void => undefined;
      const seen = new Promise<void>((r) => (ready = r));
      const done = (async () => {
        let counting = false;
        for await (const e of iter) {
          if (e.operation !== 'PUT') continue;
          if (e.key === 'lat.ready') {
            counting = true;
            ready();
            continue;
          }
          if (counting) lat.push(performance.now() - e.json<Payload>().at);
          if (lat.length >= n) break;
        }
      })();
      let marked = false;
      void seen.then(() => (marked = true));
      for (let i = 0; !marked; i++) {
        if (i >= 600) throw new Error('store bench: the raw watch saw none of 600 markers (one each 100 ms)');
        await kv.put('lat.ready', enc(payload(-1)));
        await Promise.race([seen, new Promise((r) => setTimeout(r, 100))]);
      }
      for (let i = 0; i < n; i++) {
        await kv.put(`lat.${i % 100}`, enc(payload(i)));
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      await done;
      iter.stop();
      return lat;
    },
  };
}

async function measure(label: string, servers: string[], replicas: number) {
  phase = `${label} setup`;
  const nc = await connect({ servers, name: 'bench-writer' });
  const wnc = await connect({ servers, name: 'bench-watcher' });
  const name = `bench_${randomBytes(3).toString('hex')}`;
  const cfg = { name, replicas, history: 1 };
  const b = await Bucket.open<Payload>(nc, { ...cfg, name: `${name}_s` }, codec, { log: silentLogger() });
  const bw = await Bucket.bind<Payload>(wnc, { ...cfg, name: `${name}_s` }, codec, { log: silentLogger() });
  const kv = await new Kvm(jetstream(nc)).create(`${name}_r`, { replicas, history: 1 });
  const kvw = await new Kvm(jetstream(wnc)).open(`${name}_r`);
  const store = storeSide(b, bw);
  const raw = rawSide(kv, kvw);
  // Warm up both paths (connections, stream leaders, JIT).
  await within(STEP_MS, `${label} warm-up`, (async () => {
    await store.pipe(500);
    await raw.pipe(500);
    await store.seqCas(200);
    await raw.seqCas(200);
  })());
  const r = { seqStore: [] as number[], seqRaw: [] as number[], pipeStore: [] as number[], pipeRaw: [] as number[] };
  // Client CPU per pipelined write: less sensitive than wall time to other load on the machine.
  const cpu = { store: [] as number[], raw: [] as number[] };
  const timedCpu = async (bucket: number[], f: () => Promise<number>): Promise<number> => {
    const c0 = process.cpuUsage();
    const ms = await f();
    const c = process.cpuUsage(c0);
    bucket.push((c.user + c.system) / PIPE_N);
    return ms;
  };
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0;
    for (const side of first ? ['raw', 'store'] : ['store', 'raw']) {
      if (side === 'raw') r.seqRaw.push(await within(STEP_MS, `${label} sequential CAS (raw), round ${round}`, raw.seqCas(SEQ_N)));
      else r.seqStore.push(await within(STEP_MS, `${label} sequential CAS (store), round ${round}`, store.seqCas(SEQ_N)));
    }
    for (const side of first ? ['raw', 'store'] : ['store', 'raw']) {
      if (side === 'raw') r.pipeRaw.push(await within(STEP_MS, `${label} pipelined (raw), round ${round}`, timedCpu(cpu.raw, () => raw.pipe(PIPE_N))));
      else r.pipeStore.push(await within(STEP_MS, `${label} pipelined (store), round ${round}`, timedCpu(cpu.store, () => store.pipe(PIPE_N))));
    }
  }
  // Latency tails swing with other load on the machine: take p50/p99 per round, report the median.
  const latRounds = { store: [] as Array<[number, number]>, raw: [] as Array<[number, number]> };
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    const l1 = await within(STEP_MS, `${label} watch latency (raw), round ${round}`, raw.watchLatencies(WATCH_N));
    const l2 = await within(STEP_MS, `${label} watch latency (store), round ${round}`, store.watchLatencies(WATCH_N));
    latRounds.raw.push([pct(l1, 50), pct(l1, 99)]);
    latRounds.store.push([pct(l2, 50), pct(l2, 99)]);
  }
  await nc.close();
  await wnc.close();
  const seqStoreMs = median(r.seqStore);
  const seqRawMs = median(r.seqRaw);
  const pipeStoreMs = median(r.pipeStore);
  const pipeRawMs = median(r.pipeRaw);
  const out = {
    label,
    seq_cas_writes_per_s: { store: Math.round((SEQ_N / seqStoreMs) * 1000), raw: Math.round((SEQ_N / seqRawMs) * 1000), ratio: round2(seqStoreMs / seqRawMs) },
    pipelined_writes_per_s: { store: Math.round((PIPE_N / pipeStoreMs) * 1000), raw: Math.round((PIPE_N / pipeRawMs) * 1000), ratio: round2(pipeStoreMs / pipeRawMs) },
    watch_latency_ms: {
      store: { p50: round2(median(latRounds.store.map((x) => x[0]))), p99: round2(median(latRounds.store.map((x) => x[1]))), p99_rounds: latRounds.store.map((x) => round2(x[1])) },
      raw: { p50: round2(median(latRounds.raw.map((x) => x[0]))), p99: round2(median(latRounds.raw.map((x) => x[1]))), p99_rounds: latRounds.raw.map((x) => round2(x[1])) },
    },
    client_cpu_us_per_pipelined_write: { store: round2(median(cpu.store)), raw: round2(median(cpu.raw)) },
    storeMs: seqStoreMs + pipeStoreMs,
    rawMs: seqRawMs + pipeRawMs,
  };
  console.log(JSON.stringify(out));
  return out;
}

/** failoverStall kills the R3 stream leader -9 while a writer commits, and returns the longest gap between acks (s). */
async function failoverStall(cluster: Awaited<ReturnType<typeof startNatsCluster>>): Promise<number> {
  const nc = await connect({ servers: cluster.urls, name: 'bench-failover' });
  const b = await Bucket.open<Payload>(nc, { name: `fo_${randomBytes(3).toString('hex')}`, replicas: 3, timeoutMs: 1000 }, codec, { log: silentLogger() });
  const jsm = await jetstreamManager(nc);
  const leaderName = (await jsm.streams.info(b.stream)).cluster?.leader;
  const victim = cluster.servers.findIndex((s) => s.name === leaderName);
  if (victim < 0) throw new Error('no stream leader found');
  let acked = 0;
  let last = performance.now();
  let maxGap = 0;
  let killedAt = 0;
  let n = 0;
  // Bounded: writes that never succeed again after the kill fail the run naming the last error
  // (the loop used to retry forever). A failed write is retried after a short pause, not at once.
  const deadline = performance.now() + STEP_MS;
  let failures = 0;
  let lastError = '';
  phase = 'R3 failover: writes across a leader kill';
  while (killedAt === 0 || acked < 500) {
    if (performance.now() > deadline) {
      throw new Error(`store bench: R3 failover: ${acked} writes acknowledged since the kill in ${STEP_MS / 1000} s (${failures} failed; last: ${lastError})`);
    }
    if (acked === 300 && killedAt === 0) {
      killedAt = performance.now();
      await within(30_000, 'R3 failover: kill -9 of the stream leader', cluster.kill(victim));
      acked = 0;
    }
    try {
      await b.put(`s.${n % 100}`, payload(n));
      n++;
      acked++;
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    } catch (err) {
      if (!isGitcellError(err, StoreErrorCodes.Unavailable) && !isGitcellError(err, StoreErrorCodes.Failed)) throw err;
      failures++;
      lastError = err instanceof Error ? err.message : String(err);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await nc.close();
  await within(60_000, 'R3 failover: restart of the killed server', cluster.restart(victim));
  return maxGap / 1000;
}

// The last guard: whatever was not bounded above, the run ends with the phase it was in.
setTimeout(() => {
  console.error(`store bench: no result after 20 minutes; stuck in: ${phase}`);
  process.exit(1);
}, 20 * 60_000).unref();
const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
const single = await startNatsServer();
try {
  results.r1 = await measure('R1', [single.url], 1);
} finally {
  await single.stop();
}
const cluster = await startNatsCluster();
let stall = NaN;
try {
  results.r3 = await measure('R3', cluster.urls, 3);
  stall = await within(STEP_MS + 60_000, 'R3 failover', failoverStall(cluster));
} finally {
  await cluster.stop();
}
const r1 = results.r1!;
const r3 = results.r3!;
const summary = {
  store_overhead_ratio: round2((r1.storeMs + r3.storeMs) / (r1.rawMs + r3.rawMs)),
  r1_seq_cas_writes_per_s: r1.seq_cas_writes_per_s.store,
  r1_pipelined_writes_per_s: r1.pipelined_writes_per_s.store,
  r3_seq_cas_writes_per_s: r3.seq_cas_writes_per_s.store,
  r3_pipelined_writes_per_s: r3.pipelined_writes_per_s.store,
  raw_r3_pipelined_writes_per_s: r3.pipelined_writes_per_s.raw,
  overhead_ratios: { r1_seq: r1.seq_cas_writes_per_s.ratio, r1_pipe: r1.pipelined_writes_per_s.ratio, r3_seq: r3.seq_cas_writes_per_s.ratio, r3_pipe: r3.pipelined_writes_per_s.ratio },
  client_cpu_us_per_write: { store: r3.client_cpu_us_per_pipelined_write.store, raw: r3.client_cpu_us_per_pipelined_write.raw },
  load_average_1m: round2(loadavg()[0]!),
  watch_p50_ms: Math.max(r1.watch_latency_ms.store.p50, r3.watch_latency_ms.store.p50),
  watch_p99_ms: Math.max(r1.watch_latency_ms.store.p99, r3.watch_latency_ms.store.p99),
  raw_watch_p99_ms: Math.max(r1.watch_latency_ms.raw.p99, r3.watch_latency_ms.raw.p99),
  failover_write_stall_s: round2(stall),
  targets: { store_overhead_ratio: '<= 1.2', r3_pipelined_writes_per_s: '>= 5000', watch_p99_ms: '< 20' },
};
console.log(JSON.stringify(summary));
process.exit(0);
