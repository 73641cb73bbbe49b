import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { errorMessage, GitError } from '../../lib/errors.ts';
import type { Secret } from '../../api/manifests.ts';
import type { SshAuth } from '../git/transport.ts';
import type { GitCredentials } from './types.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** TOKEN_USERNAME is sent with a bare token: GitHub, Gitea and GitLab all accept any user name then. */
export const TOKEN_USERNAME = 'x-access-token';

/**
 * parseCredentials reads a credentials document (YAML or JSON): either `username` + `password`, or
 * `token` (sent as the basic-auth password, with `username` or TOKEN_USERNAME). `file` only names
 * the source in errors. Throws E_BAD_CREDENTIALS naming the file, field and reason.
 */
export function parseCredentials(text: string, file: string): GitCredentials {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: not valid YAML: ${errorMessage(err)}`, { file });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: expected a mapping with username/password or token`, { file });
  }
  const d = doc as Record<string, unknown>;
  for (const field of ['username', 'password', 'token'] as const) {
    if (d[field] !== undefined && typeof d[field] !== 'string') {
      throw new GitError(ErrorCodes.BadCredentials, `${file}: field "${field}" must be a string`, { file, field });
    }
  }
  const username = d.username as string | undefined;
  const password = d.password as string | undefined;
  const token = d.token as string | undefined;
  if (token !== undefined && password !== undefined) {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: give either "token" or "password", not both`, { file, field: 'token' });
  }
  if (token !== undefined) {
    if (token === '') throw new GitError(ErrorCodes.BadCredentials, `${file}: field "token" is empty`, { file, field: 'token' });
    return { username: username ?? TOKEN_USERNAME, password: token };
  }
  if (username === undefined || password === undefined) {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: needs "username" and "password", or "token"`, {
      file,
      field: username === undefined ? 'username' : 'password',
    });
  }
  return { username, password };
}

/** loadCredentials reads and parses a credentials file (see parseCredentials). */
export function loadCredentials(file: string): GitCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: cannot read credentials file: ${errorMessage(err)}`, { file });
  }
  return parseCredentials(text, file);
}

/** SSH_SECRET_KEYS are the keys of a Git SSH Secret, as Flux names them: the deploy key and the pinned host keys. */
export const SSH_SECRET_KEYS = { identity: 'identity', knownHosts: 'known_hosts' } as const;

/**
 * sshAuthFromSecret reads a sealed Secret manifest (`gitcell secret seal --from-file
 * identity=KEY --from-file known_hosts=FILE`) and opens it with `open` (the cluster's sealing keys):
 * the deploy key never lies on disk in plaintext. Throws E_BAD_CREDENTIALS naming the file and key.
 */
export function sshAuthFromSecret(file: string, open: (secret: Secret) => Map<string, Buffer>): SshAuth {
  let doc: unknown;
  try {
    doc = load(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: cannot read the Git Secret: ${errorMessage(err)}`, { file });
  }
  const secret = doc as Secret;
  if (doc === null || typeof doc !== 'object' || secret.kind !== 'Secret' || typeof secret.metadata?.name !== 'string') {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: expected a Secret manifest (kind: Secret, metadata.name) from \`gitcell secret seal\``, { file });
  }
  let values: Map<string, Buffer>;
  try {
    values = open(secret);
  } catch (err) {
    throw new GitError(ErrorCodes.BadCredentials, `${file}: the Secret does not open with this cluster's sealing keys: ${errorMessage(err)}`, { file });
  }
  const identity = values.get(SSH_SECRET_KEYS.identity);
  if (!identity?.length) throw new GitError(ErrorCodes.BadCredentials, `${file}: the Secret has no "${SSH_SECRET_KEYS.identity}" (the SSH deploy key)`, { file, field: SSH_SECRET_KEYS.identity });
  const knownHosts = values.get(SSH_SECRET_KEYS.knownHosts)?.toString('utf8');
  return { identity, ...(knownHosts ? { knownHosts } : {}) };
}
