// Registry authentication: the WWW-Authenticate challenge flow of the distribution spec.
// Pure parsing here; the HTTP exchange lives in client.ts.

/** Credentials are a username and password (or token) for basic auth and token requests. */
export interface Credentials {
  username: string;
  password: string;
}

/** Challenge is one parsed WWW-Authenticate challenge. */
export interface Challenge {
  /** scheme in lower case: "basic" or "bearer" (others are reported, never answered). */
  scheme: string;
  params: Record<string, string>;
}

/**
 * parseChallenge parses a WWW-Authenticate header value such as
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`.
 * Returns undefined for an empty or unparsable header. Only the first challenge is used.
 */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  const rest = m[2] ?? '';
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null) {
    if (p[0].length === 0) break;
    const key = p[1]!.toLowerCase();
    params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme, params };
}

/** basicAuthorization renders an Authorization header value for basic auth. */
export function basicAuthorization(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
}

/** repositoryScope is the token scope for actions on one repository, e.g. "repository:web:pull,push". */
export function repositoryScope(repository: string, actions: ('pull' | 'push')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/**
 * tokenRequestUrl builds the token endpoint URL from a Bearer challenge: realm with service and
 * scope query parameters. The challenge's own scope wins over `scope` when present, because the
 * registry names exactly what it wants.
 */
export function tokenRequestUrl(challenge: Challenge, scope: string | undefined): URL {
  const realm = challenge.params.realm;
  if (!realm) throw new Error('Bearer challenge has no realm');
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  const wanted = challenge.params.scope ?? scope;
  if (wanted) for (const s of wanted.split(' ')) url.searchParams.append('scope', s);
  return url;
}
