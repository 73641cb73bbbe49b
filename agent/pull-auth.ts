/**
 * Registry credentials of a task: its imagePullSecrets (docker config.json, delivered to this node
 * like every Secret and opened with the node's key), first to last (the runtime adapter adds the
 * node's own auth file after them). Values live in memory only for the pull, never on disk.
 */
import { PULL_SECRET_KEYS, type TaskSpec } from '../api/index.ts';
import { ErrorCodes, SecretsError } from '../lib/index.ts';
import { mergeAuths, parseDockerConfig, type RegistryAuths } from '../runtime/index.ts';
import type { SecretVolumes } from './secret-volumes.ts';

/**
 * pullAuths gathers the credentials for `spec`'s image. E_SECRET_NOT_DELIVERED (retried) when a pull
 * Secret has not reached the node; E_SECRET_KEY_MISSING when it has no config.json key;
 * E_REGISTRY_CONFIG_INVALID naming the Secret when its config.json is malformed.
 */
export async function pullAuths(spec: TaskSpec, volumes: SecretVolumes | undefined): Promise<RegistryAuths | undefined> {
  const refs = spec.template.imagePullSecrets ?? [];
  if (refs.length === 0) return undefined;
  if (!volumes) throw new SecretsError(ErrorCodes.SecretsUnavailable, `task ${spec.id} pulls with Secrets but this node's key pair is not ready yet`, { taskId: spec.id });
  const sources: RegistryAuths[] = [];
  for (const { secretName } of refs) {
    const values = await volumes.open(spec.namespace, secretName, undefined);
    try {
      const key = PULL_SECRET_KEYS.find((k) => values.has(k));
      if (!key) {
        throw new SecretsError(ErrorCodes.SecretKeyMissing, `task ${spec.id}: pull Secret ${spec.namespace}/${secretName} has neither ${PULL_SECRET_KEYS.join(' nor ')} (keys: ${[...values.keys()].join(', ') || 'none'})`, { task: spec.id, secret: secretName });
      }
      sources.push(parseDockerConfig(values.get(key)!.toString('utf8'), `pull Secret ${spec.namespace}/${secretName} key ${key}`));
    } finally {
      for (const v of values.values()) v.fill(0);
    }
  }
  return mergeAuths(...sources);
}
