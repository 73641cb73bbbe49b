/**
 * Test helper for the trust-boundary tests: a real nats-server configured with exactly the
 * authorization `gitcell up` makes (control, autoscaler, viewer, one agent per node; no anonymous user), the
 * seed files of each identity, and raw nats.js connections as each of them: attacks are played with
 * the plain protocol, not through gitcell's own client code.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as rawConnect, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { fromSeed } from '@nats-io/nkeys';
import { ensureIdentities, type ClusterIdentities } from '../../cli/up/credentials.ts';
import { inboxPrefixFor } from '../../store/index.ts';
import { startNatsServer, type Cleanup, type NatsServer } from './nats.ts';

/** Identity names a credential of the test cluster. */
export type Identity = 'control' | 'autoscaler' | 'viewer' | { node: string };

/** TrustCluster is a server with gitcell's authorization and a way to connect as each identity. */
export interface TrustCluster {
  server: NatsServer;
  ids: ClusterIdentities;
  dir: string;
  /** seedFile of an identity */
  seedFile(who: Identity): string;
  /** options to connect as an identity with its own inbox prefix, as gitcell's connect does */
  options(who: Identity): Promise<Partial<ConnectionOptions>>;
  /** raw connects with an identity's credential and the given inbox prefix (default: its own) */
  connectAs(who: Identity, extra?: Partial<ConnectionOptions>): Promise<NatsConnection>;
}

/** seedOptions are nats.js options for a seed file: its authenticator and its own inbox prefix. */
export async function seedOptions(file: string): Promise<Partial<ConnectionOptions>> {
  const seed = (await readFile(file, 'utf8')).trim();
  const pub = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  return { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), inboxPrefix: inboxPrefixFor(pub) };
}

/** startTrustCluster starts one nats-server admitting gitcell's identities for `nodes` under `prefix`. */
export async function startTrustCluster(t: Cleanup, nodes: string[], prefix: string, extraConfig = ''): Promise<TrustCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-trust-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ids = await ensureIdentities(dir, nodes, prefix);
  const seedFile = (who: Identity): string =>
    who === 'control' ? ids.controlSeedFile : who === 'autoscaler' ? ids.autoscalerSeedFile : who === 'viewer' ? ids.viewerSeedFile : ids.agentSeedFiles.get(who.node)!;
  const server = await startNatsServer({ t, extraConfig: `${ids.serverConfig}\n${extraConfig}`, probe: await seedOptions(ids.controlSeedFile) });
  const connections: NatsConnection[] = [];
  t.after(() => Promise.all(connections.map((nc) => nc.close().catch(() => undefined))));
  const options = (who: Identity) => seedOptions(seedFile(who));
  return {
    server,
    ids,
    dir,
    seedFile,
    options,
    connectAs: async (who, extra = {}) => {
      const nc = await rawConnect({ servers: server.url, timeout: 5000, ...(await options(who)), ...extra });
      connections.push(nc);
      return nc;
    },
  };
}

/**
 * permissionRefusal resolves with the server's permission error for `operation` on `subject` as
 * soon as the connection reports it (the server answers a refused publish or subscription with
 * -ERR on the connection), or rejects after `timeoutMs` if none came: the attack was not refused.
 */
export async function permissionRefusal(nc: NatsConnection, operation: 'publish' | 'subscription', subject: string, timeoutMs = 5000): Promise<Error> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no permission refusal for ${operation} to ${subject} within ${timeoutMs} ms: the server allowed it`)), timeoutMs)));
  const refused = (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'error') continue;
      const pe = s.error as { name?: string; operation?: string; subject?: string };
      if (pe?.name === 'PermissionViolationError' && pe.operation === operation && pe.subject === subject) return s.error as Error;
    }
    throw new Error('connection closed before a refusal');
  })();
  try {
    return await Promise.race([refused, late]);
  } finally {
    clearTimeout(timer);
  }
}
