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
  const prefix = `${opts.tag ?? 't'}${randomBytes(3).toString('hex')}_`;
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix, log: opts.log ?? silentLogger() });
  return { server, store, prefix };
}
