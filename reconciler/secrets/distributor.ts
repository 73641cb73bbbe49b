import type { NodeRecord, NodeSecretRecord, Binding, TaskSpec } from '../../api/cluster.ts';
import { trustedNodeRecords, type RefusedNodeRecord } from '../../api/node-trust.ts';
import type { Secret } from '../../api/manifests.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/index.ts';
import { recordEvent, Bucket, Informer, nodeSecretsBucket, objectCodec, type ClusterStore } from '../../store/index.ts';
import { keyIdOf, nodeSecretKey, openSecret, planDelivery, sealValue, secretVersion, secretsNeededByNode, type Keyring, type NodeSecretRef } from '../../secrets/index.ts';
import type { DesiredRecord } from '../diff/index.ts';

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
}

/** SecretDistributor is a running distributor. */
export interface SecretDistributor {
  readonly done: Promise<void>;
  passes(): number;
}

/**
 * runSecretDistributor delivers Secrets to nodes: for every node, each Secret its bound tasks use,
 * opened with the cluster key and re-sealed to that node's own key, in the node's own bucket.
 * Plaintext exists only in this process's memory, for the moment of re-sealing. Run it next to
 * the reconciler, under the same leader election.
 */
export function runSecretDistributor(opts: SecretDistributorOptions): SecretDistributor {
  const log = opts.log ?? createLogger('secrets');
  const { store, signal } = opts;
  let passes = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let dirty = false;
  const failedAttempts = new Set<string>();

  const changed = () => {
    if (signal.aborted) return;
    if (running) {
      dirty = true;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(() => void (running = pass().finally(() => {
      running = undefined;
      if (dirty) {
        dirty = false;
        changed();
      }
    })), opts.debounceMs ?? 20);
  };
  const inform = <T>(bucket: Bucket<T>, prefix?: string) => new Informer<T>(bucket, { signal, onChange: changed, log, ...(prefix ? { prefix } : {}) });
  const secrets = inform(store.desired, 'Secret');
  const tasks = inform<TaskSpec>(store.tasks);
  const bindings = inform<Binding>(store.bindings);
  const nodes = inform<NodeRecord>(store.nodes);
  const all = [secrets, tasks, bindings, nodes];

  // Per node: its bucket and what it holds (learned once by listing, then kept by our own writes).
  const nodeBuckets = new Map<string, { bucket: Bucket<NodeSecretRecord>; present: Map<string, { version: string; nodeKeyId: string }> }>();
  async function nodeBucket(node: string) {
    let entry = nodeBuckets.get(node);
    if (!entry) {
      const bucket = await Bucket.open<NodeSecretRecord>(store.nc, { name: nodeSecretsBucket(node, store.prefix), history: 1, replicas: opts.replicas ?? 1 }, objectCodec<NodeSecretRecord>(), { log });
      const present = new Map((await bucket.list()).map((r) => [r.key, { version: r.value.version, nodeKeyId: r.value.nodeKeyId }]));
      entry = { bucket, present };
      nodeBuckets.set(node, entry);
    }
    return entry;
  }

  async function pass(): Promise<void> {
    if (!all.every((m) => m.hasSynced)) return;
    const manifests = new Map<string, Secret>();
    for (const { object } of secrets.values()) {
      const secret = object as unknown as Secret;
      manifests.set(nodeSecretKey(secret.metadata.namespace ?? 'default', secret.metadata.name), secret);
    }
    const versions = new Map([...manifests].map(([key, s]) => [key, secretVersion(s)]));
    const bound = new Map([...bindings.entries].map(([id, b]) => [id, b.value]));
    const needed = secretsNeededByNode(tasks.values(), bound, versions);
    const nodeKeys = new Map<string, string>();
    const pems = new Map<string, string>();
    // The node is the record's key (the only key its agent may write), never the name in the body:
    // a record claiming another node's name is refused, and nothing is sealed to its key.
    const trusted = trustedNodeRecords([...nodes.entries].map(([key, e]) => [key, e.value] as const));
    for (const r of trusted.refused) await reportForged(r);
    for (const [name, node] of trusted.nodes) {
      if (!node.sealingKey) continue;
      try {
        nodeKeys.set(name, keyIdOf(node.sealingKey));
        pems.set(name, node.sealingKey);
      } catch (err) {
        log.warn({ node: name, err: errorMessage(err) }, 'secrets: node published an unusable sealing key');
      }
    }
    for (const node of new Set([...needed.keys(), ...nodeKeys.keys()])) await nodeBucket(node);
    const present = new Map([...nodeBuckets].map(([node, e]) => [node, e.present]));
    const plan = planDelivery(needed, present, nodeKeys);
    let failed = 0;
    for (const { node, ref } of plan.put) {
      const attempt = `${node}/${ref.namespace}.${ref.name}@${ref.version}`;
      if (failedAttempts.has(attempt)) continue; // reported once; a new version or key retries
      try {
        const record = reseal(manifests.get(nodeSecretKey(ref.namespace, ref.name))!, ref, node, pems.get(node)!);
        const { bucket, present: held } = await nodeBucket(node);
        await bucket.put(nodeSecretKey(ref.namespace, ref.name), record);
        held.set(nodeSecretKey(ref.namespace, ref.name), { version: record.version, nodeKeyId: record.nodeKeyId });
      } catch (err) {
        failed++;
        failedAttempts.add(attempt);
        const message = `Secret ${ref.namespace}/${ref.name} not delivered to node ${node}: ${errorMessage(err)}`;
        log.error({ node, secret: `${ref.namespace}/${ref.name}` }, message);
        await recordEvent(store.events, { time: new Date().toISOString(), type: 'Warning', reason: 'SecretNotDelivered', object: { kind: 'Secret', namespace: ref.namespace, name: ref.name }, message, source: 'secrets' }, { log });
      }
    }
    for (const { node, key } of plan.remove) {
      const { bucket, present: held } = await nodeBucket(node);
      await bucket.delete(key).catch((err) => log.warn({ node, key, err: errorMessage(err) }, 'secrets: remove failed'));
      held.delete(key);
    }
    passes++;
    opts.onPass?.({ put: plan.put.length - failed, removed: plan.remove.length, failed });
  }

  const forged = new Set<string>();
  /** reportForged logs and records an event, once per forged record. */
  async function reportForged(r: RefusedNodeRecord): Promise<void> {
    const id = `${r.key}/${JSON.stringify(r.claimed)}`;
    if (forged.has(id)) return;
    forged.add(id);
    log.error({ node: r.key, claimed: r.claimed }, `secrets: ${r.reason}; no Secret is sealed to its key`);
    await recordEvent(store.events, { time: new Date().toISOString(), type: 'Warning', reason: 'NodeRecordRefused', object: { kind: 'Node', name: r.key }, message: `${r.reason}; no Secret is sealed to its key`, source: 'secrets' }, { log });
  }

  function reseal(secret: Secret, ref: NodeSecretRef, node: string, pem: string): NodeSecretRecord {
    const plain = openSecret(secret, { privateKeyFor: (id) => opts.keyring.privateKey(id), ...(opts.allowPlaintextSecrets ? { allowPlaintextSecrets: true } : {}) });
    const values: Record<string, string> = {};
    for (const [key, value] of plain) {
      values[key] = sealValue(pem, { namespace: ref.namespace, name: ref.name, key, audience: node }, value);
      value.fill(0); // drop the plaintext as soon as it is re-sealed
    }
    return { ...ref, nodeKeyId: keyIdOf(pem), values };
  }

  const done = (async () => {
    await Promise.all(all.map((m) => m.done));
    clearTimeout(timer);
    await running;
  })();
  return { done, passes: () => passes };
}
