/**
 * Finding the cluster a CLI command talks to: `--nats` URLs (with `--creds`), else the embedded
 * server running for `--cluster-dir` (embedded.ts), else the NATS cluster a `gitcell up --nats`
 * recorded in that state dir; and the credentials a state dir holds for client commands.
 *
 *   connectFromOptions ──--nats──► connect
 *          │ no --nats
 *          ├──► <stateDir>/nats.url (findEmbeddedUrl) ──► connect with the state dir's seed + CA
 *          └──► <stateDir>/cluster.json (readExternalCluster) ──► connect to those URLs
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessage, type Logger } from '../lib/index.ts';
import { processAlive } from '../lib/process.ts';
import { writeFileAtomicSync } from '../lib/atomic-write.ts';
import { connect, splitServers } from './connect.ts';
import { StoreErrorCodes, storeError } from './errors.ts';
import { DEFAULT_STATE_DIR, findEmbeddedUrl, startEmbedded, type EmbeddedServer } from './embedded.ts';

/** ClusterOptions are the CLI's store options: `--nats`, `--cluster-dir` (as stateDir), `--creds`. */
export interface ClusterOptions {
  /** comma-separated NATS URLs of an existing cluster; without it, the embedded server */
  nats?: string;
  stateDir?: string;
  /** credentials file for --nats */
  creds?: string;
  /** connection name */
  name?: string;
  /** unanswered pings before the connection counts as stale (connect's `maxPingOut`) */
  maxPingOut?: number;
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
 * AUTOSCALER_SEED_FILE is the autoscaler's nkey seed (relative to the state dir): the reconciler
 * connects with it a second time for the autoscaler, the only identity that writes live counts.
 */
export const AUTOSCALER_SEED_FILE = join('nats', 'autoscaler.nk');

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
 * the URLs and credentials file of its NATS cluster, so client commands find it by `--cluster-dir`
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

/**
 * connectFromOptions connects a CLI command to the cluster: `--nats` URLs (with `--creds`), else the
 * embedded server running for `--cluster-dir`, else the NATS cluster of a `gitcell up --nats` on it. E_NO_CLUSTER (with what to do) when there is none.
 */
export async function connectFromOptions(opts: ClusterOptions = {}): Promise<NatsConnection> {
  if (opts.nats) return connect({ servers: opts.nats, ...(opts.creds ? { creds: opts.creds } : {}), ...(opts.name ? { name: opts.name } : {}), ...(opts.maxPingOut ? { maxPingOut: opts.maxPingOut } : {}) });
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const url = findEmbeddedUrl(stateDir);
  const external = url ? undefined : readExternalCluster(stateDir);
  if (external) {
    const creds = opts.creds ?? external.creds;
    return connect({ servers: external.nats, ...(creds ? { creds } : {}), ...(opts.name ? { name: opts.name } : {}), ...(opts.maxPingOut ? { maxPingOut: opts.maxPingOut } : {}) });
  }
  if (!url) {
    throw storeError(
      StoreErrorCodes.NoCluster,
      `no running gitcell cluster for cluster dir ${stateDir}: start one with \`gitcell up\`, or pass --nats nats://host:port`,
      { stateDir },
    );
  }
  const creds = opts.creds ?? stateDirCredentials(stateDir, opts.readOnly ?? false);
  const ca = join(stateDir, EMBEDDED_CA_FILE);
  const caFile = existsSync(ca) ? ca : undefined;
  try {
    // connect's default handshake timeout (15 s), not less: several clusters on a loaded 2-core
    // machine made 3 s time out against a live server. A dead one refuses at once anyway.
    return await connect({ servers: url, ...(creds ? { creds } : {}), ...(caFile ? { caFile } : {}), ...(opts.name ? { name: opts.name } : {}), ...(opts.maxPingOut ? { maxPingOut: opts.maxPingOut } : {}) });
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
    nc = await connect({ servers: embedded.url, ...(opts.name ? { name: opts.name } : {}), ...(opts.maxPingOut ? { maxPingOut: opts.maxPingOut } : {}) });
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
