import { existsSync } from 'node:fs';
import { mkdir, writeFile, rm, chown, chmod, readdir } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { NodeSecretRecord, TaskSpec } from '../api/cluster.ts';
import { SecretsError } from '../lib/errors.ts';
import { openValue, type Keyring } from '../secrets/index.ts';
import { ErrorCodes } from '../lib/error-codes.ts';
import { runChecked } from '../runtime/network/exec.ts';

/** run: mount, findmnt and umount through the spawn helper, not a fork of the agent (runChecked). */
const run = runChecked;

/** TMPFS_OPTIONS: a task's Secret files live on a small tmpfs of their own, never on a disk. */
const TMPFS_OPTIONS = 'size=4m,mode=0711,nosuid,nodev,noexec';

/** SecretSource is where the agent reads the Secrets re-sealed for its node (its own bucket). */
export interface SecretSource {
  get(key: string): Promise<{ value: NodeSecretRecord } | undefined>;
}

/** PreparedSecrets is what a task's container needs: read-only binds and env values. */
export interface PreparedSecrets {
  mounts: { type: 'bind'; source: string; destination: string; readonly: true }[];
  env: { name: string; value: string }[];
}

/**
 * SecretVolumes delivers a task's Secrets as files: one tmpfs per task under `root` (so values never
 * touch a disk), a directory per Secret with one file per key (mode 0400, owned by the task's
 * user), bind-mounted read-only at the mount path. Values are opened with the node's own key; the
 * reconciler re-sealed them for this node alone.
 */
export class SecretVolumes {
  constructor(
    private readonly opts: { root: string; node: string; keyring: Keyring; source: SecretSource },
  ) {}

  /**
   * prepare makes a task's Secrets ready. E_SECRET_NOT_DELIVERED (a waiting error: retry later)
   * when a Secret has not reached this node yet at the version the task was built with.
   */
  async prepare(task: TaskSpec, owner: { uid: number; gid: number }): Promise<PreparedSecrets> {
    const { secretMounts } = task.template;
    const secretEnv = task.template.secretEnv ?? [];
    if (secretMounts.length === 0 && secretEnv.length === 0) return { mounts: [], env: [] };
    const wanted = wantedSecrets(task);
    const values = new Map<string, Map<string, Buffer>>();
    for (const [name, version] of wanted) values.set(name, await this.open(task.namespace, name, version));

    const dir = this.taskDir(task.id);
    const prepared: PreparedSecrets = { mounts: [], env: [] };
    if (secretMounts.length > 0) {
      await this.mountTmpfs(dir);
      for (const m of secretMounts) {
        const secret = values.get(m.secretName)!;
        const secretDir = join(dir, m.secretName);
        await mkdir(secretDir, { recursive: true, mode: 0o500 });
        const items = m.items ?? [...secret.keys()].map((key) => ({ key, path: key }));
        for (const item of items) {
          const value = secret.get(item.key);
          if (value === undefined) throw new SecretsError(ErrorCodes.SecretKeyMissing, `task ${task.id}: Secret ${task.namespace}/${m.secretName} has no key "${item.key}"`, { task: task.id, secret: m.secretName, key: item.key });
          const path = normalize(join(secretDir, item.path));
          if (!path.startsWith(`${secretDir}/`)) throw new SecretsError(ErrorCodes.SecretPath, `task ${task.id}: item path "${item.path}" leaves the Secret's directory`, { task: task.id, path: item.path });
          await mkdir(join(path, '..'), { recursive: true, mode: 0o500 });
          await writeFile(path, value, { mode: 0o400 });
          await chown(path, owner.uid, owner.gid);
        }
        await chown(secretDir, owner.uid, owner.gid);
        await chmod(secretDir, 0o500);
        prepared.mounts.push({ type: 'bind', source: secretDir, destination: m.mountPath, readonly: true });
      }
    }
    for (const e of secretEnv) {
      const value = values.get(e.secretName)!.get(e.key);
      if (value === undefined) throw new SecretsError(ErrorCodes.SecretKeyMissing, `task ${task.id}: Secret ${task.namespace}/${e.secretName} has no key "${e.key}" (env ${e.name})`, { task: task.id, secret: e.secretName, key: e.key });
      prepared.env.push({ name: e.name, value: value.toString('utf8') });
    }
    for (const secret of values.values()) for (const v of secret.values()) v.fill(0);
    return prepared;
  }

  /** release unmounts and removes a task's Secret files; safe to call when there are none. */
  async release(taskId: string): Promise<void> {
    const dir = this.taskDir(taskId);
    // Nothing can be mounted on a directory that is not there: a first start forks no umount.
    if (!existsSync(dir)) return;
    await run('umount', ['-l', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  /** releaseAllExcept removes the Secret files of every task not in `keep` (after an agent restart). */
  async releaseAllExcept(keep: ReadonlySet<string>): Promise<void> {
    const entries = await readdir(this.opts.root).catch(() => [] as string[]);
    for (const taskId of entries) if (!keep.has(taskId)) await this.release(taskId);
  }

  private taskDir(taskId: string): string {
    return join(this.opts.root, taskId);
  }

  /** missing names the first Secret of `task` ("ns/name") not delivered to this node at its version yet; undefined when all are. */
  async missing(task: TaskSpec): Promise<string | undefined> {
    for (const [name, version] of wantedSecrets(task)) {
      const record = (await this.opts.source.get(`${task.namespace}.${name}`))?.value;
      if (!record || (version !== undefined && record.version !== version)) return `${task.namespace}/${name}`;
    }
    return undefined;
  }

  private async mountTmpfs(dir: string): Promise<void> {
    // A directory made just now is no mount point: findmnt only for one that was there (an agent restart).
    const made = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (made === undefined) {
      const { stdout } = await run('findmnt', ['-n', '-o', 'FSTYPE', '--mountpoint', dir]).catch(() => ({ stdout: '' }));
      if (stdout.trim() === 'tmpfs') return; // adopted after an agent restart: already mounted
    }
    await run('mount', ['-t', 'tmpfs', '-o', TMPFS_OPTIONS, 'gitcell-secrets', dir]);
  }

  /**
   * open reads one Secret delivered to this node (any version when `version` is undefined): key →
   * value. The caller zeroes the buffers when done. E_SECRET_NOT_DELIVERED when it is not here (yet).
   */
  async open(namespace: string, name: string, version: string | undefined): Promise<Map<string, Buffer>> {
    const record = (await this.opts.source.get(`${namespace}.${name}`))?.value;
    if (!record || (version !== undefined && record.version !== version)) {
      throw new SecretsError(ErrorCodes.SecretNotDelivered, `Secret ${namespace}/${name}${version ? ` version ${version}` : ''} has not reached node ${this.opts.node} yet`, { namespace, name, version, node: this.opts.node });
    }
    const values = new Map<string, Buffer>();
    for (const [key, sealed] of Object.entries(record.values)) {
      values.set(key, openValue(sealed, { namespace, name, key, audience: this.opts.node }, (id) => this.opts.keyring.privateKey(id)));
    }
    return values;
  }
}

/** numericOwner reads "uid" or "uid:gid" from a task's user; names resolve to root here. */
export function numericOwner(user: string | undefined): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  if (!m) return { uid: 0, gid: 0 };
  const uid = Number(m[1]);
  return { uid, gid: m[2] !== undefined ? Number(m[2]) : uid };
}

/** wantedSecrets maps each Secret a task uses (mounts, then env) to the version it was built with. Pure. */
function wantedSecrets(task: TaskSpec): Map<string, string | undefined> {
  const wanted = new Map<string, string | undefined>();
  for (const m of task.template.secretMounts) wanted.set(m.secretName, m.version);
  for (const e of task.template.secretEnv ?? []) if (!wanted.has(e.secretName)) wanted.set(e.secretName, e.version);
  return wanted;
}
