import { readFile } from 'node:fs/promises';
import { connect as natsConnect, credsAuthenticator, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { StoreErrorCodes, storeError } from './errors.ts';

/** ConnectOptions are how a gitcell component reaches NATS. */
export interface ConnectOptions {
  /** server URLs: an array or one comma-separated string ("nats://a:4222,nats://b:4222") */
  servers: string | string[];
  /**
   * path of a NATS credentials file: a `.creds` file (JWT + nkey seed, operator mode) or a file
   * holding just an nkey user seed (`SU...`, how `gitcell up` authenticates its own components)
   */
  creds?: string;
  /** same as `creds`, for callers that know they hold an nkey seed */
  nkeySeedFile?: string;
  /** connection name shown by the server (monitoring, logs) */
  name?: string;
  /** connect timeout in ms (default 15000: a loaded machine can take seconds to answer the handshake) */
  timeoutMs?: number;
}

/** splitServers turns "a,b" or ["a", "b,c"] into a clean list of server URLs. */
export function splitServers(servers: string | string[]): string[] {
  const list = (Array.isArray(servers) ? servers : [servers]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return list;
}

/**
 * connect opens a NATS connection that reconnects forever (a component outlives server restarts
 * and failovers; callers end it with close()). Failure to reach any server at first is
 * E_STORE_UNAVAILABLE naming the servers; an unreadable credentials file names the file.
 */
export async function connect(opts: ConnectOptions): Promise<NatsConnection> {
  const servers = splitServers(opts.servers);
  if (servers.length === 0) throw storeError(StoreErrorCodes.NoCluster, 'no NATS server URL given', {});
  const file = opts.creds ?? opts.nkeySeedFile;
  const authenticator = file ? await authenticatorFromFile(file) : undefined;
  try {
    return await natsConnect({
      servers,
      name: opts.name ?? 'gitcell',
      timeout: opts.timeoutMs ?? 15_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A restarting embedded server comes back on the same port within a second or two; keep
      // pinging often enough to notice a dead server quickly (2 missed pings at 2 s).
      pingInterval: 2000,
      maxPingOut: 2,
      ...(authenticator ? { authenticator } : {}),
    });
  } catch (err) {
    throw storeError(StoreErrorCodes.Unavailable, `cannot connect to NATS at ${servers.join(',')}: ${(err as Error).message}`, { servers }, err);
  }
}

const disconnects = new WeakMap<NatsConnection, { next: Promise<never> }>();

/**
 * disconnected returns a promise that rejects with E_STORE_UNAVAILABLE at the connection's next
 * disconnect. Racing a request against it turns "wait out the request timeout" into "fail as soon
 * as the server is gone", so a writer retries on the next server at once (nats.js keeps requests
 * pending across a reconnect until they time out).
 */
export function disconnected(nc: NatsConnection): Promise<never> {
  let entry = disconnects.get(nc);
  if (!entry) {
    const e = { next: armed() };
    entry = e;
    disconnects.set(nc, e);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          const fired = e.next;
          e.next = armed();
          rejectors.get(fired)?.();
        }
      }
    })();
  }
  return entry.next;
}

const rejectors = new WeakMap<Promise<never>, () => void>();
function armed(): Promise<never> {
  let reject!: (err: unknown) => void;
  const p = new Promise<never>((_, r) => (reject = r));
  // Nobody may be racing it when it fires: never an unhandled rejection.
  p.catch(() => undefined);
  rejectors.set(p, () => reject(storeError(StoreErrorCodes.Unavailable, 'NATS connection lost while waiting for the answer (the write may or may not have happened)', {})));
  return p;
}

/** authenticatorFromFile reads a credentials file, telling a bare nkey seed from a `.creds` file. */
async function authenticatorFromFile(file: string) {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw storeError(StoreErrorCodes.Unavailable, `credentials file ${file}: ${(err as Error).message}`, { file }, err);
  }
  if (/^SU[A-Z2-7]{50,}$/.test(text)) return nkeyAuthenticator(new TextEncoder().encode(text));
  if (!text.includes('-----BEGIN NATS USER JWT-----')) {
    throw storeError(StoreErrorCodes.Unavailable, `credentials file ${file}: neither a NATS .creds file nor an nkey user seed (SU...)`, { file });
  }
  return credsAuthenticator(new TextEncoder().encode(text));
}

/**
 * closeConnection drains `nc` (pending publishes flushed) but for at most `ms`: a drain waits for a
 * server, and a component stopping after its NATS went away (gitcell up shutting down) must still
 * exit. Then the connection is closed.
 */
export async function closeConnection(nc: NatsConnection, ms = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  await Promise.race([nc.drain().catch(() => undefined), late]);
  clearTimeout(timer);
  await nc.close().catch(() => undefined);
}
