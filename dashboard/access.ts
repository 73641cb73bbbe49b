/**
 * Who may read the dashboard. Pure decisions, tested alone and as an attacker against the real
 * server:
 *
 *   - bound to loopback (the default), no token: only this machine reaches it. A page on any site
 *     the user visits could still make the browser ask http://127.0.0.1:PORT (DNS rebinding), so the
 *     Host header must name the dashboard's own loopback address or `localhost`.
 *   - bound to any other address, a token is required (refused at start without one): the
 *     `Authorization: Bearer TOKEN` header, or the `gitcell_dashboard` cookie that opening
 *     `/?token=TOKEN` once sets (HttpOnly, SameSite=Strict: EventSource cannot send headers).
 *     Compared in constant time.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { UsageError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** TOKEN_COOKIE names the cookie holding the dashboard token. */
export const TOKEN_COOKIE = 'gitcell_dashboard';

/** AccessPolicy is what the server checks on every request. */
export interface AccessPolicy {
  /** the token, when one is required */
  token?: string;
  /** loopback binding: Host must be one of these (host:port) */
  allowedHosts?: readonly string[];
}

/** isLoopback tells whether a listen host is loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** accessPolicy decides the policy of a listen address: a token is required off loopback (E_DASHBOARD_TOKEN_REQUIRED without one). */
export function accessPolicy(host: string, port: number, token: string | undefined): AccessPolicy {
  if (token !== undefined && token.length < 16) throw new UsageError(ErrorCodes.Usage, 'the dashboard token must be at least 16 characters', { flag: '--token-file' });
  if (isLoopback(host)) {
    const hosts = [...new Set([`${host.includes(':') ? `[${host}]` : host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`])];
    return { ...(token ? { token } : {}), allowedHosts: hosts };
  }
  if (!token) {
    throw new UsageError(ErrorCodes.DashboardTokenRequired, `the dashboard listens on ${host}, which is not loopback: give a token (--token-file or GITCELL_DASHBOARD_TOKEN), or listen on 127.0.0.1`, { host });
  }
  return { token };
}

/** RequestFacts are the parts of a request the decision reads. */
export interface RequestFacts {
  host?: string;
  authorization?: string;
  cookie?: string;
  /** the `token` query parameter, if any */
  queryToken?: string;
}

/** Decision is allow (with a cookie to set when a query token was right) or deny with why. */
export type Decision = { allow: true; setCookie?: string } | { allow: false; status: 401 | 421; reason: string };

/** decide applies the policy to one request. Pure. */
export function decide(p: AccessPolicy, r: RequestFacts): Decision {
  if (p.allowedHosts && !p.allowedHosts.includes((r.host ?? '').toLowerCase())) {
    return { allow: false, status: 421, reason: `Host ${JSON.stringify(r.host ?? '')} is not this dashboard (${p.allowedHosts.join(', ')})` };
  }
  if (!p.token) return { allow: true };
  const bearer = /^Bearer (.+)$/i.exec(r.authorization ?? '')?.[1];
  if (bearer !== undefined && sameToken(bearer, p.token)) return { allow: true };
  const cookie = cookieValue(r.cookie, TOKEN_COOKIE);
  if (cookie !== undefined && sameToken(cookie, p.token)) return { allow: true };
  if (r.queryToken !== undefined && sameToken(r.queryToken, p.token)) {
    return { allow: true, setCookie: `${TOKEN_COOKIE}=${encodeURIComponent(p.token)}; HttpOnly; SameSite=Strict; Path=/` };
  }
  return { allow: false, status: 401, reason: 'a token is required: open the URL `gitcell dashboard` printed (…/?token=…) or send Authorization: Bearer TOKEN' };
}

/** sameToken compares in constant time (hashes first, so lengths do not leak either). */
function sameToken(given: string, want: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(given), h(want));
}

/** cookieValue reads one cookie from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
