// ensureImage: make an image available on this node as a pull policy says (Kubernetes' Always,
// IfNotPresent, Never), trying registry mirrors before the image's own registry (containerd's
// hosts model), with credentials looked up per host.
//
//   local name (localhost/...) ──► the local store only
//   Never ──► present? use it : E_IMAGE_NOT_PRESENT
//   IfNotPresent ──► present? use it : pull
//   Always ──► ask the registry for the tag's digest ─► same as the local ref? use it : pull (new layers only)
//   pull/ask: mirror 1 ─► mirror 2 ─► ... ─► the image's registry (a mirror's failure falls through)
import { ImageError, isGitcellError, type GitcellError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { LOCAL_DOMAIN, formatReference, parseReference, type ImageStore } from '../image/index.ts';
import { MANIFEST_ACCEPT, RegistryClient } from './client.ts';
import { credentialsFor, registryHost, type RegistryAuths } from './docker-config.ts';
import { pullImage, type PullOptions } from './pull.ts';

/** PullPolicy says when a node pulls an image (Kubernetes' imagePullPolicy). */
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** RegistryMirrors maps a registry host[:port] to mirror endpoints tried first, in order. */
export type RegistryMirrors = Readonly<Record<string, readonly string[]>>;

/** EnsureImageOptions: the policy (default defaultPullPolicy(ref)), credentials, mirrors, pull tuning. */
export interface EnsureImageOptions extends Omit<PullOptions, 'client' | 'credentials'> {
  policy?: PullPolicy;
  auths?: RegistryAuths;
  mirrors?: RegistryMirrors;
  /** told once, when a pull begins (the image is missing or its tag moved): a wait worth telling whoever waits for the image */
  onPull?: () => void;
}

/** EnsureResult says what ensureImage did: used the local copy, or pulled (from which endpoint). */
export interface EnsureResult {
  ref: string;
  pulled: boolean;
  /** the endpoint that served the pull or the digest check (a mirror or the image's registry) */
  from?: string;
}

/** defaultPullPolicy is Kubernetes' default: Always for `:latest` (or no tag), IfNotPresent otherwise. */
export function defaultPullPolicy(ref: string): PullPolicy {
  const r = parseReference(ref);
  return r.digest === undefined && r.tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/** Endpoint is one place to pull from: a host[:port] and whether it speaks plain HTTP. */
interface Endpoint {
  domain: string;
  plainHttp?: boolean;
}

/**
 * parseEndpoint reads a mirror as "host[:port]" (the scheme gitcell picks for the host) or
 * "http(s)://host[:port]" (that scheme). E_REGISTRY_CONFIG_INVALID otherwise.
 */
export function parseEndpoint(spec: string, where: string): { domain: string; plainHttp?: boolean } {
  const m = /^(?:(https?):\/\/)?([^/\s]+)\/?$/.exec(spec.trim());
  if (!m) throw new ImageError(ErrorCodes.RegistryConfigInvalid, `${where}: mirror "${spec}" is not host[:port] or http(s)://host[:port]`, { where, mirror: spec });
  return { domain: m[2]!.toLowerCase(), ...(m[1] ? { plainHttp: m[1] === 'http' } : {}) };
}

function endpointsFor(domain: string, mirrors: RegistryMirrors | undefined): Endpoint[] {
  const listed = mirrors?.[registryHost(domain)] ?? mirrors?.[domain] ?? [];
  return [...listed.map((m) => parseEndpoint(m, `mirror of ${domain}`)), { domain }];
}

/** ensureImage: see the file comment. Returns what it did; throws the image registry's error when every endpoint failed. */
export async function ensureImage(store: ImageStore, ref: string, options: EnsureImageOptions = {}): Promise<EnsureResult> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const local = await store.resolve(name).then(() => true, (err: unknown) => {
    if (isGitcellError(err, ErrorCodes.ImageNotFound) || isGitcellError(err, ErrorCodes.BlobNotFound)) return false;
    throw err;
  });
  if (parsed.domain === LOCAL_DOMAIN) {
    if (local) return { ref: name, pulled: false };
    await store.resolve(name); // throws E_IMAGE_NOT_FOUND naming the local store
  }
  const policy = options.policy ?? defaultPullPolicy(name);
  if (local && (policy !== 'Always' || parsed.digest !== undefined)) return { ref: name, pulled: false };
  if (policy === 'Never') {
    throw new ImageError(ErrorCodes.ImageNotPresent, `image ${name} is not on this node and its imagePullPolicy is Never (import it, or use IfNotPresent)`, { ref: name });
  }
  const have = local ? (await store.getRef(name))?.digest : undefined;
  let told = false; // once, however many mirrors are tried
  return tryEndpoints(name, endpointsFor(parsed.domain, options.mirrors), async (client) => {
    if (have !== undefined && (await remoteDigest(client, parsed.path, parsed.tag ?? 'latest')) === have) return false;
    const { policy: _p, auths: _a, mirrors: _m, onPull, ...pull } = options;
    if (!told) onPull?.();
    told = true;
    await pullImage(store, name, { ...pull, client });
    return true;
  }, options.auths);
}

async function tryEndpoints(name: string, endpoints: Endpoint[], attempt: (client: RegistryClient) => Promise<boolean>, auths: RegistryAuths | undefined): Promise<EnsureResult> {
  const failures: string[] = [];
  for (const [i, ep] of endpoints.entries()) {
    const credentials = credentialsFor(auths, ep.domain);
    const client = new RegistryClient({ domain: ep.domain, ...(ep.plainHttp !== undefined ? { plainHttp: ep.plainHttp } : {}), ...(credentials ? { credentials } : {}) });
    try {
      const pulled = await attempt(client);
      return { ref: name, pulled, from: ep.domain };
    } catch (err) {
      if (i === endpoints.length - 1 || !isGitcellError(err)) {
        if (failures.length && isGitcellError(err)) throw withMirrorFailures(err, failures);
        throw err;
      }
      failures.push(`mirror ${ep.domain}: ${err.message}`);
    }
  }
  throw new ImageError(ErrorCodes.RegistryUnreachable, `${name}: no endpoint to pull from`, { ref: name });
}

function withMirrorFailures(err: GitcellError, failures: string[]): GitcellError {
  err.message = `${err.message} (after ${failures.join('; ')})`;
  return err;
}

/** remoteDigest asks a registry for the digest a tag points at now (HEAD, Docker-Content-Digest). */
async function remoteDigest(client: RegistryClient, repository: string, tag: string): Promise<string | undefined> {
  await client.ping();
  const res = await client.request('HEAD', `/v2/${repository}/manifests/${tag}`, { scope: `repository:${repository}:pull`, headers: { accept: MANIFEST_ACCEPT } });
  await res.body?.cancel();
  if (res.status === 404) throw new ImageError(ErrorCodes.ImageNotFound, `${client.domain}/${repository}:${tag} is not in the registry`, { domain: client.domain, repository, reference: tag });
  if (!res.ok) throw await client.failure(res, `HEAD manifest ${repository}:${tag}`);
  return res.headers.get('docker-content-digest') ?? undefined;
}
