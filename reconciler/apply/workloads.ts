import type { AnyObject, CronJob, DaemonSet, Job, Secret } from '../../api/index.ts';
import { DEFAULT_NAMESPACE, DEFAULT_PRIORITY, priorityValue } from '../../api/index.ts';
import type { WorkloadSpec } from '../controllers/index.ts';
import type { DesiredRecord } from '../diff/index.ts';
import { secretVersion } from '../../secrets/index.ts';
import { resolveTemplate } from '../template/index.ts';

/** SecretVersions maps namespace -> Secret name -> version (secrets/secretVersion). */
export type SecretVersions = ReadonlyMap<string, Readonly<Record<string, string>>>;

/**
 * secretVersionOf is the version of a Secret stamped on templates that use it: the secrets module's
 * secretVersion (a hash of the sealed values), the same one the secret distributor delivers.
 */
export function secretVersionOf(secret: AnyObject): string {
  return secretVersion(secret as Secret);
}

/** secretVersionsOf collects the versions of every Secret among desired records. */
export function secretVersionsOf(records: Iterable<Pick<DesiredRecord, 'object'>>): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const r of records) {
    if (r.object.kind !== 'Secret') continue;
    const ns = r.object.metadata.namespace ?? DEFAULT_NAMESPACE;
    const m = out.get(ns) ?? {};
    m[r.object.metadata.name] = secretVersionOf(r.object);
    out.set(ns, m);
  }
  return out;
}

/** isJob, isDaemonSet, isCronJob narrow a desired object by kind. */
export function isJob(o: AnyObject): o is Job {
  return o.kind === 'Job';
}
/** isDaemonSet narrows a desired object to a DaemonSet. */
export function isDaemonSet(o: AnyObject): o is DaemonSet {
  return o.kind === 'DaemonSet';
}
/** isCronJob narrows a desired object to a CronJob. */
export function isCronJob(o: AnyObject): o is CronJob {
  return o.kind === 'CronJob';
}

/**
 * workloadSpecOf builds what a Job or DaemonSet controller needs from its desired record: resolved
 * template and hash (with the versions of the Secrets it uses), integer priority, strategy. Throws
 * GitcellError E_TEMPLATE_INVALID (naming the field) when the template cannot be resolved. Pure.
 */
export function workloadSpecOf(rec: Pick<DesiredRecord, 'object' | 'generation' | 'revision'>, versions: SecretVersions): WorkloadSpec {
  const o = rec.object;
  if (!isJob(o) && !isDaemonSet(o)) throw new TypeError(`workloadSpecOf: ${o.kind} is not a Job or DaemonSet`);
  const namespace = o.metadata.namespace ?? DEFAULT_NAMESPACE;
  const type = isJob(o) ? o.spec.type : 'service';
  const { template, templateHash } = resolveTemplate(o.spec.template, {
    type,
    secretVersions: versions.get(namespace) ?? {},
    field: 'spec.template',
  });
  return {
    kind: o.kind,
    namespace,
    name: o.metadata.name,
    generation: rec.generation,
    revision: rec.revision,
    type,
    priority: priorityValue(o.spec.priority ?? DEFAULT_PRIORITY),
    template,
    templateHash,
    ...(o.spec.strategy ? { strategy: o.spec.strategy } : {}),
  };
}
