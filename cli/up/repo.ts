/**
 * The repository `gitcell up` follows. By default a copy of sample-repo made into a Git repository
 * at `<state>/repo` on first run (so the user can commit to it), with the sample Secrets re-sealed
 * with this cluster's key: the committed placeholders were sealed with a throwaway key.
 */
import * as fs from 'node:fs';
import { cp, readFile, readdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import git from 'isomorphic-git';
import { loadAll } from 'js-yaml';
import { errorMessage, GitError, UsageError } from '../../lib/errors.ts';
import { Keyring, sealValue } from '../../secrets/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** UP_AUTHOR signs the first commit of the state dir's repository. */
export const UP_AUTHOR = { name: 'gitcell up', email: 'up@gitcell.invalid' } as const;

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === '.git') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

interface SealedSecret {
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  spec?: { encryptedData?: Record<string, unknown> };
}

/**
 * resealSecrets replaces every sealed value of every Secret under `dir` with a fresh random value
 * sealed with the cluster's active key. Values are swapped in the text, so comments stay. Returns
 * how many values were re-sealed.
 */
export async function resealSecrets(dir: string, keyring: Keyring): Promise<number> {
  const pem = keyring.publicKeyPem();
  let count = 0;
  for (const file of (await files(dir)).filter((f) => /\.ya?ml$/.test(f))) {
    let text = await readFile(file, 'utf8');
    let docs: unknown[];
    try {
      docs = loadAll(text) as unknown[];
    } catch {
      continue; // not ours to judge: the reconciler reports broken YAML with file and line
    }
    let changed = false;
    for (const doc of docs as SealedSecret[]) {
      if (!doc || doc.kind !== 'Secret' || !doc.spec?.encryptedData) continue;
      const name = String(doc.metadata?.name ?? '');
      const namespace = typeof doc.metadata?.namespace === 'string' ? doc.metadata.namespace : 'default';
      for (const [key, old] of Object.entries(doc.spec.encryptedData)) {
        if (typeof old !== 'string' || !text.includes(old)) continue;
        const fresh = sealValue(pem, { namespace, name, key }, randomBytes(18).toString('base64url'));
        text = text.replace(old, fresh);
        changed = true;
        count++;
      }
    }
    if (changed) await writeFile(file, text);
  }
  return count;
}

/**
 * ensureStateRepo makes `<stateDir>/repo` from `source` on first run (copy, re-seal the Secrets
 * with `keyring` once it is there, git init on main, one commit) and returns its path; later runs
 * reuse it untouched.
 */
export async function ensureStateRepo(source: string, stateDir: string, keyring: Promise<Keyring>): Promise<{ dir: string; created: boolean; resealed: number }> {
  const dir = join(stateDir, 'repo');
  if (fs.existsSync(join(dir, '.git'))) return { dir, created: false, resealed: 0 };
  if (!fs.existsSync(source)) throw new GitError(ErrorCodes.RepoNotFound, `--repo ${source}: no such directory`, { repo: source });
  try {
    await cp(source, dir, { recursive: true, filter: (src) => !src.split('/').includes('.git') });
    const resealed = await resealSecrets(dir, await keyring);
    await git.init({ fs, dir, defaultBranch: 'main' });
    // One add of every file: an add per file read and rewrote the index each time (11 files of
    // sample-repo: 100-280 ms on up's thread, on its path to the control plane; all at once ~30 ms).
    await git.add({ fs, dir, filepath: (await files(dir)).map((f) => relative(dir, f)), parallel: true });
    await git.commit({ fs, dir, message: `Initial cluster repository from ${source}\n\nSecrets re-sealed with this cluster's key (random values).`, author: UP_AUTHOR });
    return { dir, created: true, resealed };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new UsageError(ErrorCodes.RepoInit, `cannot make ${dir} from ${source}: ${errorMessage(err)}`, { source, dir });
  }
}

/** followsDirectly tells whether `repo` is a URL or a Git repository (working tree or bare): followed as is, not copied. */
export function followsDirectly(repo: string): boolean {
  if (/^(https?|git|ssh):\/\//.test(repo) || /^[^/]+@[^/]+:/.test(repo)) return true;
  return fs.existsSync(join(repo, '.git')) || (fs.existsSync(join(repo, 'HEAD')) && fs.existsSync(join(repo, 'objects')));
}
