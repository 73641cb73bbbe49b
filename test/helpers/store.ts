// Test helper: a cluster store of its own for one integration test: a real nats-server, a
// connection, and the store's buckets under a fresh prefix, all closed when the test ends.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { silentLogger, type Logger } from '../../lib/index.ts';
import { connect, openClusterStore, type ClusterStore } from '../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../reconciler/index.ts';
import { startNatsServer, type NatsServer } from './nats.ts';

/** TestStore is what openTestStore started: child processes get `server.url` and `prefix`. */
export interface TestStore {
  server: NatsServer;
  store: ClusterStore<DesiredRecord, SyncRecord>;
  /** prefix is the store's bucket prefix: `tag`, six random hex digits, `_`. */
  prefix: string;
}

/**
 * openTestStore starts a nats-server for test t, connects to it and opens the reconciler's typed
 * cluster store under a fresh prefix; the connection and the server go when t ends.
 */
export async function openTestStore(t: TestContext, opts: { tag?: string; log?: Logger } = {}): Promise<TestStore> {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  void reportDisconnects(nc, server);
  const prefix = `${opts.tag ?? 't'}${randomBytes(3).toString('hex')}_`;
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix, log: opts.log ?? silentLogger() });
  return { server, store, prefix };
}

/**
 * reportDisconnects writes the server's log tail to stderr when the test's connection drops while
 * the server still runs: a lost connection fails the test's next write, and the server's log
 * (slow consumer, parse error, a panic) says why.
 */
async function reportDisconnects(nc: Awaited<ReturnType<typeof connect>>, server: NatsServer): Promise<void> {
  for await (const s of nc.status()) {
    // A server the test stops is no news; one that died is reported by the nats helper too.
    if (s.type !== 'disconnect' || nc.isClosed() || server.stopping()) continue;
    const tail = (await server.log()).split('\n').slice(-20).join('\n');
    process.stderr.write(`test connection to ${server.url} lost (server ${server.running() ? 'running' : 'gone'}):\n${tail}\n`);
  }
}
