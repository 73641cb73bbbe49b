/**
 * The monitoring configuration follows Git: while this replica leads, the SLOs become Prometheus'
 * rule file (slo-rules.ts) and the alert Receivers Alertmanager's configuration (alertmanager.ts).
 * A file is replaced atomically only when its content changes, then its server is told to reload
 * (POST /-/reload); a server that is down is asked again with backoff until it answers, and the
 * cluster never waits for it. Alertmanager's file holds the receivers' keys: mode 0600.
 *
 *   desired watch (SLO, Receiver, Secret) ─► sync (coalesced) ─► render ─► changed? write ─► reload
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_NAMESPACE, receiverSecretKey, takesAlerts, type Receiver, type SLO, type Secret } from '../../api/index.ts';
import { PassRunner, errorMessage, writeFileAtomic, type Logger } from '../../lib/index.ts';
import type { RoBucket, WatchEvent } from '../../store/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import { alertmanagerConfig, type AlertReceiver, type AlertRouting } from './alertmanager.ts';
import { sloRulesFile, type SloRulesOptions } from './slo-rules.ts';

/** ConfigTarget is a file a server reads and the URL that reloads it. */
export interface ConfigTarget {
  file: string;
  /** the server's base URL (POST <url>/-/reload); none: write only */
  url?: string;
}

/** MonitoringConfigOptions: what to read, where to write, how to open Secrets. */
export interface MonitoringConfigOptions {
  store: { desired: RoBucket<DesiredRecord> & { watch(o: { prefix: string; signal: AbortSignal }): AsyncIterable<WatchEvent<unknown>> } };
  openSecret: (secret: Secret) => Map<string, Buffer>;
  rules?: ConfigTarget & SloRulesOptions;
  alertmanager?: ConfigTarget & { routing?: AlertRouting };
  signal: AbortSignal;
  log: Logger;
  /** told after each file written and reloaded (tests, metrics) */
  onApplied?: (what: 'rules' | 'alertmanager', content: string) => void;
}

/** runMonitoringConfig follows the desired state until the signal aborts; see the file comment. */
export function runMonitoringConfig(o: MonitoringConfigOptions): { done: Promise<void> } {
  // What was last written and reloaded per file: a reload that failed is retried even if the file is unchanged.
  const reloaded = new Map<string, string>();
  // A pass that throws (a server down, a Secret not yet readable) is retried with backoff, without waiting for Git.
  const runner = new PassRunner({
    signal: o.signal,
    backoff: { initialMs: 500, maxMs: 30_000 },
    pass: async () => {
      if (!(await syncOnce(o, reloaded))) throw new Error('a server did not take its configuration');
    },
    onError: (err, failures) => {
      if (failures === 1 || failures % 10 === 0) o.log.warn({ err: errorMessage(err), failures }, 'monitoring config: sync failed; retrying');
    },
  });
  const trigger = (): void => runner.request();
  const follow = async (prefix: string): Promise<void> => {
    for await (const _ of o.store.desired.watch({ prefix, signal: o.signal })) trigger();
  };
  const done = Promise.allSettled([follow('SLO'), follow('Receiver'), follow('Secret')]).then(() => runner.stop());
  return { done };
}

/** syncOnce renders both files, writes the changed ones and reloads their servers; false when something must be retried. */
async function syncOnce(o: MonitoringConfigOptions, reloaded: Map<string, string>): Promise<boolean> {
  let ok = true;
  if (o.rules) {
    const slos = (await o.store.desired.list('SLO')).map((r) => r.value.object as SLO).filter((s) => s.kind === 'SLO');
    ok = (await apply(o, reloaded, 'rules', o.rules, sloRulesFile(slos, o.rules), 0o644)) && ok;
  }
  if (o.alertmanager) {
    const receivers = await alertReceivers(o);
    ok = (await apply(o, reloaded, 'alertmanager', o.alertmanager, alertmanagerConfig(receivers, o.alertmanager.routing), 0o600)) && ok;
  }
  return ok;
}

async function apply(o: MonitoringConfigOptions, reloaded: Map<string, string>, what: 'rules' | 'alertmanager', t: ConfigTarget, content: string, mode: number): Promise<boolean> {
  if (reloaded.get(t.file) === content) return true;
  const current = await readFile(t.file, 'utf8').catch(() => undefined);
  if (current !== content) await writeFileAtomic(t.file, content, { mode });
  if (t.url) {
    const res = await fetch(`${t.url}/-/reload`, { method: 'POST', signal: AbortSignal.any([o.signal, AbortSignal.timeout(10_000)]) }).catch((err: unknown) => err as Error);
    if (res instanceof Error || !res.ok) {
      const why = res instanceof Error ? errorMessage(res) : `${res.status} ${(await res.text()).trim()}`;
      if (!o.signal.aborted) o.log.warn({ file: t.file, url: t.url, err: why }, `monitoring config: ${what} written, reload failed`);
      // A 4xx-5xx with a reason is a config the server refused: retrying the same content will not help until Git changes.
      if (!(res instanceof Error)) reloaded.set(t.file, content);
      return res instanceof Error ? false : true;
    }
  }
  reloaded.set(t.file, content);
  o.log.info({ file: t.file }, `monitoring config: ${what} updated`);
  o.onApplied?.(what, content);
  return true;
}

/**
 * alertReceivers lists the Receivers taking alerts (takesAlerts), each with its opened Secret; one
 * whose Secret cannot open (or, for a webhook, that has no address) is logged and left out. An email
 * Receiver without secretRef sends without SMTP AUTH.
 */
async function alertReceivers(o: MonitoringConfigOptions): Promise<AlertReceiver[]> {
  const out: AlertReceiver[] = [];
  for (const rec of await o.store.desired.list('Receiver')) {
    const r = rec.value.object as Receiver;
    if (r.kind !== 'Receiver' || !takesAlerts(r.spec)) continue;
    const namespace = r.metadata.namespace ?? DEFAULT_NAMESPACE;
    const unusable = (r.spec.type === 'webhook' && !r.spec.address) || (r.spec.type === 'email' && !r.spec.email) || (r.spec.type !== 'email' && !r.spec.secretRef);
    const ref = r.spec.secretRef;
    const secret = ref && !unusable ? (await o.store.desired.get(`Secret.${namespace}.${ref.name}`))?.value.object as Secret | undefined : undefined;
    const value = secret ? safeOpen(o, secret)?.get(receiverSecretKey(r.spec)) : undefined;
    if (unusable || (ref && value === undefined)) {
      o.log.warn({ receiver: `${namespace}/${r.metadata.name}` }, 'monitoring config: alert receiver left out: incomplete, or its Secret or key cannot be read');
      continue;
    }
    out.push({ receiver: r, ...(value !== undefined ? { secret: value.toString('utf8').replace(/\r?\n$/, '') } : {}) });
  }
  return out;
}

function safeOpen(o: MonitoringConfigOptions, secret: Secret): Map<string, Buffer> | undefined {
  try {
    return o.openSecret(secret);
  } catch (err) {
    o.log.warn({ err: errorMessage(err) }, 'monitoring config: a Secret cannot be opened');
    return undefined;
  }
}
