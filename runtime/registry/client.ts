import { ImageError } from '../../lib/errors.ts';
import { isPlainHttpRegistry } from '../image/index.ts';
import { basicAuthorization, parseChallenge, tokenRequestUrl, type Challenge, type Credentials } from './auth.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** MANIFEST_ACCEPT lists every manifest and index type gitcell reads, for the Accept header. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** MAX_MANIFEST_BYTES bounds what gitcell reads as a manifest (the distribution spec says 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** RegistryClientOptions configure one client: one registry host, optional credentials. */
export interface RegistryClientOptions {
  /** domain is host[:port] as in an image reference. */
  domain: string;
  credentials?: Credentials;
  /** plainHttp overrides the scheme choice (default: HTTP for loopback and localhost, else HTTPS). */
  plainHttp?: boolean;
  /** timeoutMs bounds each request without a streaming body (default 30 s). */
  timeoutMs?: number;
}

/** RequestOptions for RegistryClient.request. */
export interface RequestOptions {
  /** scope is the token scope the request needs, e.g. "repository:web:pull". */
  scope: string;
  headers?: Record<string, string>;
  /** body is always a Buffer so a request can be replayed after an auth challenge. */
  body?: Buffer;
  /** stream disables the per-request timeout (blob bodies can take long); pass `signal` instead. */
  stream?: boolean;
  signal?: AbortSignal;
}

/**
 * RegistryClient speaks the OCI distribution API to one registry: it answers WWW-Authenticate
 * challenges (basic, or bearer tokens fetched from the challenge's realm with basic credentials or
 * anonymously), caches one Authorization value per scope, and turns registry errors into
 * GitcellErrors (E_REGISTRY_UNREACHABLE, E_REGISTRY_UNAUTHORIZED, E_REGISTRY_DENIED, E_REGISTRY_ERROR).
 */
export class RegistryClient {
  readonly domain: string;
  readonly baseUrl: string;
  private readonly credentials: Credentials | undefined;
  private readonly timeoutMs: number;
  private readonly auth = new Map<string, string>();
  private challenge: Challenge | undefined;

  constructor(options: RegistryClientOptions) {
    this.domain = options.domain;
    this.credentials = options.credentials;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const plain = options.plainHttp ?? isPlainHttpRegistry(options.domain);
    // Docker Hub's API host differs from the name in references.
    const host = options.domain === 'docker.io' ? 'registry-1.docker.io' : options.domain;
    this.baseUrl = `${plain ? 'http' : 'https'}://${host}`;
  }

  /** url resolves a registry path (or a Location header, possibly relative) to a full URL. */
  url(pathOrLocation: string): URL {
    return new URL(pathOrLocation, this.baseUrl);
  }

  /** ping checks /v2/ and learns the auth challenge; E_REGISTRY_UNREACHABLE when nothing answers. */
  async ping(): Promise<void> {
    const res = await this.send('GET', this.url('/v2/'), {}, undefined, false);
    await res.body?.cancel();
    if (res.status === 401) {
      this.challenge = parseChallenge(res.headers.get('www-authenticate'));
      return;
    }
    if (!res.ok) throw await this.failure(res, 'GET /v2/');
  }

  /**
   * request sends one API request, authenticating for `options.scope` first when the registry
   * is known to want it, and once more after a 401 challenge. Returns the response whatever its
   * status after auth; callers decide which statuses are fine.
   */
  async request(method: string, pathOrUrl: string | URL, options: RequestOptions): Promise<Response> {
    const url = typeof pathOrUrl === 'string' ? this.url(pathOrUrl) : pathOrUrl;
    if (!this.auth.has(options.scope) && this.challenge) await this.authenticate(this.challenge, options.scope);
    let res = await this.send(method, url, this.headersFor(options), options.body, options.stream ?? false, options.signal);
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      await res.body?.cancel();
      if (!challenge) throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain}: ${method} ${url.pathname} was refused (401) without a WWW-Authenticate challenge`, { domain: this.domain });
      const had = this.auth.get(options.scope);
      this.challenge = challenge;
      await this.authenticate(challenge, options.scope);
      if (had === this.auth.get(options.scope) && challenge.scheme === 'basic') {
        throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain}: credentials for ${this.credentials?.username ?? '(anonymous)'} were refused`, { domain: this.domain });
      }
      res = await this.send(method, url, this.headersFor(options), options.body, options.stream ?? false, options.signal);
      if (res.status === 401) {
        await res.body?.cancel();
        throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain}: ${method} ${url.pathname} still refused (401) after authenticating as ${this.credentials?.username ?? '(anonymous)'} for ${options.scope}`, { domain: this.domain, scope: options.scope });
      }
    }
    return res;
  }

  /** failure turns an unexpected response into a GitcellError carrying the registry's error codes. */
  async failure(res: Response, what: string): Promise<InstanceType<typeof ImageError>> {
    let detail = '';
    try {
      const text = (await res.text()).slice(0, 2000);
      try {
        const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
        detail = (body.errors ?? []).map((e) => `${e.code ?? '?'}: ${e.message ?? ''}`).join('; ');
      } catch {
        detail = text.trim().slice(0, 200);
      }
    } catch { /* body unreadable: status alone */ }
    const data = { domain: this.domain, status: res.status, detail };
    const msg = `${this.domain}: ${what} failed with HTTP ${res.status}${detail ? ` (${detail})` : ''}`;
    if (res.status === 401) return new ImageError(ErrorCodes.RegistryUnauthorized, msg, data);
    if (res.status === 403) return new ImageError(ErrorCodes.RegistryDenied, msg, data);
    return new ImageError(ErrorCodes.RegistryError, msg, data);
  }

  private headersFor(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    const auth = this.auth.get(options.scope);
    if (auth) headers.authorization = auth;
    return headers;
  }

  private async authenticate(challenge: Challenge, scope: string): Promise<void> {
    if (challenge.scheme === 'basic') {
      if (!this.credentials) throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain} wants credentials (basic auth) and none were given: a pull Secret in the task's imagePullSecrets, the node's --registry-auth, or for gitcell image --username with --password-stdin`, { domain: this.domain });
      this.auth.set(scope, basicAuthorization(this.credentials));
      return;
    }
    if (challenge.scheme !== 'bearer') {
      throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain} wants "${challenge.scheme}" auth, which gitcell does not speak (basic and bearer only)`, { domain: this.domain });
    }
    let url: URL;
    try {
      url = tokenRequestUrl(challenge, scope);
    } catch (err) {
      throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain}: bad Bearer challenge (${(err as Error).message})`, { domain: this.domain });
    }
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = basicAuthorization(this.credentials);
    const res = await this.send('GET', url, headers, undefined, false);
    if (!res.ok) {
      const err = await this.failure(res, `token request to ${url.origin}${url.pathname}`);
      if (res.status !== 401 && res.status !== 403) throw err;
      const who = this.credentials ? `the credentials of ${this.credentials.username}` : 'anonymous access (no credentials were given)';
      throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain}: the token service ${url.origin}${url.pathname} refused ${who} for ${scope} (HTTP ${res.status})`, err.data);
    }
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain}: token endpoint ${url.origin}${url.pathname} did not return JSON`, { domain: this.domain });
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new ImageError(ErrorCodes.RegistryUnauthorized, `${this.domain}: token endpoint ${url.origin}${url.pathname} returned no token`, { domain: this.domain });
    this.auth.set(scope, `Bearer ${token}`);
  }

  private async send(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined, stream: boolean, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: 'follow',
        ...(signal ? { signal } : stream ? {} : { signal: AbortSignal.timeout(this.timeoutMs) }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ImageError(ErrorCodes.RegistryUnreachable, `${this.domain}: ${method} ${url.origin}${url.pathname} failed (${why})`, { domain: this.domain, url: url.href, reason: why });
    }
  }
}

/** readLimited reads a response body up to `limit` bytes; E_REGISTRY_ERROR past it. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > limit) {
    await res.body?.cancel();
    throw new ImageError(ErrorCodes.RegistryError, `${what}: ${declared} bytes is over the ${limit}-byte limit`, { limit });
  }
  const parts: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      total += chunk.length;
      if (total > limit) throw new ImageError(ErrorCodes.RegistryError, `${what}: more than the ${limit}-byte limit`, { limit });
      parts.push(Buffer.from(chunk));
    }
  }
  return Buffer.concat(parts);
}
