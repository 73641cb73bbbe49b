import type { NodeRecord, NodeSecretRecord, Binding, TaskSpec } from '../../api/cluster.ts';
import { nodeRecordMatchesKey, trustedNodeRecords, type RefusedNodeRecord } from '../../api/node-trust.ts';
import type { Secret } from '../../api/manifests.ts';
import { createLogger, errorMessage, PassRunner, type Logger, type RunningLoop } from '../../lib/index.ts';
import { recordEvent, Bucket, Informer, valueView, nodeSecretsBucket, objectCodec, type ClusterStore, type InformerChange, type InformerView } from '../../store/index.ts';
import { keyIdOf, nodeSecretKey, openSecret, planDelivery, sealValue, secretVersion, secretsNeededByNode, usesSecrets, type Keyring, type NodeSecretRef } from '../../secrets/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import { sharedOr, type TaskInformers } from '../apply/shared-informers.ts';

/** SecretDistributorOptions configure runSecretDistributor. */
export interface SecretDistributorOptions {
  store: ClusterStore<DesiredRecord>;
  keyring: Keyring;
  signal: AbortSignal;
  replicas?: number;
  allowPlaintextSecrets?: boolean;
  /** gather changes this long before a pass (default 20 ms) */
  debounceMs?: number;
  log?: Logger;
  onPass?: (result: { put: number; removed: number; failed: number }) => void;
  /**
   * shared: the reconciler replica's copies of the tasks and bindings (and the node records), read
   * instead of copies of its own: at 100,000 tasks its own were ~1.5 KB per task of the heap.
   */
  shared?: { tasks: TaskInformers['tasks']; bindings: TaskInformers['bindings']; nodes?: Informer<NodeRecord> };
}

/** SecretDistributor is a running distributor. */
export type SecretDistributor = RunningLoop;

/**
 * runSecretDistributor delivers Secrets to nodes: for every node, each Secret its bound tasks use,
 * opened with the cluster key and re-sealed to that node's own key, in the node's own bucket.
 * Plaintext exists only in this process's memory, for the moment of re-sealing. Run it next to
 * the reconciler, under the same leader election.
 */
export function runSecretDistributor(opts: SecretDistributorOptions): SecretDistributor {
  const d = new Distributor(opts);
  return { done: d.done, passes: () => d.passes };
}

/** NodeBucket is one node's secrets bucket and what it holds (learned once by listing, then kept by our own writes). */
interface NodeBucket {
  bucket: Bucket<NodeSecretRecord>;
  present: Map<string, { version: string; nodeKeyId: string }>;
}

/** Distributor is one running distributor: its informers, the node buckets it knows, and its passes (never two at once). */
class Distributor {
  readonly done: Promise<void>;
  private readonly log: Logger;
  private readonly runner: PassRunner;
  private readonly failedAttempts = new Set<string>();
  private readonly forged = new Set<string>();
  private readonly nodeBuckets = new Map<string, NodeBucket>();
  private readonly secrets: Informer<DesiredRecord>;
  private readonly tasks: InformerView<TaskSpec>;
  private readonly bindings: InformerView<Binding>;
  private readonly nodes: InformerView<NodeRecord>;

  constructor(private readonly opts: SecretDistributorOptions) {
    const log = (this.log = opts.log ?? createLogger('secrets'));
    const { store, signal } = opts;
    this.runner = new PassRunner({
      signal,
      debounceMs: opts.debounceMs ?? 20,
      ready: () => [this.secrets, this.tasks, this.bindings, this.nodes].every((m) => m.hasSynced),
      pass: () => this.pass(),
      onError: (err, failures) => log.warn({ err: errorMessage(err), failures }, 'secrets: pass failed, retrying'),
    });
    // A pass walks every task and binding: only changes that can alter a delivery start one (at
    // 100,000 tasks and 10,000 heartbeating nodes, a pass per change kept the reconciler busy).
    const own: Informer<unknown>[] = [];
    const inform = <T>(bucket: Bucket<T>, relevant: (c: InformerChange<T>) => boolean, prefix?: string): Informer<T> => {
      const i = new Informer<T>(bucket, { signal, onChange: (c) => (relevant(c) ? this.changed() : undefined), log, ...(prefix ? { prefix } : {}) });
      own.push(i as Informer<unknown>);
      return i;
    };
    // A shared copy tells the same changes through listen (its snapshot too, if it has not come yet).
    const follow = <T>(shared: Informer<T> | undefined, bucket: Bucket<T>, relevant: (c: InformerChange<T>) => boolean): InformerView<T> =>
      sharedOr(shared, () => inform(bucket, relevant), (c) => (relevant(c) ? this.changed() : undefined), signal);
    const { shared } = opts;
    this.secrets = inform(store.desired, () => true, 'Secret');
    this.tasks = follow<TaskSpec>(shared?.tasks, store.tasks, (c) => !c || (c.prev !== undefined && usesSecrets(c.prev)) || (c.next !== undefined && usesSecrets(c.next)));
    this.bindings = follow<Binding>(shared?.bindings, store.bindings, (c) => {
      const task = c ? this.tasks.get(c.key) : undefined;
      return !c || (task !== undefined && usesSecrets(task));
    });
    // A pass reads a node's name (trust) and sealing key only: a record that changed its images or
    // conditions (each of 10,000 nodes, at its first tasks of a commit) started a pass each.
    this.nodes = follow<NodeRecord>(shared?.nodes, store.nodes, (c) => !c || !c.prev || !c.next || c.prev.name !== c.next.name || c.prev.sealingKey !== c.next.sealingKey);
    const runner = this.runner;
    this.done = (async () => {
      // Only its own: the shared copies outlive this term.
      await Promise.all(own.map((m) => m.done));
      await runner.stop();
    })();
  }

  /** changed asks for a pass (see PassRunner: debounced, one at a time). */
  private changed(): void {
    this.runner.request();
  }

  get passes(): number {
    return this.runner.passes;
  }

  private async nodeBucket(node: string): Promise<NodeBucket> {
    let entry = this.nodeBuckets.get(node);
    if (!entry) {
      const { store } = this.opts;
      const bucket = await Bucket.open<NodeSecretRecord>(store.nc, { name: nodeSecretsBucket(node, store.prefix), history: 1, replicas: this.opts.replicas ?? 1 }, objectCodec<NodeSecretRecord>(), { log: this.log });
      const present = new Map((await bucket.list()).map((r) => [r.key, { version: r.value.version, nodeKeyId: r.value.nodeKeyId }]));
      entry = { bucket, present };
      this.nodeBuckets.set(node, entry);
    }
    return entry;
  }

  /** pass plans the delivery from what the informers hold (planDelivery, pure) and makes it: puts, then removals. */
  private async pass(): Promise<void> {
    const manifests = new Map<string, Secret>();
    for (const { object } of this.secrets.values()) {
      const secret = object as unknown as Secret;
      manifests.set(nodeSecretKey(secret.metadata.namespace ?? 'default', secret.metadata.name), secret);
    }
    const versions = new Map([...manifests].map(([key, s]) => [key, secretVersion(s)]));
    // Read in place (the call is synchronous): copying 100,000 bindings per pass was most of its cost.
    const needed = secretsNeededByNode(valueView(this.tasks).values(), valueView(this.bindings), versions);
    const pems = await this.sealingKeys();
    const nodeKeys = new Map([...pems].map(([node, pem]) => [node, this.keyId(pem)]));
    for (const node of new Set([...needed.keys(), ...nodeKeys.keys()])) await this.nodeBucket(node);
    const present = new Map([...this.nodeBuckets].map(([node, e]) => [node, e.present]));
    const plan = planDelivery(needed, present, nodeKeys);
    let failed = 0;
    for (const { node, ref } of plan.put) {
      if (!(await this.deliver(node, ref, manifests, pems))) failed++;
    }
    for (const { node, key } of plan.remove) {
      const { bucket, present: held } = await this.nodeBucket(node);
      await bucket.delete(key).catch((err) => this.log.warn({ node, key, err: errorMessage(err) }, 'secrets: remove failed'));
      held.delete(key);
    }
    this.opts.onPass?.({ put: plan.put.length - failed, removed: plan.remove.length, failed });
  }

  /**
   * sealingKeys are the usable sealing keys (PEM) of the trusted nodes. The node is the record's key
   * (the only key its agent may write), never the name in the body: a record claiming another
   * node's name is refused, and nothing is sealed to its key.
   */
  private async sealingKeys(): Promise<Map<string, string>> {
    const pems = new Map<string, string>();
    // The trust rule read in place: a trusted copy of every node per pass (its labels, which
    // sealing does not read) was 17 CPU-s of a 10,000-node scale run; only the forged are copied.
    const forged: [string, NodeRecord][] = [];
    for (const [name, { value: node }] of this.nodes.entries) {
      if (!nodeRecordMatchesKey(name, node)) {
        forged.push([name, node]);
        continue;
      }
      if (!node.sealingKey) continue;
      try {
        this.keyId(node.sealingKey);
        pems.set(name, node.sealingKey);
      } catch (err) {
        this.log.warn({ node: name, err: errorMessage(err) }, 'secrets: node published an unusable sealing key');
      }
    }
    for (const r of trustedNodeRecords(forged).refused) await this.reportForged(r);
    // Only the keys still published are remembered.
    const published = new Set(pems.values());
    for (const pem of this.keyIds.keys()) if (!published.has(pem)) this.keyIds.delete(pem);
    return pems;
  }

  /** each published sealing key's id (PEM -> id), kept while some node publishes it */
  private readonly keyIds = new Map<string, string>();

  /**
   * keyId is keyIdOf(pem), memoised: parsing every node's PEM twice per pass (createPublicKey, SPKI
   * export, sha256) was 8.3 CPU-s of the reconciler in a 10,000-node commit, and keys rarely change.
   * Throws for an unusable key.
   */
  private keyId(pem: string): string {
    let id = this.keyIds.get(pem);
    if (id === undefined) this.keyIds.set(pem, (id = keyIdOf(pem)));
    return id;
  }

  /** deliver re-seals one Secret to one node and stores it; a failure is reported once per version and key (false). */
  private async deliver(node: string, ref: NodeSecretRef, manifests: Map<string, Secret>, pems: Map<string, string>): Promise<boolean> {
    const attempt = `${node}/${ref.namespace}.${ref.name}@${ref.version}`;
    if (this.failedAttempts.has(attempt)) return true; // reported once; a new version or key retries
    try {
      const record = this.reseal(manifests.get(nodeSecretKey(ref.namespace, ref.name))!, ref, node, pems.get(node)!);
      const { bucket, present: held } = await this.nodeBucket(node);
      await bucket.put(nodeSecretKey(ref.namespace, ref.name), record);
      held.set(nodeSecretKey(ref.namespace, ref.name), { version: record.version, nodeKeyId: record.nodeKeyId });
      return true;
    } catch (err) {
      this.failedAttempts.add(attempt);
      const message = `Secret ${ref.namespace}/${ref.name} not delivered to node ${node}: ${errorMessage(err)}`;
      this.log.error({ node, secret: `${ref.namespace}/${ref.name}` }, message);
      await recordEvent(this.opts.store.events, { time: new Date().toISOString(), type: 'Warning', reason: 'SecretNotDelivered', object: { kind: 'Secret', namespace: ref.namespace, name: ref.name }, message, source: 'secrets' }, { log: this.log });
      return false;
    }
  }

  /** reportForged logs and records an event, once per forged record. */
  private async reportForged(r: RefusedNodeRecord): Promise<void> {
    const id = `${r.key}/${JSON.stringify(r.claimed)}`;
    if (this.forged.has(id)) return;
    this.forged.add(id);
    this.log.error({ node: r.key, claimed: r.claimed }, `secrets: ${r.reason}; no Secret is sealed to its key`);
    await recordEvent(this.opts.store.events, { time: new Date().toISOString(), type: 'Warning', reason: 'NodeRecordRefused', object: { kind: 'Node', name: r.key }, message: `${r.reason}; no Secret is sealed to its key`, source: 'secrets' }, { log: this.log });
  }

  /** reseal opens a Secret with the cluster key and seals each value to the node's key; plaintext lives only for that moment. */
  private reseal(secret: Secret, ref: NodeSecretRef, node: string, pem: string): NodeSecretRecord {
    const { opts } = this;
    const plain = openSecret(secret, { privateKeyFor: (id) => opts.keyring.privateKey(id), ...(opts.allowPlaintextSecrets ? { allowPlaintextSecrets: true } : {}) });
    const values: Record<string, string> = {};
    for (const [key, value] of plain) {
      values[key] = sealValue(pem, { namespace: ref.namespace, name: ref.name, key, audience: node }, value);
      value.fill(0); // drop the plaintext as soon as it is re-sealed
    }
    return { ...ref, nodeKeyId: keyIdOf(pem), values };
  }
}
