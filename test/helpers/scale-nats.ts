/**
 * The scale harness's NATS (issue 17): the embedded nats-server (one, as `gitcell up` runs it) or a
 * cluster of N (test/helpers/nats.ts, the servers the clustered e2e test uses), each with its
 * monitoring port on a random loopback port; and `sampleNats`, which reads the servers'
 * `/jsz` and `/connz` and says who holds what: consumers per stream and per client (a consumer's
 * deliver subject is one of its client's subscriptions), subscriptions per client, and which server
 * leads each stream.
 */
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeyAuthenticator } from '@nats-io/transport-node';
import { fromSeed } from '@nats-io/nkeys';
import { silentLogger } from '../../lib/index.ts';
import { inboxPrefixFor, SLOW_CLIENT_CONFIG, startEmbedded } from '../../store/index.ts';
import { startNatsCluster } from './nats.ts';

/** ScaleNats is the harness's running NATS. */
export interface ScaleNats {
  /** each server's client URL */
  urls: string[];
  pids: number[];
  /** each server's monitoring base URL (http://127.0.0.1:PORT) */
  monitors: string[];
  /** each server's Go profiling base URL (with GITCELL_SCALE_PROFILE only; else empty) */
  profilers: string[];
  /** each server's placement tag (a cluster only): the streams spread over them (store/replicas.ts spreadTag) */
  tags: string[];
  stop(): Promise<void>;
  /** the last lines of each server's log */
  logTail(): string;
}

/** MONITOR_CONFIG asks each server for a monitoring port (a random free one, named in its ports file). */
const MONITOR_CONFIG = 'http: "127.0.0.1:-1"';

/**
 * PROFILE_CONFIG: with GITCELL_SCALE_PROFILE, a Go pprof port too (random, in the ports file), so
 * the bench can take nats-server's own CPU profile (its Debian binary is stripped: perf cannot name
 * its functions, the Go runtime's profile can).
 */
const PROFILE_CONFIG = process.env.GITCELL_SCALE_PROFILE ? 'prof_port: -1' : '';

function portFrom(portsDir: string, kind: 'monitoring' | 'profile'): string {
  const file = readdirSync(portsDir).find((f) => f.endsWith('.ports'));
  const url = file ? (JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as Record<string, string[] | undefined>)[kind]?.[0] : undefined;
  if (!url) throw new Error(`scale: no ${kind} port in ${portsDir}`);
  return kind === 'profile' && !url.includes('://') ? `http://${url}` : url;
}

function monitorFrom(portsDir: string): string {
  return portFrom(portsDir, 'monitoring');
}

function profilersFrom(portsDirs: string[]): string[] {
  return PROFILE_CONFIG ? portsDirs.map((d) => portFrom(d, 'profile')) : [];
}

function tailOf(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

/**
 * startScaleNats starts `servers` nats-servers (1: the embedded server in `<dir>/cluster`) with
 * `authorization` appended to their config; `controlSeed` is the seed file of a user the
 * readiness checks may connect as.
 */
export async function startScaleNats(o: { servers: number; dir: string; authorization: string; controlSeed: string }): Promise<ScaleNats> {
  const extraConfig = `${o.authorization}\n${MONITOR_CONFIG}\n${PROFILE_CONFIG}\n`;
  if (o.servers <= 1) {
    const stateDir = join(o.dir, 'cluster');
    const s = await startEmbedded({ stateDir, extraConfig, probeCreds: o.controlSeed, readyTimeoutMs: 60_000, log: silentLogger() });
    return {
      urls: [s.url], pids: [s.pid], monitors: [monitorFrom(join(stateDir, 'nats', 'ports'))], profilers: profilersFrom([join(stateDir, 'nats', 'ports')]), tags: [],
      stop: () => (keepLog(join(stateDir, 'nats', 'server.log')), s.stop()),
      logTail: () => `--- nats\n${tailOf(join(stateDir, 'nats', 'server.log'))}`,
    };
  }
  const seed = readFileSync(o.controlSeed, 'utf8').trim();
  const enc = new TextEncoder();
  const probe = { authenticator: nkeyAuthenticator(enc.encode(seed)), inboxPrefix: inboxPrefixFor(fromSeed(enc.encode(seed)).getPublicKey()) };
  const tags = Array.from({ length: o.servers }, (_, i) => `gitcell-s${i}`);
  // The embedded server's slow-client limits (store/embedded.ts), so both set-ups cut the same clients.
  const c = await startNatsCluster({ size: o.servers, extraConfig: `${extraConfig}${SLOW_CLIENT_CONFIG.join('\n')}\n`, probe, tags });
  return {
    urls: c.urls, pids: c.servers.map((s) => s.pid()!), monitors: c.servers.map((s) => monitorFrom(join(s.dir, 'ports'))), profilers: profilersFrom(c.servers.map((s) => join(s.dir, 'ports'))), tags, stop: () => c.stop(),
    logTail: () => c.servers.map((s) => `--- nats ${s.name}\n${tailOf(join(s.dir, 'server.log'))}`).join('\n'),
  };
}

/** keepLog copies the server's log into GITCELL_SCALE_PROFILE's dir (why clients were cut, slow API calls), best effort. */
function keepLog(file: string): void {
  const dir = process.env.GITCELL_SCALE_PROFILE;
  if (!dir) return;
  try {
    copyFileSync(file, join(dir, 'nats-0.log'));
  } catch {
    // no log to keep
  }
}

/** NatsSample is what the servers' monitoring endpoints said at one moment. */
export interface NatsSample {
  /** consumers on all servers, and per stream */
  consumers: number;
  consumersByStream: Record<string, number>;
  /** consumers per client connection name (matched by deliver subject; pull consumers and unmatched ones under "?") */
  consumersByClient: Record<string, number>;
  /** consumers per "<client> <stream>" */
  consumersByClientStream: Record<string, number>;
  /** subscriptions per client connection name, and all connections */
  subsByClient: Record<string, number>;
  connections: number;
  /** JetStream API requests served so far, summed over servers */
  apiTotal: number;
  /** per server: streams it leads, consumers it holds, client connections */
  servers: { streamsLed: number; consumers: number; connections: number }[];
}

interface Jsz {
  api?: { total?: number };
  account_details?: { stream_detail?: { name: string; cluster?: { leader?: string }; state?: { consumer_count?: number }; consumer_detail?: { config?: { deliver_subject?: string } }[] }[] }[];
}
interface Connz {
  connections?: { name?: string; subscriptions?: number; subscriptions_list?: string[] }[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`scale: ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const add = (m: Record<string, number>, k: string, n: number) => (m[k] = (m[k] ?? 0) + n);

/** sampleNats reads `/jsz` (streams and consumers) and `/connz` (subscriptions) of every server and adds them up. */
export async function sampleNats(monitors: string[]): Promise<NatsSample> {
  const [jsz, connz, varz] = await Promise.all([
    Promise.all(monitors.map((m) => getJson<Jsz>(`${m}/jsz?accounts=true&streams=true&consumers=true&config=true`))),
    Promise.all(monitors.map((m) => getJson<Connz>(`${m}/connz?subs=1&limit=100000`))),
    Promise.all(monitors.map((m) => getJson<{ server_name?: string }>(`${m}/varz`))),
  ]);
  const s: NatsSample = { consumers: 0, consumersByStream: {}, consumersByClient: {}, consumersByClientStream: {}, subsByClient: {}, connections: 0, apiTotal: 0, servers: [] };
  const owner = new Map<string, string>();
  for (const c of connz) {
    for (const conn of c.connections ?? []) {
      const name = conn.name ?? '?';
      add(s.subsByClient, name, conn.subscriptions ?? 0);
      for (const sub of conn.subscriptions_list ?? []) owner.set(sub, name);
    }
  }
  for (const [i, j] of jsz.entries()) {
    let consumers = 0;
    let led = 0;
    s.apiTotal += j.api?.total ?? 0;
    // A server's /jsz lists the streams it holds a replica of; the consumers are counted at the stream's leader only.
    for (const st of j.account_details?.flatMap((a) => a.stream_detail ?? []) ?? []) {
      const leads = monitors.length === 1 || !st.cluster?.leader || st.cluster.leader === varz[i]?.server_name;
      if (!leads) continue;
      led++;
      const n = st.state?.consumer_count ?? 0;
      consumers += n;
      add(s.consumersByStream, st.name, n);
      for (const cd of st.consumer_detail ?? []) {
        const client = owner.get(cd.config?.deliver_subject ?? '') ?? '?';
        add(s.consumersByClient, client, 1);
        add(s.consumersByClientStream, `${client} ${st.name}`, 1);
      }
    }
    const conns = connz[i]?.connections?.length ?? 0;
    s.servers.push({ streamsLed: led, consumers, connections: conns });
    s.consumers += consumers;
    s.connections += conns;
  }
  return s;
}

/**
 * Deliveries is a moment's count of writes per stream (its last sequence) and of messages each
 * consumer delivered (`delivered.consumer_seq`), with the consumer's stream and client (a pushed
 * consumer's deliver subject is its client's subscription; pulled ones are "(pull)").
 */
export interface Deliveries {
  streams: Record<string, number>;
  consumers: Record<string, { stream: string; client: string; delivered: number }>;
}

interface JszConsumers {
  account_details?: { stream_detail?: { name: string; state?: { last_seq?: number }; consumer_detail?: { name: string; delivered?: { consumer_seq?: number }; config?: { deliver_subject?: string } }[] }[] }[];
}

/** sampleDeliveries reads the servers' stream sequences and consumers' delivered counts (the accounting of issue 17's commit phase). */
export async function sampleDeliveries(monitors: string[]): Promise<Deliveries> {
  const [jsz, connz] = await Promise.all([
    Promise.all(monitors.map((m) => getJson<JszConsumers>(`${m}/jsz?accounts=true&streams=true&consumers=true&config=true`))),
    Promise.all(monitors.map((m) => getJson<Connz>(`${m}/connz?subs=1&limit=100000`))),
  ]);
  const owner = new Map<string, string>();
  for (const conn of connz.flatMap((c) => c.connections ?? [])) for (const sub of conn.subscriptions_list ?? []) owner.set(sub, conn.name ?? '?');
  const d: Deliveries = { streams: {}, consumers: {} };
  for (const st of jsz.flatMap((j) => j.account_details ?? []).flatMap((a) => a.stream_detail ?? [])) {
    d.streams[st.name] = Math.max(d.streams[st.name] ?? 0, st.state?.last_seq ?? 0);
    for (const cd of st.consumer_detail ?? []) {
      const subj = cd.config?.deliver_subject;
      d.consumers[`${st.name}/${cd.name}`] = { stream: st.name, client: subj ? owner.get(subj) ?? '?' : '(pull)', delivered: cd.delivered?.consumer_seq ?? 0 };
    }
  }
  return d;
}

/**
 * deliveriesBetween is, per stream, the writes between two samples and the deliveries per client
 * (a consumer absent from `then` counts from 0; one gone by `now` is not counted).
 */
export function deliveriesBetween(then: Deliveries, now: Deliveries): Record<string, { writes: number; deliveries: Record<string, number> }> {
  const out: Record<string, { writes: number; deliveries: Record<string, number> }> = {};
  for (const [s, seq] of Object.entries(now.streams)) out[s] = { writes: seq - (then.streams[s] ?? 0), deliveries: {} };
  for (const [k, c] of Object.entries(now.consumers)) {
    const n = c.delivered - (then.consumers[k]?.delivered ?? 0);
    if (n > 0 && out[c.stream]) add(out[c.stream]!.deliveries, c.client, n);
  }
  return out;
}
