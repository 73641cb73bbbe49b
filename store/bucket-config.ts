/**
 * How a KV bucket is created: its configuration and ensureBucket, which makes it idempotently (also
 * again, for a memory-stored bucket whose stream a server restart removed: Bucket.ensure).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { retryTransient, translateError } from './errors.ts';
import { placementOf } from './replicas.ts';

/** BucketConfig is how a bucket is created (idempotently) and opened. */
export interface BucketConfig {
  /** full bucket name, e.g. gitcell_tasks */
  name: string;
  /**
   * replica count: 1 embedded, 3 or 5 in a cluster. Given, a missing bucket is created with it and
   * an existing one is scaled to it; omitted (clients, agents), a missing bucket gets 1 and an
   * existing one keeps its count, so a client never scales a cluster's buckets down.
   */
  replicas?: number;
  /** values kept per key (1..64, default 1); more lets a resumed watch see every revision */
  history?: number;
  /**
   * where a bucket created now keeps its messages (default file); an existing bucket keeps its own
   * (JetStream cannot change a stream's storage: recreate the stream to change it)
   */
  storage?: 'file' | 'memory';
  /** JetStream placement tags (servers' `server_tags`) for a bucket created now; an existing one keeps its placement */
  placementTags?: string[];
  description?: string;
  /** request timeout in ms for reads and writes (default 5000) */
  timeoutMs?: number;
}

/**
 * ensureBucket creates the KV bucket if it is missing (idempotent, safe to race) and brings an
 * existing one to the configured history and, when `cfg.replicas` is given, replica count.
 */
export async function ensureBucket(nc: NatsConnection, cfg: BucketConfig): Promise<void> {
  const replicas = cfg.replicas ?? 1;
  const history = cfg.history ?? 1;
  const js = jetstream(nc, { timeout: cfg.timeoutMs ?? 5000 });
  const kvm = new Kvm(js);
  const jsm = await js.jetstreamManager();
  try {
    // A cluster still forming (or a server just restarted) cannot place replicas yet: a few seconds' patience.
    await retryTransient(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await kvm.create(cfg.name, { replicas, history, allow_direct: true, ...(cfg.storage === 'memory' ? { storage: StorageType.Memory } : {}), ...placementOf(cfg.placementTags), ...(cfg.description ? { description: cfg.description } : {}) });
          return;
        } catch (err) {
          // Two processes creating the same bucket at once: the loser sees "already in use" (the stream exists: enough).
          if (attempt < 3 && /already in use|stream name already/i.test(String((err as Error).message))) continue;
          throw err;
        }
      }
    });
    // (info too: a just-elected R3 leader can miss a timeout, or not know yet the stream just made)
    const info = await retryTransient(() => jsm.streams.info(`KV_${cfg.name}`), 40, /stream not found/i);
    const want = cfg.replicas ?? info.config.num_replicas; // (the placement stays as created)
    // No rollup headers on any bucket: gitcell never uses them, and a rollup header on a key an
    // agent may write (its own status) would wipe every node's keys. (Purging is an API call only
    // the control plane may make; `deny_purge` is left alone: nats-server 2.9.10 panics on restart
    // replaying a clustered stream whose deny_purge was turned on after creation.)
    if (info.config.num_replicas !== want || info.config.max_msgs_per_subject !== history || info.config.allow_rollup_hdrs !== false) {
      // 5: a refusal may look like a timeout; "stream not found": a server that answered info may not know a just-made R3 stream yet
      await retryTransient(() => jsm.streams.update(`KV_${cfg.name}`, { ...info.config, num_replicas: want, max_msgs_per_subject: history, allow_rollup_hdrs: false }), 5, /stream not found/i);
    }
  } catch (err) {
    throw translateError(err, 'create bucket', cfg.name);
  }
}
