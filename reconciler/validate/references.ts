// Cross-object checks: every Secret a template or a Receiver names exists in its namespace and has the key.
import { DEFAULT_NAMESPACE, PULL_SECRET_KEYS, RECEIVER_TYPES, receiverSecretKey, type ReceiverType } from '../../api/index.ts';
import type { FieldPath } from '../manifests/index.ts';
import { ValidationCode, arrayAt, isRecord, recordAt, stringAt, type Report } from './finding.ts';
import { quote } from './format.ts';

/** SecretIndex maps "namespace/name" to the keys the Secret defines. */
export type SecretIndex = Map<string, Set<string>>;

/** indexSecret adds a Secret object (valid or not: a reference to a broken Secret is not also "missing") to the index. */
export function indexSecret(index: SecretIndex, obj: Record<string, unknown>): void {
  const meta = recordAt(obj, 'metadata');
  const name = stringAt(meta, 'name');
  if (name === undefined) return;
  const spec = recordAt(obj, 'spec');
  const keys = new Set<string>();
  for (const field of ['encryptedData', 'data', 'stringData']) for (const k of Object.keys(recordAt(spec, field) ?? {})) keys.add(k);
  index.set(`${stringAt(meta, 'namespace') ?? DEFAULT_NAMESPACE}/${name}`, keys);
}

/** templatesOf lists the task templates of a workload object with their paths. */
export function templatesOf(kind: string, obj: Record<string, unknown>): Array<[unknown, FieldPath]> {
  const spec = recordAt(obj, 'spec');
  if (kind === 'Job' || kind === 'DaemonSet') return [[spec?.template, ['spec', 'template']]];
  if (kind === 'CronJob') return [[recordAt(spec, 'jobTemplate')?.template, ['spec', 'jobTemplate', 'template']]];
  return [];
}

/**
 * checkSecretRefs reports env secretKeyRefs, secretMounts, imagePullSecrets and Receiver secretRefs
 * that name a missing Secret or key (a pull Secret needs one of PULL_SECRET_KEYS).
 */
export function checkSecretRefs(kind: string, obj: Record<string, unknown>, secrets: SecretIndex, report: Report): void {
  const namespace = stringAt(recordAt(obj, 'metadata'), 'namespace') ?? DEFAULT_NAMESPACE;
  const known = (): string => {
    const names = [...secrets.keys()].filter((k) => k.startsWith(`${namespace}/`)).map((k) => k.slice(namespace.length + 1));
    return names.length ? `Secrets in ${quote(namespace)}: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}` : `no Secrets in namespace ${quote(namespace)}`;
  };
  const check = (name: unknown, namePath: FieldPath, keys: Array<[unknown, FieldPath]>): void => {
    if (typeof name !== 'string') return;
    const secret = secrets.get(`${namespace}/${name}`);
    if (!secret) {
      report(namePath, ValidationCode.secretNotFound, `Secret ${quote(name)} does not exist (${known()})`);
      return;
    }
    for (const [key, keyPath] of keys) {
      if (typeof key === 'string' && !secret.has(key)) {
        report(keyPath, ValidationCode.secretKeyNotFound, `Secret ${quote(name)} has no key ${quote(key)} (keys: ${[...secret].join(', ') || 'none'})`);
      }
    }
  };
  if (kind === 'Receiver') {
    const spec = recordAt(obj, 'spec');
    const ref = recordAt(spec, 'secretRef');
    if (ref) check(ref.name, ['spec', 'secretRef', 'name'], [[ref.key ?? receiverSecretKey({ type: receiverTypeOr(stringAt(spec, 'type')) }), ['spec', 'secretRef', ref.key === undefined ? 'name' : 'key']]]);
  }
  for (const [tpl, base] of templatesOf(kind, obj)) {
    arrayAt(tpl, 'env').forEach((e, i) => {
      const ref = recordAt(recordAt(e, 'valueFrom'), 'secretKeyRef');
      const p: FieldPath = [...base, 'env', i, 'valueFrom', 'secretKeyRef'];
      if (ref) check(ref.name, [...p, 'name'], [[ref.key, [...p, 'key']]]);
    });
    arrayAt(tpl, 'secretMounts').forEach((m, i) => {
      if (!isRecord(m)) return;
      const p: FieldPath = [...base, 'secretMounts', i];
      check(m.secretName, [...p, 'secretName'], arrayAt(m, 'items').map((it, j) => [isRecord(it) ? it.key : undefined, [...p, 'items', j, 'key']]));
    });
    arrayAt(tpl, 'imagePullSecrets').forEach((s, i) => {
      if (!isRecord(s) || typeof s.name !== 'string') return;
      const p: FieldPath = [...base, 'imagePullSecrets', i, 'name'];
      check(s.name, p, []);
      const secret = secrets.get(`${namespace}/${s.name}`);
      if (secret && !PULL_SECRET_KEYS.some((k) => secret.has(k))) {
        report(p, ValidationCode.secretKeyNotFound, `pull Secret ${quote(s.name)} has neither ${PULL_SECRET_KEYS.map(quote).join(' nor ')} (a docker config.json; keys: ${[...secret].join(', ') || 'none'})`);
      }
    });
  }
}

/** receiverTypeOr reads a Receiver's type for its default Secret key (an unknown type, the schema's finding, reads as a forge's). */
function receiverTypeOr(type: string | undefined): ReceiverType {
  return (RECEIVER_TYPES as readonly string[]).includes(type ?? '') ? (type as ReceiverType) : 'github';
}
