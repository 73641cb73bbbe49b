// reconciler/source: where the reconciler learns about new commits (local refs watch, remote fetch, webhook).
import type { Logger } from '../../lib/log.ts';
import { isRemoteRepo } from './gitdir.ts';
import { createLocalSource } from './local.ts';
import { createRemoteSource } from './remote.ts';
import type { Source, SourceOptions } from './types.ts';

export type { GitCredentials, Revision, RevisionCallback, Source, SourceOptions } from './types.ts';
export { createLocalSource } from './local.ts';
export { createRemoteSource, DEFAULT_POLL_MS, jitteredDelay } from './remote.ts';
export { loadCredentials, parseCredentials, sshAuthFromSecret, SSH_SECRET_KEYS } from './credentials.ts';
export { coalesce, type Coalesced, type CoalesceOptions } from './coalesce.ts';
export { isRemoteRepo, normalizeSubPath, resolveLocalRepo } from './gitdir.ts';
export { parseListen, signPayload, startWebhookServer, verifySignature, type WebhookServer, type WebhookOptions } from './webhook.ts';

/** createSource picks a remote source for http(s) and SSH URLs and a local one for paths. */
export function createSource(options: SourceOptions, log?: Logger): Source {
  return isRemoteRepo(options.repo) ? createRemoteSource(options, log) : createLocalSource(options, log);
}
