import { randomBytes } from 'node:crypto';
import { bucketName, eventsSubjectRoot, DEFAULT_PREFIX, type BucketRole } from './cluster.ts';

/**
 * NATS permissions per identity. The control plane (reconciler, scheduler, CLI) is trusted with the
 * whole account; each agent gets an allow-list: it reads the buckets it converges from, writes only
 * its own node's keys, and reads only its own node's secrets bucket. Enforced by nats-server, so a
 * compromised agent cannot read another node's Secrets, whatever its code does.
 */

/** NatsPermissions is nats-server's permission block (allow-lists only: anything else is denied). */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

/** NatsUser is one entry of the server's `authorization.users`. */
export type NatsUser =
  | { nkey: string; permissions?: NatsPermissions }
  | { user: string; password: string; permissions?: NatsPermissions };

/** nodeSecretsBucket is the bucket holding the Secrets re-sealed for one node. */
export function nodeSecretsBucket(node: string, prefix?: string): string {
  return `${prefix ?? DEFAULT_PREFIX}secrets_${node}`;
}

/** The buckets an agent reads (and watches) to converge its node. */
const AGENT_READS: BucketRole[] = ['tasks', 'bindings', 'nodes', 'nodespec', 'status'];

/** jsStreamAccess lists the JetStream API subjects that open, read and watch one stream. */
function jsStreamAccess(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
  ];
}

/** agentPermissions is the allow-list of the agent of `node`. */
export function agentPermissions(node: string, prefix?: string): NatsPermissions {
  const streams = [...AGENT_READS.map((role) => `KV_${bucketName(role, prefix)}`), `KV_${nodeSecretsBucket(node, prefix)}`];
  const eventsRoot = eventsSubjectRoot(prefix);
  return {
    publish: {
      allow: [
        '$JS.API.INFO',
        ...streams.flatMap(jsStreamAccess),
        ...jsStreamAccess(`${prefix ?? DEFAULT_PREFIX}events`),
        // Its own keys only: the status of tasks on this node and this node's registration.
        `$KV.${bucketName('status', prefix)}.${node}.>`,
        `$KV.${bucketName('nodes', prefix)}.${node}`,
        `${eventsRoot}.>`,
        '$JS.FC.>',
        '$JS.ACK.>',
        '_INBOX.>',
      ],
    },
    subscribe: { allow: ['_INBOX.>', `gitcell.logs.${node}`, `gitcell.logs.${node}.>`] },
  };
}

/** anonymousPermissions let a credential-less client see that the server and JetStream are up. */
export function anonymousPermissions(): NatsPermissions {
  return { publish: { allow: ['$JS.API.INFO'] }, subscribe: { allow: ['_INBOX.>'] } };
}

/**
 * authorizationConfig renders nats-server configuration for these users. Clients without
 * credentials become a user that may only ask whether JetStream is up.
 */
export function authorizationConfig(users: NatsUser[]): string {
  const anonymous: NatsUser = { user: 'anonymous', password: randomBytes(24).toString('hex'), permissions: anonymousPermissions() };
  return [`authorization ${JSON.stringify({ users: [...users, anonymous] }, null, 2)}`, 'no_auth_user: anonymous', ''].join('\n');
}
