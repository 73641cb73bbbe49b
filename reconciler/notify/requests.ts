/**
 * The HTTP request each kind of receiver takes for one commit verdict: the commit status APIs of
 * GitHub (`POST /repos/{owner}/{repo}/statuses/{sha}`), Gitea (the same path and body, `token`
 * auth) and GitLab (`POST /projects/{id}/statuses/{sha}`, `PRIVATE-TOKEN`), or a generic JSON
 * webhook signed with HMAC-SHA256 over the body (`X-Gitcell-Signature-256: sha256=<hex>`, as
 * GitHub signs its webhooks). Pure: delivery.ts sends them.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { DEFAULT_FORGE_ADDRESS, type CommitStatusType, type ReceiverSpec } from '../../api/index.ts';
import type { CommitStatusVerdict } from './verdict.ts';

/** HttpRequest is one request to send. */
export interface HttpRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

/** NotifyContext is what every request says besides the verdict. */
export interface NotifyContext {
  /** the source name (status context default gitcell/<source>) */
  source: string;
  /** the Receiver, as namespace/name (webhook payloads name it) */
  receiver: string;
  /** the token or HMAC key from the Receiver's Secret */
  secret: string;
  /** the time of the verdict (ISO) */
  time: string;
}

/** MAX_DESCRIPTION: GitHub refuses a description over 140 characters. */
export const MAX_DESCRIPTION = 140;

/** SIGNATURE_HEADER carries a webhook body's HMAC-SHA256 with the Receiver's key. */
export const SIGNATURE_HEADER = 'X-Gitcell-Signature-256';

/** signBody is the signature header's value for `body`: `sha256=` and the hex HMAC. */
export function signBody(key: string, body: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

function clip(s: string, n = MAX_DESCRIPTION): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** targetUrl links the status to the revert when there is one, else to the commit itself. */
function targetUrl(spec: ReceiverSpec, v: CommitStatusVerdict): string | undefined {
  return spec.commitUrl?.replaceAll('{sha}', v.revert ?? v.revision);
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

/** buildRequest turns a verdict into the request `spec`'s receiver takes. */
export function buildRequest(spec: ReceiverSpec & { type: CommitStatusType }, v: CommitStatusVerdict, ctx: NotifyContext): HttpRequest {
  const base = trimSlash(spec.address ?? DEFAULT_FORGE_ADDRESS[spec.type] ?? '');
  const context = spec.context ?? `gitcell/${ctx.source}`;
  const link = targetUrl(spec, v);
  const json = { 'content-type': 'application/json', 'user-agent': 'gitcell' };
  switch (spec.type) {
    case 'github':
    case 'gitea': {
      const [owner = '', repo = ''] = (spec.repository ?? '').split('/');
      return {
        url: `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${v.revision}`,
        method: 'POST',
        headers: spec.type === 'github'
          ? { ...json, accept: 'application/vnd.github+json', authorization: `Bearer ${ctx.secret}`, 'x-github-api-version': '2022-11-28' }
          : { ...json, accept: 'application/json', authorization: `token ${ctx.secret}` },
        body: JSON.stringify({ state: v.state, description: clip(v.description), context, ...(link ? { target_url: link } : {}) }),
      };
    }
    case 'gitlab':
      return {
        url: `${base}/projects/${encodeURIComponent(spec.repository ?? '')}/statuses/${v.revision}`,
        method: 'POST',
        headers: { ...json, 'private-token': ctx.secret },
        body: JSON.stringify({ state: v.state === 'failure' ? 'failed' : v.state, name: context, description: clip(v.description, 255), ...(link ? { target_url: link } : {}) }),
      };
    case 'webhook': {
      const body = JSON.stringify({
        event: 'commit-status', source: ctx.source, receiver: ctx.receiver, revision: v.revision, state: v.state,
        description: v.description, ...(v.revert ? { revert: v.revert } : {}), ...(link ? { url: link } : {}), time: ctx.time,
      });
      return {
        url: base,
        method: 'POST',
        headers: { ...json, 'x-gitcell-event': 'commit-status', 'x-gitcell-delivery': randomUUID(), [SIGNATURE_HEADER.toLowerCase()]: signBody(ctx.secret, body) },
        body,
      };
    }
  }
}
