/**
 * exitOnStoreReset: a long-running component (reconciler, scheduler, agent) ends with exit code 75
 * once NATS lost its data (store/incarnation.ts); `gitcell up` or systemd starts it again on the new
 * buckets. Its watches and informers could not continue across revisions that restart at 1. A
 * component hosted in `up`'s process (lib/component-life.ts) ends alone, and its host restarts it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../lib/log.ts';
import { hostedLife } from '../lib/component-life.ts';
import { probeIncarnation, STORE_RESET_EXIT_CODE, watchIncarnation } from '../store/index.ts';

/** exitOnStoreReset watches the incarnation `known` (read now when not given) and exits on a reset. */
export async function exitOnStoreReset(nc: NatsConnection, o: { prefix: string; log: Logger; component: string; known?: string; note?: string }): Promise<void> {
  let known = o.known;
  if (!known) {
    const p = await probeIncarnation(nc, o.prefix);
    if (p.state !== 'present') return;
    known = p.incarnation;
  }
  watchIncarnation(nc, known, {
    prefix: o.prefix,
    log: o.log,
    onReset: (reason) => {
      o.log.error({ reason }, `${o.component}: the store was reset; exiting to start over${o.note ? ` (${o.note})` : ''}`);
      const hosted = hostedLife();
      if (hosted) hosted.exit(STORE_RESET_EXIT_CODE);
      else process.exit(STORE_RESET_EXIT_CODE);
    },
  });
}
