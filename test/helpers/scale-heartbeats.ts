/**
 * What the nodes' heartbeats cost nats-server (issue 17: "heartbeats < 10% of NATS CPU"), measured
 * so that the machine's load does not decide the answer. Two windows of the idle cluster, one
 * with the hollow processes running (their only writes: lease renewals) and one with them
 * stopped (SIGSTOP: no renewals, everything else idles on as before); the difference in
 * nats-server CPU-seconds is the heartbeats' cost, and over the writes counted, the cost of one
 * renewal. A run's share is then its own renewals times that cost over nats-server's CPU-seconds in
 * the same run: both sides count work done, not wall time, so a loaded machine that stretches the
 * run stretches both (the older measure divided a rate in a quiet window by the run's rate, which
 * load shrank).
 *
 *   window with heartbeats ─► SIGSTOP hollow ─► drain ─► window without ─► SIGCONT
 *   cost = (cpu_with − cpu_without) / window ; per write = cost / writes in the window with
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { sleep } from '../../lib/index.ts';
import { bucketName } from '../../store/index.ts';
import { procStats } from './scale.ts';

/** HeartbeatCost is nats-server's CPU for the nodes' heartbeats on the idle cluster. */
export interface HeartbeatCost {
  /** lease and node-record writes/s in the window with heartbeats */
  writesPerS: number;
  /** nats-server CPU (100 = one core, summed over servers) with and without heartbeats */
  withPct: number;
  withoutPct: number;
  /** the heartbeats' own: with − without */
  costPct: number;
  /** nats-server CPU-µs per lease or node-record write */
  usPerWrite: number;
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

/** messages sums the servers' message counters (/varz in_msgs, out_msgs: clients, routes and JetStream's own). */
async function messages(monitors: readonly string[]): Promise<{ in: number; out: number }> {
  const all = await Promise.all(monitors.map(async (m) => (await (await fetch(`${m}/varz`, { signal: AbortSignal.timeout(30_000) })).json()) as { in_msgs?: number; out_msgs?: number }));
  return { in: all.reduce((n, v) => n + (v.in_msgs ?? 0), 0), out: all.reduce((n, v) => n + (v.out_msgs ?? 0), 0) };
}

const cpuS = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + procStats(pid).cpuS, 0);

/**
 * measureHeartbeatCost measures the two windows of `windowMs` each on the idle cluster: nats-server
 * `natsPids`, hollow processes `hollowPids` (stopped for the second window and `drainMs` before
 * it, continued after). The hollow processes are stopped for windowMs + drainMs: keep that below
 * the readiness grace minus a renewal period, or nodes go not ready.
 */
export async function measureHeartbeatCost(o: {
  nc: NatsConnection; natsPids: readonly number[]; natsMonitors: readonly string[]; hollowPids: readonly number[]; windowMs: number; drainMs?: number; log: (line: string) => void;
}): Promise<HeartbeatCost> {
  const writes = livenessWrites(o.nc);
  const window = async () => {
    const w0 = await writes();
    const m0 = await messages(o.natsMonitors);
    const c0 = cpuS(o.natsPids);
    const t0 = Date.now();
    await sleep(o.windowMs);
    const s = (Date.now() - t0) / 1000;
    const pct = ((cpuS(o.natsPids) - c0) / s) * 100;
    const m1 = await messages(o.natsMonitors);
    return { pct, writes: (await writes()) - w0, s, msgsIn: m1.in - m0.in, msgsOut: m1.out - m0.out };
  };
  const on = await window();
  for (const pid of o.hollowPids) process.kill(pid, 'SIGSTOP');
  let off: Awaited<ReturnType<typeof window>>;
  try {
    await sleep(o.drainMs ?? 2000);
    off = await window();
  } finally {
    for (const pid of o.hollowPids) process.kill(pid, 'SIGCONT');
  }
  const costPct = Math.max(0, on.pct - off.pct);
  const cost: HeartbeatCost = {
    writesPerS: on.writes / on.s, withPct: on.pct, withoutPct: off.pct, costPct,
    usPerWrite: on.writes > 0 ? ((costPct / 100) * on.s * 1e6) / on.writes : NaN,
  };
  o.log(`heartbeats: ${cost.writesPerS.toFixed(0)} lease and node-record writes/s; nats-server ${on.pct.toFixed(1)}% of a core with them, `
    + `${off.pct.toFixed(1)}% with the hollow processes stopped (${off.writes} writes): ${costPct.toFixed(1)}%, ${cost.usPerWrite.toFixed(0)} µs per write; `
    + `messages in/out per s ${(on.msgsIn / on.s).toFixed(0)}/${(on.msgsOut / on.s).toFixed(0)} with, ${(off.msgsIn / off.s).toFixed(0)}/${(off.msgsOut / off.s).toFixed(0)} without`);
  return cost;
}

/** heartbeatShare is the heartbeats' share (%) of nats-server's CPU-seconds in a run that made `writes` liveness writes. Pure. */
export function heartbeatShare(cost: HeartbeatCost, writes: number, natsCpuS: number): number {
  return natsCpuS > 0 ? ((writes * cost.usPerWrite) / 1e6 / natsCpuS) * 100 : NaN;
}
