/**
 * The embedded default: without `--nats`, gitcell runs its own nats-server child with JetStream on a
 * free loopback port, data in `<stateDir>/nats` (reused across restarts), and stops it on exit.
 * Client commands find it through `<stateDir>/nats.url`.
 *
 *   startEmbedded ──► <stateDir>/nats/server.conf ──spawn──► nats-server (port -1, ports file)
 *        │                                                        │ ready (JetStream answers)
 *        └──► <stateDir>/nats.url, nats.pid  ◄── connectFromOptions (CLI commands) ─┘
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { connect as rawConnect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger, errorMessage, type Logger, ErrorCodes, StoreError } from '../lib/index.ts';
import { connect, splitServers } from './connect.ts';
import { StoreErrorCodes, storeError } from './errors.ts';
import { processAlive, WATCHDOG_SCRIPT } from '../lib/process.ts';
import { writeFileAtomicSync } from '../lib/atomic-write.ts';

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
  const previous = readPidFile(stateDir);
  if (previous && processAlive(previous.server) && isOurServer(previous.server, confPath)) {
    if (processAlive(previous.owner)) {
      throw new StoreError(
        ErrorCodes.EmbeddedRunning,
        `a gitcell NATS server (pid ${previous.server}, ${previous.url}) already runs for ${stateDir}, owned by pid ${previous.owner}; stop that gitcell first or use another --state-dir`,
        { stateDir, ...previous },
      );
    }
    log.warn({ serverPid: previous.server }, 'embedded nats: stopping a server left behind by a gitcell process that died');
    process.kill(previous.server, 'SIGTERM');
    for (let i = 0; i < 100 && processAlive(previous.server); i++) await new Promise((r) => setTimeout(r, 100));
    if (processAlive(previous.server)) process.kill(previous.server, 'SIGKILL');
  }
  await mkdir(join(natsDir, 'jetstream'), { recursive: true });
  await rm(portsDir, { recursive: true, force: true });
  await mkdir(portsDir, { recursive: true });
  // server_name stays the same across restarts: JetStream's metadata on disk is tied to it.
  await writeFile(
    confPath,
    [
      'server_name: gitcell-embedded',
      'host: 127.0.0.1',
      `port: ${opts.port ?? -1}`,
      `jetstream { store_dir: ${JSON.stringify(join(natsDir, 'jetstream'))} }`,
      opts.extraConfig ?? '',
      '',
    ].join('\n'),
    // The configuration may hold the authorization block: root only.
    { mode: 0o600 },
  );
  const logFd = openSync(join(natsDir, 'server.log'), 'a');
  // The server runs under a tiny sh watchdog holding the read end of a pipe from us: when this
  // process goes away in any way (exit, crash, kill -9) the pipe closes and the watchdog stops the
  // server gracefully, so no server outlives its owner. sh exits with the server's status.
  // Its own process group: a terminal's SIGHUP or Ctrl-C must not kill the watchdog while the
  // server (which takes SIGHUP as "reload") lives on; the pipe alone decides when it stops.
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'gitcell-nats', '/dev/null', binary, '-c', confPath, '--ports_file_dir', portsDir], {
    stdio: ['pipe', logFd, logFd],
    detached: true,
  });
  closeSync(logFd);
  child.stdin?.on('error', () => undefined); // EPIPE once the watchdog is gone
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let serverPid: number | undefined;
  const killNow = async (): Promise<void> => {
    child.stdin?.end();
    if (serverPid && processAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
    child.kill('SIGKILL');
    await exited;
  };
  const logTail = async (): Promise<string> => {
    try {
      return (await readFile(join(natsDir, 'server.log'), 'utf8')).split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  let url: string | undefined;
  try {
    while (!url) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode})`);
      if (Date.now() > deadline) throw new Error('timed out waiting for its listener');
      const f = (await readdir(portsDir)).find((n) => n.endsWith('.ports'));
      if (f) {
        serverPid = Number(/_(\d+)\.ports$/.exec(f)?.[1]) || undefined;
        // The server may still be writing the file: a partial read is retried, not an error.
        try {
          const ports = JSON.parse(await readFile(join(portsDir, f), 'utf8')) as { nats?: string[] };
          url = ports.nats?.[0];
        } catch {
          url = undefined;
        }
      }
      if (!url) await new Promise((r) => setTimeout(r, 25));
    }
    await waitJetStream(url, deadline, opts.probeCreds, opts.probeCaFile);
  } catch (err) {
    await killNow();
    throw new StoreError(ErrorCodes.EmbeddedStart, `embedded nats-server for ${stateDir} did not start: ${errorMessage(err)}\n${await logTail()}`, { stateDir });
  }
  if (!serverPid) {
    await killNow();
    throw new StoreError(ErrorCodes.EmbeddedStart, `embedded nats-server for ${stateDir}: cannot tell its pid from the ports file`, { stateDir });
  }
  const pidFile: PidFile = { server: serverPid, owner: process.pid, url };
  await writeFile(join(stateDir, 'nats.pid'), `${JSON.stringify(pidFile)}\n`);
  await writeFile(join(stateDir, 'nats.url'), `${url}\n`);
  log.info({ url, stateDir, serverPid }, 'embedded nats-server ready');
  let stopping: Promise<void> | undefined;
  return {
    url,
    pid: serverPid,
    stateDir,
    exited,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.stdin?.end(); // the watchdog sends the server SIGTERM and exits with it
          const timer = setTimeout(() => void killNow(), 10_000);
          await exited;
          clearTimeout(timer);
        }
        for (const f of ['nats.url', 'nats.pid']) rmSync(join(stateDir, f), { force: true });
        // Leftover ports files would confuse nobody, but keep the dir tidy.
        for (const f of readdirSyncSafe(portsDir)) rmSync(join(portsDir, f), { force: true });
      })()),
  };
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

/** ClusterOptions are the CLI's store options: `--nats`, `--state-dir`, `--creds`. */
export interface ClusterOptions {
  /** comma-separated NATS URLs of an existing cluster; without it, the embedded server */
  nats?: string;
  stateDir?: string;
  /** credentials file for --nats */
  creds?: string;
  /** connection name */
  name?: string;
  /**
   * only reads: pointed at a state dir without --creds, the command authenticates as the read-only
   * viewer (least privilege) instead of the control plane
   */
  readOnly?: boolean;
}

/**
 * CONTROL_SEED_FILE is where `gitcell up` keeps the control plane's nkey seed, relative to the
 * state dir; client commands pointed at that state dir authenticate with it.
 */
export const CONTROL_SEED_FILE = join('nats', 'control.nk');

/**
 * EMBEDDED_TLS_DIR holds the CA and server certificate of `gitcell up`'s embedded server (relative to
 * the state dir); client commands verify the server against its `ca.pem`.
 */
export const EMBEDDED_TLS_DIR = join('nats', 'tls');

/** EMBEDDED_CA_FILE is the CA certificate client commands verify the embedded server with. */
export const EMBEDDED_CA_FILE = join(EMBEDDED_TLS_DIR, 'ca.pem');

/**
 * VIEWER_SEED_FILE is the read-only viewer's nkey seed (relative to the state dir): client commands
 * that only read use it when no other credential is given.
 */
export const VIEWER_SEED_FILE = join('nats', 'viewer.nk');

/**
 * EXTERNAL_CLUSTER_FILE (`<state>/cluster.json`) is written by a `gitcell up --nats` while it runs:
 * the URLs and credentials file of its NATS cluster, so client commands find it by `--state-dir`
 * as they find an embedded server.
 */
export const EXTERNAL_CLUSTER_FILE = 'cluster.json';

/** ExternalCluster is the content of EXTERNAL_CLUSTER_FILE. */
export interface ExternalCluster {
  nats: string;
  creds?: string;
  /** pid of the `gitcell up` that wrote it: a file whose owner is gone is ignored */
  owner: number;
}

/** writeExternalCluster records the NATS cluster a `gitcell up --nats` runs on (0600: it names the credentials). */
export function writeExternalCluster(stateDir: string, c: Omit<ExternalCluster, 'owner'>): void {
  const file = join(resolve(stateDir), EXTERNAL_CLUSTER_FILE);
  writeFileAtomicSync(file, `${JSON.stringify({ ...c, ...(c.creds ? { creds: resolve(c.creds) } : {}), owner: process.pid })}\n`, { mode: 0o600 });
}

/** removeExternalCluster removes the record when that `gitcell up` stops. */
export function removeExternalCluster(stateDir: string): void {
  rmSync(join(resolve(stateDir), EXTERNAL_CLUSTER_FILE), { force: true });
}

/** readExternalCluster returns the record of a running `gitcell up --nats` for a state dir, if any. */
export function readExternalCluster(stateDir: string): ExternalCluster | undefined {
  try {
    const c = JSON.parse(readFileSync(join(resolve(stateDir), EXTERNAL_CLUSTER_FILE), 'utf8')) as Partial<ExternalCluster>;
    if (typeof c.nats !== 'string' || typeof c.owner !== 'number' || !processAlive(c.owner)) return undefined;
    return { nats: c.nats, owner: c.owner, ...(typeof c.creds === 'string' ? { creds: c.creds } : {}) };
  } catch {
    return undefined;
  }
}

/** findEmbeddedUrl returns the URL of the embedded server running for a state dir, if any. */
export function findEmbeddedUrl(stateDir = DEFAULT_STATE_DIR): string | undefined {
  const dir = resolve(stateDir);
  const p = readPidFile(dir);
  if (!p || !processAlive(p.server)) return undefined;
  return p.url;
}

/**
 * connectFromOptions connects a CLI command to the cluster: `--nats` URLs (with `--creds`), else the
 * embedded server running for `--state-dir`, else the NATS cluster of a `gitcell up --nats` on it. E_NO_CLUSTER (with what to do) when there is none.
 */
export async function connectFromOptions(opts: ClusterOptions = {}): Promise<NatsConnection> {
  if (opts.nats) return connect({ servers: opts.nats, ...(opts.creds ? { creds: opts.creds } : {}), ...(opts.name ? { name: opts.name } : {}) });
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const url = findEmbeddedUrl(stateDir);
  const external = url ? undefined : readExternalCluster(stateDir);
  if (external) {
    const creds = opts.creds ?? external.creds;
    return connect({ servers: external.nats, ...(creds ? { creds } : {}), ...(opts.name ? { name: opts.name } : {}) });
  }
  if (!url) {
    throw storeError(
      StoreErrorCodes.NoCluster,
      `no running gitcell cluster for state dir ${stateDir}: start one with \`gitcell up\`, or pass --nats nats://host:port`,
      { stateDir },
    );
  }
  const creds = opts.creds ?? stateDirCredentials(stateDir, opts.readOnly ?? false);
  const ca = join(stateDir, EMBEDDED_CA_FILE);
  const caFile = existsSync(ca) ? ca : undefined;
  try {
    // connect's default handshake timeout (15 s), not less: several clusters on a loaded 2-core
    // machine made 3 s time out against a live server. A dead one refuses at once anyway.
    return await connect({ servers: url, ...(creds ? { creds } : {}), ...(caFile ? { caFile } : {}), ...(opts.name ? { name: opts.name } : {}) });
  } catch (err) {
    throw storeError(StoreErrorCodes.NoCluster, `the gitcell NATS server for ${stateDir} (${url}) does not answer: ${errorMessage(err)}`, { stateDir, url }, err);
  }
}

/**
 * stateDirCredentials is the credential a client command finds in a `gitcell up` state dir: the
 * viewer's for a command that only reads (when there is one), else the control plane's.
 */
export function stateDirCredentials(stateDir: string, readOnly: boolean): string | undefined {
  const viewer = join(resolve(stateDir), VIEWER_SEED_FILE);
  if (readOnly && existsSync(viewer)) return viewer;
  const control = join(resolve(stateDir), CONTROL_SEED_FILE);
  return existsSync(control) ? control : undefined;
}

/** StartedCluster is a connection plus the embedded server it started, if any. */
export interface StartedCluster {
  nc: NatsConnection;
  /** the embedded server this process owns (undefined with --nats) */
  embedded?: EmbeddedServer;
  /** suggested replica count: 1 embedded or single server, 3 for a cluster of 3-4, 5 for 5+ */
  replicas: number;
  /** close drains the connection and stops the embedded server */
  close(): Promise<void>;
}

/**
 * startOrConnect is for long-running commands (`gitcell up`): connect to `--nats`, or start the
 * embedded server for the state dir and connect to it.
 */
export async function startOrConnect(opts: ClusterOptions & { log?: Logger } = {}): Promise<StartedCluster> {
  if (opts.nats) {
    const nc = await connectFromOptions(opts);
    const n = splitServers(opts.nats).length;
    return { nc, replicas: n >= 5 ? 5 : n >= 3 ? 3 : 1, close: () => nc.drain().catch(() => nc.close()) };
  }
  const embedded = await startEmbedded({ ...(opts.stateDir ? { stateDir: opts.stateDir } : {}), ...(opts.log ? { log: opts.log } : {}) });
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: embedded.url, ...(opts.name ? { name: opts.name } : {}) });
  } catch (err) {
    await embedded.stop();
    throw err;
  }
  return {
    nc,
    embedded,
    replicas: 1,
    close: async () => {
      await nc.drain().catch(() => nc.close());
      await embedded.stop();
    },
  };
}
