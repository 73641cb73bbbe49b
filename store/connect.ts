import { readFile } from 'node:fs/promises';
import { connect as natsConnect, createInbox, type Authenticator, type NatsConnection } from '@nats-io/transport-node';
import { nkeyAuth, nkeySigner, type NkeySigner } from './nkey.ts';
import { hostedLife } from '../lib/component-life.ts';
import { StoreErrorCodes, storeError } from './errors.ts';
import { inboxPrefixFor } from './permissions.ts';
import { flushPerTurn } from './turn-flush.ts';

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
  /**
   * how many 2-s pings may go unanswered before the connection counts as stale and is dropped
   * (default 2). The server's PONG queues behind every message it sent before: a client reading
   * megabytes behind (a process of thousands of hollow nodes following the whole store, at a
   * commit) misses it without anything being wrong.
   */
  maxPingOut?: number;
  /**
   * PEM file of the CA that signed the servers' certificates: the connection then requires TLS and
   * verifies the server (a server without a certificate from this CA is refused); default: the
   * environment variable GITCELL_NATS_CA (how `gitcell up` and systemd units hand it to components)
   */
  caFile?: string;
}

/** splitServers turns "a,b" or ["a", "b,c"] into a clean list of server URLs. */
export function splitServers(servers: string | string[]): string[] {
  const list = (Array.isArray(servers) ? servers : [servers]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return list;
}

/**
 * connect opens a NATS connection that reconnects forever (a component outlives server restarts
 * and failovers; callers end it with close()) and writes once per event-loop turn (store/turn-flush.ts). Failure to reach any server at first is
 * E_STORE_UNAVAILABLE naming the servers; an unreadable credentials file names the file.
 */
export async function connect(opts: ConnectOptions): Promise<NatsConnection> {
  const servers = splitServers(opts.servers);
  if (servers.length === 0) throw storeError(StoreErrorCodes.NoCluster, 'no NATS server URL given', {});
  const file = opts.creds ?? opts.nkeySeedFile;
  const auth = file ? await authenticatorFromFile(file) : undefined;
  const caFile = opts.caFile ?? (process.env.GITCELL_NATS_CA || undefined);
  if (caFile) await readCa(caFile);
  try {
    const nc = await natsConnect({
      servers,
      name: opts.name ?? 'gitcell',
      timeout: opts.timeoutMs ?? 15_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A restarting embedded server comes back on the same port within a second or two; keep
      // pinging often enough to notice a dead server quickly (2 missed pings at 2 s).
      pingInterval: 2000,
      maxPingOut: opts.maxPingOut ?? 2,
      // nats.js closes a connection for good after two authorization errors in a row while
      // reconnecting, and a client too busy to answer the server's nonce within its 2 s auth
      // timeout gets exactly that ("Authentication Timeout"): at 10,000 hollow nodes both hollow
      // processes' connections reconnected under load and were then closed for good, and every
      // node lapsed. Credentials here are files that do not expire: keep trying.
      ignoreAuthErrorAbort: true,
      // Replies and watch deliveries under the credential's own prefix: the only inbox its
      // permissions let it subscribe to (store/permissions.ts).
      ...(auth ? { authenticator: auth.authenticator, inboxPrefix: inboxPrefixFor(auth.publicKey) } : {}),
      ...(caFile ? { tls: { caFile } } : {}),
    });
    // One socket write per event-loop turn instead of one per microtask checkpoint (store/turn-flush.ts).
    flushPerTurn(nc);
    // A component hosted in `gitcell up`'s process: a crash drill closes its connections at once.
    hostedLife()?.track(nc);
    return nc;
  } catch (err) {
    const message = (err as Error).message;
    // A TLS server whose CA we were not given: say where the CA comes from.
    const hint = /certificate|self.signed/i.test(message) && !caFile ? ' (the servers use TLS: give their CA certificate in GITCELL_NATS_CA, e.g. <state>/nats/tls/ca.pem of a gitcell up)' : '';
    throw storeError(StoreErrorCodes.Unavailable, `cannot connect to NATS at ${servers.join(',')}: ${message}${hint}`, { servers }, err);
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

/**
 * connectionInbox returns a fresh inbox subject under the connection's inbox prefix (the one its
 * permissions allow it to subscribe to), for subscriptions made outside nats.js' request mux.
 */
export function connectionInbox(nc: NatsConnection): string {
  return createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
}

/** readCa checks that the CA file is readable, naming it when it is not. */
async function readCa(file: string): Promise<void> {
  try {
    await readFile(file, 'utf8');
  } catch (err) {
    throw storeError(StoreErrorCodes.Unavailable, `TLS CA file ${file}: ${(err as Error).message}`, { file }, err);
  }
}

/**
 * authenticatorFromFile reads a credentials file, telling a bare nkey seed from a `.creds` file, and
 * returns the authenticator with the user's public key (which names its inbox prefix).
 */
async function authenticatorFromFile(file: string): Promise<{ authenticator: Authenticator; publicKey: string }> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw storeError(StoreErrorCodes.Unavailable, `credentials file ${file}: ${(err as Error).message}`, { file }, err);
  }
  const seed = /^SU[A-Z2-7]{50,}$/.test(text) ? text : /-----BEGIN USER NKEY SEED-----\s+(SU[A-Z2-7]+)/.exec(text)?.[1];
  if (!seed || (seed !== text && !text.includes('-----BEGIN NATS USER JWT-----'))) {
    throw storeError(StoreErrorCodes.Unavailable, `credentials file ${file}: neither a NATS .creds file nor an nkey user seed (SU...)`, { file });
  }
  let signer: NkeySigner;
  try {
    signer = nkeySigner(seed);
  } catch (err) {
    throw storeError(StoreErrorCodes.Unavailable, `credentials file ${file}: bad nkey seed: ${(err as Error).message}`, { file }, err);
  }
  if (seed === text) return { authenticator: nkeyAuth(signer), publicKey: signer.publicKey };
  const jwt = /-----BEGIN NATS USER JWT-----\s+(\S+)/.exec(text)?.[1];
  if (!jwt) throw storeError(StoreErrorCodes.Unavailable, `credentials file ${file}: no user JWT between its BEGIN and END lines`, { file });
  return { authenticator: nkeyAuth(signer, jwt), publicKey: signer.publicKey };
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
