// One reconciler controller replica as its own process, for the failover test: it runs for the
// `controllers` lease and runs the controller loop while leading. Prints "LEADING <term>" when it
// starts acting. Env: NATS_URL, STORE_PREFIX, LEASE_MS.
import { silentLogger } from '../../../lib/index.ts';
import { connect, openClusterStore, runForLeadership } from '../../../store/index.ts';
import { runControllers, type DesiredRecord, type SyncRecord } from '../../../reconciler/index.ts';

const nc = await connect({ servers: process.env.NATS_URL! });
const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: process.env.STORE_PREFIX!, log: silentLogger() });
const leaseMs = Number(process.env.LEASE_MS ?? 1500);
const election = runForLeadership({
  leases: store.leases,
  name: 'reconciler-controllers',
  leaseMs,
  log: silentLogger(),
  onLeading: async (ctx) => {
    process.stdout.write(`LEADING ${ctx.term}\n`);
    await runControllers({ store, signal: ctx.signal, valid: ctx.valid, term: ctx.term, source: 'main', tickMs: 200, log: silentLogger() }).done;
  },
});
process.on('SIGTERM', () => {
  void election.stop().then(() => nc.close()).then(() => process.exit(0));
});
await election.done;
