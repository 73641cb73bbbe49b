/**
 * Secrets on the node: the values of the Secrets a task mounts or reads as environment variables,
 * re-sealed by the reconciler to this node's own key (bucket `<prefix>secrets_<node>`), opened here
 * with the node's private key and written as files on a tmpfs the agent mounts per task, which the
 * container gets as a read-only bind mount. The plaintext files live in memory only, never on disk.
 *
 *   start:  records (version must match the spec) ─► openValue(audience = node) ─► tmpfs
 *           <stateDir>/secrets/<taskId>/<n>/<key> (mode 0400 or defaultMode) ─► bind mount, env values
 *   forget: umount the task's tmpfs, remove the directory
 */
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitcellError, errorMessage } from '../lib/index.ts';
import type { NodeSecretRecord, TaskSpec } from '../api/index.ts';
import type { Bucket } from '../store/index.ts';
import { openValue, type Keyring } from '../secrets/index.ts';
import { runCommand } from '../runtime/index.ts';

/** NodeSecrets is what the agent needs to open Secrets: its key ring and its own secrets bucket. */
export interface NodeSecrets {
  keyring: Keyring;
  bucket: Bucket<NodeSecretRecord>;
}

/** MaterializedSecrets is what a container start gets: bind mounts and extra environment. */
export interface MaterializedSecrets {
  mounts: { source: string; destination: string }[];
  env: { name: string; value: string }[];
}

/** usesSecrets tells whether a task needs any Secret. */
export function usesSecrets(spec: TaskSpec): boolean {
  return spec.template.secretMounts.length > 0 || (spec.template.secretEnv?.length ?? 0) > 0;
}

/** taskSecretDir is where a task's secret tmpfs is mounted on the node. */
export function taskSecretDir(stateDir: string, taskId: string): string {
  return join(stateDir, 'secrets', taskId);
}

/** numericOwner returns uid and gid for a numeric `user` ("1000" or "1000:1000"), else root. */
export function numericOwner(user: string | undefined): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  return m ? { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) } : { uid: 0, gid: 0 };
}

async function isMountPoint(dir: string): Promise<boolean> {
  const r = await runCommand('mountpoint', ['-q', dir]);
  return r.code === 0;
}

/** unmountTaskSecrets removes a task's secret tmpfs (idempotent). */
export async function unmountTaskSecrets(stateDir: string, taskId: string): Promise<void> {
  const dir = taskSecretDir(stateDir, taskId);
  if (await isMountPoint(dir)) {
    const r = await runCommand('umount', [dir]);
    if (r.code !== 0 && (await isMountPoint(dir))) {
      throw new GitcellError('E_SECRET_UNMOUNT', `cannot unmount the secrets of ${taskId} at ${dir}: ${r.stderr.trim()}`, { taskId, dir });
    }
  }
  await rm(dir, { recursive: true, force: true });
}

/**
 * materializeSecrets opens every Secret value the task needs and lays its mounts out on a fresh
 * tmpfs. A Secret not delivered yet (or at another version than the spec names) is
 * E_SECRET_NOT_DELIVERED: the start fails and is retried with backoff, as the reconciler's
 * distributor delivers it.
 */
export async function materializeSecrets(node: string, stateDir: string, spec: TaskSpec, s: NodeSecrets): Promise<MaterializedSecrets> {
  const tpl = spec.template;
  const records = new Map<string, NodeSecretRecord>();
  const want = [...tpl.secretMounts.map((m) => ({ name: m.secretName, version: m.version })), ...(tpl.secretEnv ?? []).map((e) => ({ name: e.secretName, version: e.version }))];
  for (const w of want) {
    const key = `${spec.namespace}.${w.name}`;
    if (records.has(key)) continue;
    const rec = (await s.bucket.get(key))?.value;
    if (!rec || (w.version !== undefined && rec.version !== w.version)) {
      throw new GitcellError('E_SECRET_NOT_DELIVERED', `Secret ${spec.namespace}/${w.name}${w.version ? ` version ${w.version}` : ''} has not been delivered to node ${node} yet${rec ? ` (it holds version ${rec.version})` : ''}`, { secret: `${spec.namespace}/${w.name}`, node });
    }
    records.set(key, rec);
  }
  const open = (name: string, key: string): Buffer => {
    const rec = records.get(`${spec.namespace}.${name}`)!;
    const sealed = rec.values[key];
    if (sealed === undefined) throw new GitcellError('E_SECRET_KEY', `Secret ${spec.namespace}/${name} has no key "${key}"`, { secret: `${spec.namespace}/${name}`, key });
    try {
      return openValue(sealed, { namespace: spec.namespace, name, key, audience: node }, (id) => s.keyring.privateKey(id));
    } catch (err) {
      throw new GitcellError('E_SECRET_OPEN', `Secret ${spec.namespace}/${name} key "${key}" does not open with node ${node}'s key: ${errorMessage(err)}`, { secret: `${spec.namespace}/${name}`, key }, { cause: err });
    }
  };

  const env = (tpl.secretEnv ?? []).map((e) => ({ name: e.name, value: open(e.secretName, e.key).toString('utf8') }));
  const mounts: MaterializedSecrets['mounts'] = [];
  if (tpl.secretMounts.length === 0) return { mounts, env };

  const dir = taskSecretDir(stateDir, spec.id);
  await unmountTaskSecrets(stateDir, spec.id); // a fresh tmpfs per start: no stale version survives
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const r = await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700,nosuid,nodev,noexec', 'tmpfs', dir]);
  if (r.code !== 0) throw new GitcellError('E_SECRET_MOUNT', `cannot mount a tmpfs for the secrets of ${spec.id}: ${r.stderr.trim()}`, { taskId: spec.id });
  const owner = numericOwner(tpl.user);
  try {
    for (const [i, m] of tpl.secretMounts.entries()) {
      const sub = join(dir, String(i));
      await mkdir(sub, { mode: 0o755 });
      const rec = records.get(`${spec.namespace}.${m.secretName}`)!;
      const items = m.items ?? Object.keys(rec.values).sort().map((key) => ({ key, path: key }));
      for (const item of items) {
        if (item.path.split('/').some((p) => p === '..' || p === '') || item.path.startsWith('/')) {
          throw new GitcellError('E_SECRET_PATH', `Secret ${spec.namespace}/${m.secretName}: item path "${item.path}" must be relative and stay inside ${m.mountPath}`, { path: item.path });
        }
        const file = join(sub, item.path);
        await mkdir(join(file, '..'), { recursive: true });
        const value = open(m.secretName, item.key);
        await writeFile(file, value, { mode: m.defaultMode ?? 0o400 });
        value.fill(0);
        await chown(file, owner.uid, owner.gid);
      }
      mounts.push({ source: sub, destination: m.mountPath });
    }
  } catch (err) {
    await unmountTaskSecrets(stateDir, spec.id).catch(() => {});
    throw err;
  }
  return { mounts, env };
}
