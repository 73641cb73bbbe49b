/**
 * The embedded default: without `--nats`, gitcell runs its own nats-server child with JetStream on a
 * free loopback port, data in `<stateDir>/nats` (reused across restarts), and stops it on exit.
 * Client commands find it through `<stateDir>/nats.url`.
 *
 *   startEmbedded ──► <stateDir>/nats/server.conf ──spawn──► nats-server (port -1, ports file)
 *        │                                                        │ ready (JetStream answers)
 *        └──► <stateDir>/nats.url, nats.pid  ◄── connectFromOptions (CLI commands) ─┘
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { connect as rawConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger, errorMessage, type Logger, ErrorCodes, StoreError } from '../lib/index.ts';
import { connect } from './connect.ts';
import { processAlive, WATCHDOG_SCRIPT } from '../lib/process.ts';

/** DEFAULT_STATE_DIR is where gitcell keeps local state, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.gitcell';

/** DEFAULT_NATS_SERVER is the nats-server binary (Debian's path); override with GITCELL_NATS_SERVER. */
export const DEFAULT_NATS_SERVER = process.env.GITCELL_NATS_SERVER ?? '/usr/sbin/nats-server';

/** EmbeddedOptions configure startEmbedded. */
export interface EmbeddedOptions {
  /** state directory (default .gitcell under the working directory) */
  stateDir?: string;
  /** nats-server binary */
  binary?: string;
  /** how long to wait for the server to be ready (default 20 s) */
  readyTimeoutMs?: number;
  /** extraConfig is appended to the server configuration (e.g. `authorizationConfig(users)`) */
  extraConfig?: string;
  /** the address the server listens on (default 127.0.0.1; `gitcell up --isolated-nodes`: the underlay gateway) */
  host?: string;
  /** client port (default: a free one); a restart passes the previous one so clients reconnect */
  port?: number;
  /** credentials the readiness probe connects with (needed once extraConfig admits no anonymous client) */
  probeCreds?: string;
  /** CA file the readiness probe verifies the server with (when extraConfig turns TLS on) */
  probeCaFile?: string;
  log?: Logger;
}

/** EmbeddedServer is a running embedded nats-server owned by this process. */
export interface EmbeddedServer {
  readonly url: string;
  readonly pid: number;
  readonly stateDir: string;
  /** exited resolves when the server process ends (asked to by stop(), or not) */
  readonly exited: Promise<void>;
  /** stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and removes nats.url / nats.pid */
  stop(): Promise<void>;
}

/** PidFile is `<stateDir>/nats.pid`: the server's pid and the pid of the gitcell process that owns it. */
interface PidFile {
  server: number;
  owner: number;
  url: string;
}


function readPidFile(stateDir: string): PidFile | undefined {
  try {
    const p = JSON.parse(readFileSync(join(stateDir, 'nats.pid'), 'utf8')) as Partial<PidFile>;
    if (typeof p.server === 'number' && typeof p.owner === 'number' && typeof p.url === 'string') return p as PidFile;
  } catch {
    // missing or damaged: treated as no server
  }
  return undefined;
}

/** isOurServer tells whether pid is a nats-server running on this state dir's config (not a reused pid). */
function isOurServer(pid: number, confPath: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(confPath);
  } catch {
    return false;
  }
}

/**
 * startEmbedded starts the embedded nats-server for a state dir and resolves once JetStream
 * answers. The server stops when stop() is called or when this process ends in any way (a
 * watchdog on a pipe). A server somehow left behind by a gitcell process that died is stopped
 * first; one whose owner still runs is E_EMBEDDED_RUNNING (two servers on one data dir would
 * corrupt it).
 */
export async function startEmbedded(opts: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const binary = opts.binary ?? DEFAULT_NATS_SERVER;
  const log = opts.log ?? createLogger('nats');
  const natsDir = join(stateDir, 'nats');
  const confPath = join(natsDir, 'server.conf');
  const portsDir = join(natsDir, 'ports');
  if (!existsSync(binary)) {
    throw new StoreError(ErrorCodes.NatsServerMissing, `nats-server not found at ${binary}: install the Debian package nats-server (scripts/bootstrap.sh) or pass --nats`, { binary });
  }
  await stopLeftBehind(stateDir, confPath, log);
  await writeServerConfig(natsDir, confPath, portsDir, opts);
  const server = spawnUnderWatchdog(binary, confPath, natsDir, portsDir);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  let url: string;
  try {
    url = await waitForListener(server, portsDir, deadline);
    await waitJetStream(url, deadline, opts.probeCreds, opts.probeCaFile);
  } catch (err) {
    await server.killNow();
    throw new StoreError(ErrorCodes.EmbeddedStart, `embedded nats-server for ${stateDir} did not start: ${errorMessage(err)}\n${await logTail(natsDir)}`, { stateDir });
  }
  const serverPid = server.pid;
  if (!serverPid) {
    await server.killNow();
    throw new StoreError(ErrorCodes.EmbeddedStart, `embedded nats-server for ${stateDir}: cannot tell its pid from the ports file`, { stateDir });
  }
  const pidFile: PidFile = { server: serverPid, owner: process.pid, url };
  await writeFile(join(stateDir, 'nats.pid'), `${JSON.stringify(pidFile)}\n`);
  await writeFile(join(stateDir, 'nats.url'), `${url}\n`);
  log.info({ url, stateDir, serverPid }, 'embedded nats-server ready');
  const { child } = server;
  let stopping: Promise<void> | undefined;
  return {
    url,
    pid: serverPid,
    stateDir,
    exited: server.exited,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.stdin?.end(); // the watchdog sends the server SIGTERM and exits with it
          const timer = setTimeout(() => void server.killNow(), 10_000);
          await server.exited;
          clearTimeout(timer);
        }
        for (const f of ['nats.url', 'nats.pid']) rmSync(join(stateDir, f), { force: true });
        // Leftover ports files would confuse nobody, but keep the dir tidy.
        for (const f of readdirSyncSafe(portsDir)) rmSync(join(portsDir, f), { force: true });
      })()),
  };
}

/**
 * stopLeftBehind stops a server a gitcell process that died left on this data dir; one whose owner
 * still runs is E_EMBEDDED_RUNNING (two servers on one JetStream data dir would corrupt it).
 */
async function stopLeftBehind(stateDir: string, confPath: string, log: Logger): Promise<void> {
  const previous = readPidFile(stateDir);
  if (!previous || !processAlive(previous.server) || !isOurServer(previous.server, confPath)) return;
  if (processAlive(previous.owner)) {
    throw new StoreError(
      ErrorCodes.EmbeddedRunning,
      `a gitcell NATS server (pid ${previous.server}, ${previous.url}) already runs for ${stateDir}, owned by pid ${previous.owner}; stop that gitcell first or use another --cluster-dir`,
      { stateDir, ...previous },
    );
  }
  log.warn({ serverPid: previous.server }, 'embedded nats: stopping a server left behind by a gitcell process that died');
  process.kill(previous.server, 'SIGTERM');
  for (let i = 0; i < 100 && processAlive(previous.server); i++) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(previous.server)) process.kill(previous.server, 'SIGKILL');
}

/**
 * SLOW_CLIENT_CONFIG is how long and how much nats-server buffers for a client that reads slower
 * than it is written to, before it cuts the connection as a "slow consumer" (every watch of that
 * client then restarts with a full replay, which starves the others in turn: 10,000 hollow nodes,
 * issue 17). Everything shares one machine, so a client can be starved of CPU for seconds:
 * - write_deadline 60 s (nats-server's default 10 s cut such a client);
 * - max_pending 256 MiB (default 64 MiB): a push consumer with flow control may be owed up to
 *   32 MiB (nats-server's JsFlowControlMaxPending), so a client following two busy buckets
 *   (a process of hollow nodes: task specs and bindings) reached 64 MiB by flow control alone and
 *   was cut ("Slow Consumer Detected: MaxPending of 67108864 Exceeded", 1 run in 3 at 10,000 nodes).
 *   256 MiB is eight such windows; a client that really stops reading is still cut by the deadline.
 */
export const SLOW_CLIENT_CONFIG: readonly string[] = ['write_deadline: "60s"', 'max_pending: 256MB'];

/** writeServerConfig writes server.conf (root only: it may hold the authorization block) and empties the ports dir. */
async function writeServerConfig(natsDir: string, confPath: string, portsDir: string, opts: EmbeddedOptions): Promise<void> {
  await mkdir(join(natsDir, 'jetstream'), { recursive: true });
  await rm(portsDir, { recursive: true, force: true });
  await mkdir(portsDir, { recursive: true });
  // server_name stays the same across restarts: JetStream's metadata on disk is tied to it.
  const lines = [
    'server_name: gitcell-embedded',
    `host: ${opts.host ?? '127.0.0.1'}`,
    `port: ${opts.port ?? -1}`,
    `jetstream { store_dir: ${JSON.stringify(join(natsDir, 'jetstream'))} }`,
    ...SLOW_CLIENT_CONFIG,
    opts.extraConfig ?? '',
    '',
  ];
  await writeFile(confPath, lines.join('\n'), { mode: 0o600 });
}

/** WatchedServer is the watchdog child, the server's pid once known, and a way to kill both now. */
interface WatchedServer {
  child: ChildProcess;
  exited: Promise<void>;
  pid: number | undefined;
  killNow(): Promise<void>;
}

/**
 * spawnUnderWatchdog runs the server under a tiny sh watchdog holding the read end of a pipe from
 * us: when this process goes away in any way (exit, crash, kill -9) the pipe closes and the
 * watchdog stops the server gracefully, so no server outlives its owner. sh exits with the
 * server's status. Its own process group: a terminal's SIGHUP or Ctrl-C must not kill the watchdog
 * while the server (which takes SIGHUP as "reload") lives on; the pipe alone decides when it stops.
 */
function spawnUnderWatchdog(binary: string, confPath: string, natsDir: string, portsDir: string): WatchedServer {
  const logFd = openSync(join(natsDir, 'server.log'), 'a');
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'gitcell-nats', '/dev/null', binary, '-c', confPath, '--ports_file_dir', portsDir], {
    stdio: ['pipe', logFd, logFd],
    detached: true,
  });
  closeSync(logFd);
  child.stdin?.on('error', () => undefined); // EPIPE once the watchdog is gone
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const server: WatchedServer = {
    child,
    exited,
    pid: undefined,
    async killNow() {
      child.stdin?.end();
      if (server.pid && processAlive(server.pid)) process.kill(server.pid, 'SIGKILL');
      child.kill('SIGKILL');
      await exited;
    },
  };
  return server;
}

/** waitForListener reads the server's URL (and pid) from its ports file; the server may still be writing it. */
async function waitForListener(server: WatchedServer, portsDir: string, deadline: number): Promise<string> {
  const { child } = server;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode})`);
    if (Date.now() > deadline) throw new Error('timed out waiting for its listener');
    const f = (await readdir(portsDir)).find((n) => n.endsWith('.ports'));
    if (f) {
      server.pid = Number(/_(\d+)\.ports$/.exec(f)?.[1]) || undefined;
      // A partial read is retried, not an error.
      try {
        const url = (JSON.parse(await readFile(join(portsDir, f), 'utf8')) as { nats?: string[] }).nats?.[0];
        if (url) return url;
      } catch {
        // not complete yet
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function logTail(natsDir: string): Promise<string> {
  try {
    return (await readFile(join(natsDir, 'server.log'), 'utf8')).split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function waitJetStream(url: string, deadline: number, creds: string | undefined, caFile: string | undefined): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const nc = creds || caFile
        ? await connect({ servers: url, timeoutMs: 1000, ...(creds ? { creds } : {}), ...(caFile ? { caFile } : {}) })
        : await rawConnect({ servers: url, reconnect: false, timeout: 1000 });
      try {
        await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo();
        return;
      } finally {
        await nc.close().catch(() => undefined);
      }
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`JetStream not ready: ${errorMessage(last)}`);
}

/** findEmbeddedUrl returns the URL of the embedded server running for a state dir, if any. */
export function findEmbeddedUrl(stateDir = DEFAULT_STATE_DIR): string | undefined {
  const dir = resolve(stateDir);
  const p = readPidFile(dir);
  if (!p || !processAlive(p.server)) return undefined;
  return p.url;
}
