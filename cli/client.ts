// Shared plumbing of the client commands (status, get, describe, events, rollout, plan): how they
// find the cluster (`--nats URL` or the `--cluster-dir` of a running `gitcell up`) and open its store.
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { silentLogger } from '../lib/log.ts';
import { UsageError } from '../lib/errors.ts';
import { addClusterOptions, CLUSTER_DIR_DEFAULT } from './options.ts';
import { connectFromOptions, openClusterStore, readExternalCluster, stateDirCredentials, DEFAULT_PREFIX, DEFAULT_STATE_DIR, VIEWER_SEED_FILE, type ClusterStore } from '../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../reconciler/index.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** ClientOptions are the cluster options every client command takes. */
export interface ClientOptions {
  nats?: string;
  clusterDir?: string;
  creds?: string;
  prefix?: string;
}

/** ClientStore is the typed cluster store the client commands read. */
export type ClientStore = ClusterStore<DesiredRecord, SyncRecord>;

/** addClientOptions adds the cluster options (cli/options.ts) to a client command. */
export function addClientOptions(cmd: Command): Command {
  return addClusterOptions(cmd, { clusterDir: CLUSTER_DIR_DEFAULT, clusterDirHelp: 'directory of a running `gitcell up` (or GITCELL_CLUSTER_DIR)', creds: 'NATS credentials file (with --nats)' });
}

/**
 * withStore connects, opens the store, runs `fn` (which only reads), and always closes the
 * connection. Pointed at a state dir without --creds it authenticates as the read-only viewer.
 */
export async function withStore<T>(opts: ClientOptions, name: string, fn: (store: ClientStore) => Promise<T>): Promise<T> {
  const nc = await connectReader(opts, name);
  try {
    const store = await openReaderStore(nc, opts);
    return await fn(store);
  } finally {
    await nc.close();
  }
}

/**
 * connectReader connects a command that only reads. Pointed at a state dir without --creds it
 * authenticates as the read-only viewer (least privilege), not as the control plane.
 */
export function connectReader(opts: ClientOptions, name: string): Promise<NatsConnection> {
  return connectFromOptions({
    ...(opts.nats ? { nats: opts.nats } : {}),
    ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}),
    ...(opts.creds ? { creds: opts.creds } : {}),
    name: `gitcell ${name}`,
    readOnly: true,
  });
}

/**
 * openReaderStore opens the store for a connection from connectReader: as the viewer it binds to
 * the buckets the control plane made (the viewer may not create or change any).
 */
export function openReaderStore(nc: NatsConnection, opts: ClientOptions): Promise<ClientStore> {
  const clusterDir = opts.clusterDir ?? DEFAULT_STATE_DIR;
  const viewer = !opts.nats && !opts.creds && readExternalCluster(clusterDir) === undefined && stateDirCredentials(clusterDir, true)?.endsWith(VIEWER_SEED_FILE) === true;
  return openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: opts.prefix ?? DEFAULT_PREFIX, log: silentLogger(), bindOnly: viewer });
}

/** outputFormat checks `-o`: "table" (default) or "json"; E_USAGE otherwise. */
export function outputFormat(o: string | undefined, allowed: readonly string[] = ['table', 'json']): string {
  const f = o ?? allowed[0]!;
  if (!allowed.includes(f)) throw new UsageError(ErrorCodes.Usage, `-o ${f}: expected one of ${allowed.join(', ')}`, { flag: '-o' });
  return f;
}

/** age renders how long ago an ISO time was: "5s", "3m", "2h", "4d". */
export function age(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** printJson writes a value as indented JSON and a newline. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** table is cli/table.ts's (here for the commands that import it with the client). */
export { table } from './table.ts';
