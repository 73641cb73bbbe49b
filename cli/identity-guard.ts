// An agent started with another node's credentials must fail loudly: the server refuses everything it
// tries on its own node's subjects, and without this guard it waited on requests that never got an
// answer, logging permission warnings forever.
import type { NatsConnection } from '@nats-io/transport-node';
import { GitcellError, StoreError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** IdentityGuard resolves `refused` (never rejects) once the server refuses this node's own subjects. */
export interface IdentityGuard {
  /** refused resolves with the error to exit with: the credential is not this node's. */
  refused: Promise<GitcellError>;
  /** race runs `p` and rejects with the refusal if that comes first. */
  race<T>(p: Promise<T>): Promise<T>;
}

/**
 * namesNode tells whether a refused subject is one of the node's own: a token equal to the node's
 * name (`$KV.<status>.<node>.…`, `gitcell.logs.<node>`) or its secrets bucket (`KV_<prefix>secrets_<node>`).
 * Other refusals are expected (an agent may not delete consumers, for one) and are not fatal.
 */
export function namesNode(subject: string, node: string): boolean {
  return subject.split('.').some((token) => token === node || token.endsWith(`secrets_${node}`));
}

/**
 * guardNodeIdentity watches the connection's status for a permission refusal on a subject that
 * names `node`: a credential of this node never gets one, so it means the credential belongs to
 * another node (or to a viewer) and the agent must stop rather than retry.
 */
export function guardNodeIdentity(nc: NatsConnection, node: string, credsFile: string): IdentityGuard {
  const refused = (async (): Promise<GitcellError> => {
    for await (const s of nc.status()) {
      if (s.type !== 'error') continue;
      const pe = s.error as { name?: string; operation?: string; subject?: string };
      if (pe?.name !== 'PermissionViolationError' || !pe.subject || !namesNode(pe.subject, node)) continue;
      return new StoreError(ErrorCodes.PermissionDenied,
        `the credentials in ${credsFile} are not node ${node}'s: the NATS server refused ${pe.operation ?? 'access'} to ${pe.subject}`,
        { node, creds: credsFile, subject: pe.subject });
    }
    return new Promise<never>(() => undefined); // the connection closed: nothing more to guard
  })();
  return {
    refused,
    race: <T>(p: Promise<T>) => Promise.race([p, refused.then((err) => { throw err; })]),
  };
}
