// Registry credentials in Docker's config.json format (`~/.docker/config.json`, Kubernetes'
// `.dockerconfigjson` Secrets, podman's auth.json): `{"auths": {"HOST": {"auth": base64(user:pass)}}}`
// or `{"auths": {"HOST": {"username": ..., "password": ...}}}`. Pure parsing and lookup.
import { ImageError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import type { Credentials } from './auth.ts';

/** RegistryAuths maps a normalised registry host[:port] to its credentials. */
export type RegistryAuths = ReadonlyMap<string, Credentials>;

/** Docker Hub's many names: credentials under any of them serve docker.io references. */
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * registryHost normalises a config.json key to the host[:port] of image references: the scheme and
 * any path are dropped ("https://index.docker.io/v1/" → "docker.io"), the host is lower-cased.
 */
export function registryHost(key: string): string {
  let host = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  return DOCKER_HUB.has(host) ? 'docker.io' : host;
}

/**
 * parseDockerConfig reads the `auths` of a docker config.json. `where` names the source in errors
 * (a Secret and key, a file). An entry with neither `auth` nor `username`/`password` is an error
 * (E_REGISTRY_CONFIG_INVALID): a silently ignored entry would turn into a confusing 401 later.
 * Credential helpers (`credsStore`, `credHelpers`) and `identitytoken` are not supported: they
 * need programs or token exchanges a node does not have.
 */
export function parseDockerConfig(text: string, where: string): Map<string, Credentials> {
  const fail = (why: string): never => {
    throw new ImageError(ErrorCodes.RegistryConfigInvalid, `${where}: ${why}`, { where });
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`not JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return fail('not a JSON object');
  const auths = (doc as { auths?: unknown }).auths;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) return fail('has no "auths" object (the docker config.json format)');
  const out = new Map<string, Credentials>();
  for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const creds = entryCredentials(e, key, fail);
    if (!out.has(registryHost(key))) out.set(registryHost(key), creds);
  }
  return out;
}

function entryCredentials(e: Record<string, unknown>, key: string, fail: (why: string) => never): Credentials {
  if (typeof e.auth === 'string' && e.auth !== '') {
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) fail(`auths["${key}"].auth is not base64 of "username:password"`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string' && e.username !== '') return { username: e.username, password: e.password };
  if (typeof e.identitytoken === 'string') fail(`auths["${key}"] has an identitytoken, which gitcell does not exchange; give "auth" or "username"/"password"`);
  return fail(`auths["${key}"] has neither "auth" nor "username" and "password"`);
}

/** mergeAuths joins several sources; the first one naming a host wins (pull Secrets in order, then the node's file). */
export function mergeAuths(...sources: (RegistryAuths | undefined)[]): Map<string, Credentials> {
  const out = new Map<string, Credentials>();
  for (const s of sources) for (const [host, c] of s ?? []) if (!out.has(host)) out.set(host, c);
  return out;
}

/** credentialsFor returns the credentials for a registry host[:port], if any. */
export function credentialsFor(auths: RegistryAuths | undefined, domain: string): Credentials | undefined {
  return auths?.get(registryHost(domain));
}
