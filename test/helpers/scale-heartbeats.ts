/**
 * What the nodes' heartbeats cost nats-server (issue 17: "heartbeats < 10% of NATS CPU"), measured
 * so that the machine's load does not decide the answer. On the idle cluster, whose only writes are
 * the nodes' lease renewals, windows alternate: in one the harness adds lease renewals of its own
 * (the same puts to the same keys, one in 4 acknowledged as the agents send them, evenly spread,
 * at three times the nodes' own rate: a larger difference than the idle server's own swings), in
 * the next it adds none. Each pair of windows gives one price of a renewal: the difference in
 * nats-server CPU-seconds per second over the difference in lease writes per second (both counted,
 * not assumed), and the same for its context switches. The figures are the medians of the pairs,
 * and their spread says how far to trust them.
 *
 *   [with extra | without] [without | with extra] ... (pairs alternate their order: a drift of the
 *   machine's load between windows cancels out over two pairs)
 *   price = (cpu/s with − cpu/s without) / (writes/s with − writes/s without) ; median over pairs
 *
 * Why not stop the hollow processes for the "without" window (the measure of before): a stopped
 * agent's renewal timers all fire at once when it continues and stay bunched from then on, so every
 * later window, and the run after the measurement, saw bursts of renewals, which nats-server handles
 * at a fraction of the cost of spread ones; one pair was all the method could take, and two runs of
 * the same code differed by ±25 %. Adding renewals leaves the nodes' own renewals as they are.
 *
 * A run's share is then its own renewals times that price over nats-server's CPU-seconds in the
 * same run: both sides count work done, not wall time, so a loaded machine that stretches the run
 * stretches both.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NodeLease } from '../../api/index.ts';
import { sleep } from '../../lib/index.ts';
import { bucketName, type Bucket } from '../../store/index.ts';
import { procStats } from './scale.ts';

/** HeartbeatCost is nats-server's CPU for the nodes' heartbeats on the idle cluster. */
export interface HeartbeatCost {
  /** the nodes' own lease and node-record writes/s (in the windows without added renewals) */
  writesPerS: number;
  /** nats-server CPU (100 = one core, summed over servers) in the windows without added renewals: the nodes' renewals and the idle rest */
  withPct: number;
  /** withPct minus the nodes' renewals at their price: the idle cluster's CPU without heartbeats */
  withoutPct: number;
  /** the nodes' renewals at their price: usPerWrite x writesPerS */
  costPct: number;
  /** nats-server CPU-µs per lease write: the median of the pairs */
  usPerWrite: number;
  /** each pair's price, in the order measured */
  pairsUsPerWrite: number[];
  /** nats-server's context switches (its threads' wake-ups) per lease write: the median of the pairs, a count the machine's speed does not change */
  switchesPerWrite: number;
}

/** LivenessWrites counts the writes of the liveness buckets (node records and leases) so far, from their streams' sequences. */
export function livenessWrites(nc: NatsConnection): () => Promise<number> {
  const streams = [`KV_${bucketName('nodes')}`, `KV_${bucketName('heartbeats')}`];
  const jm = jetstreamManager(nc);
  return async () => {
    const m = await jm;
    return (await Promise.all(streams.map((s) => m.streams.info(s)))).reduce((n, i) => n + i.state.last_seq, 0);
  };
}

/**
 * cpuS is the CPU-seconds the processes used so far: the sum of their threads' run time
 * (/proc/PID/task/TID/schedstat, in ns; the 10 ms ticks of /proc/PID/stat were 5 % of a window's
 * difference), or the ticks where schedstat is missing.
 */
export function cpuS(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => {
    try {
      const ns = readdirSync(`/proc/${pid}/task`).reduce((n, tid) => n + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]), 0);
      return sum + ns / 1e9;
    } catch {
      return sum + procStats(pid).cpuS;
    }
  }, 0);
}

/** switches is the context switches of the processes' threads so far (voluntary and not, /proc/PID/task/TID/status). */
export function switches(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        for (const m of readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8').matchAll(/ctxt_switches:\s+(\d+)/g)) n += Number(m[1]);
      }
    } catch {
      // a thread that ended while read: its switches are lost either way
    }
  }
  return n;
}

/** median of a non-empty list. Pure. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Window is one measured window: seconds, nats-server CPU-seconds and liveness writes in it. */
interface Window {
  s: number;
  cpu: number;
  writes: number;
  /** context switches */
  cs: number;
}

/** pairPrice is one pair's price of a write (CPU-µs): the rate differences of its two windows. Pure. */
export function pairPrice(withExtra: Window, without: Window, of: 'cpu' | 'cs' = 'cpu'): number {
  const d = withExtra[of] / withExtra.s - without[of] / without.s;
  const dWrites = withExtra.writes / withExtra.s - without.writes / without.s;
  return dWrites > 0 ? (d / dWrites) * (of === 'cpu' ? 1e6 : 1) : NaN;
}

/**
 * measureHeartbeatCost measures `pairs` pairs of windows of `windowMs` each on the idle cluster:
 * nats-server `natsPids`, the added renewals written to `leases` under the keys `nodes` at
 * `extraPerS` a second. Nothing is stopped, so the nodes stay live whatever the windows' length.
 */
export async function measureHeartbeatCost(o: {
  nc: NatsConnection; natsPids: readonly number[]; leases: Pick<Bucket<NodeLease>, 'put' | 'send'>; nodes: readonly string[];
  extraPerS: number; pairs: number; windowMs: number; log: (line: string) => void;
}): Promise<HeartbeatCost> {
  const writes = livenessWrites(o.nc);
  const window = async (extra: boolean): Promise<Window> => {
    const w0 = await writes();
    const cs0 = switches(o.natsPids);
    const c0 = cpuS(o.natsPids);
    const t0 = Date.now();
    if (extra) await renewAtRate(o.leases, o.nodes, o.extraPerS, o.windowMs);
    else await sleep(o.windowMs);
    const s = (Date.now() - t0) / 1000;
    const cpu = cpuS(o.natsPids) - c0;
    const cs = switches(o.natsPids) - cs0;
    // (the last added renewals are counted once stored: a stream sequence read after them)
    await sleep(200);
    return { s, cpu, cs, writes: (await writes()) - w0 };
  };
  const prices: number[] = [];
  const csPrices: number[] = [];
  const plain: Window[] = [];
  for (let i = 0; i < o.pairs; i++) {
    const first = await window(i % 2 === 0);
    await sleep(1000);
    const second = await window(i % 2 !== 0);
    await sleep(1000);
    const [on, off] = i % 2 === 0 ? [first, second] : [second, first];
    plain.push(off);
    prices.push(pairPrice(on, off));
    csPrices.push(pairPrice(on, off, 'cs'));
    o.log(`heartbeats pair ${i + 1}: ${(on.writes / on.s).toFixed(0)} / ${(off.writes / off.s).toFixed(0)} writes/s, nats-server ${((on.cpu / on.s) * 100).toFixed(2)} / ${((off.cpu / off.s) * 100).toFixed(2)} % of a core with / without added renewals: ${prices.at(-1)!.toFixed(0)} µs, ${csPrices.at(-1)!.toFixed(1)} context switches per write`);
  }
  const usPerWrite = median(prices.filter((p) => Number.isFinite(p)));
  const plainS = plain.reduce((a, w) => a + w.s, 0);
  const writesPerS = plain.reduce((a, w) => a + w.writes, 0) / plainS;
  const withPct = (plain.reduce((a, w) => a + w.cpu, 0) / plainS) * 100;
  const costPct = (writesPerS * usPerWrite) / 1e4;
  const switchesPerWrite = median(csPrices.filter((p) => Number.isFinite(p)));
  const cost: HeartbeatCost = { writesPerS, withPct, withoutPct: withPct - costPct, costPct, usPerWrite, pairsUsPerWrite: prices, switchesPerWrite };
  o.log(`heartbeats: ${writesPerS.toFixed(0)} lease and node-record writes/s of the nodes; a write costs nats-server ${usPerWrite.toFixed(0)} µs `
    + `(median of ${prices.length} pairs, ${Math.min(...prices).toFixed(0)}..${Math.max(...prices).toFixed(0)}) and ${switchesPerWrite.toFixed(1)} context switches; nats-server ${withPct.toFixed(1)} % of a core, ${costPct.toFixed(1)} % of it the renewals`);
  return cost;
}

/**
 * renewAtRate renews leases of `nodes` (round robin) at `perS` a second for `ms`, evenly spread, one
 * in 4 acknowledged (awaited at the end) and the rest sent without a reply, as agents renew
 * (agent/heartbeat.ts RENEWAL_CHECK_EVERY).
 */
async function renewAtRate(leases: Pick<Bucket<NodeLease>, 'put' | 'send'>, nodes: readonly string[], perS: number, ms: number): Promise<void> {
  const acks: Promise<unknown>[] = [];
  const t0 = Date.now();
  let sent = 0;
  while (Date.now() - t0 < ms) {
    const due = Math.floor(((Date.now() - t0) / 1000) * perS);
    for (; sent < due; sent++) {
      const key = nodes[sent % nodes.length]!;
      if (sent % 4 === 3) acks.push(leases.put(key, {}).catch(() => undefined));
      else leases.send(key, {});
    }
    await sleep(Math.max(1, 1000 / perS));
  }
  await Promise.all(acks);
}

/** heartbeatShare is the heartbeats' share (%) of nats-server's CPU-seconds in a run that made `writes` liveness writes. Pure. */
export function heartbeatShare(cost: HeartbeatCost, writes: number, natsCpuS: number): number {
  return natsCpuS > 0 ? ((writes * cost.usPerWrite) / 1e6 / natsCpuS) * 100 : NaN;
}
