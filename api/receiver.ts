// The Receiver kind: where gitcell reports what it did with each commit. Its own file because it is
// the first of the notification kinds (alert receivers come next), not a workload.
import type { API_VERSION, Manifest } from './manifests.ts';

/** RECEIVER_TYPES: forge commit statuses (github, gitlab, gitea) or a signed JSON webhook. */
export const RECEIVER_TYPES = ['github', 'gitlab', 'gitea', 'webhook'] as const;

/** ReceiverType is one of RECEIVER_TYPES. */
export type ReceiverType = (typeof RECEIVER_TYPES)[number];

/** ReceiverSecretRef names a Secret of the Receiver's namespace and the key holding the token or HMAC key. */
export interface ReceiverSecretRef {
  name: string;
  /** key in the Secret; default "token" for a forge, "hmac" for a webhook */
  key?: string;
}

/**
 * ReceiverSpec: a forge gets a commit status for every commit the reconciler handles (pending when
 * seen, success when applied and rolled out, failure with the reason and the revert); a webhook gets
 * the same notifications as JSON signed with HMAC-SHA256.
 */
export interface ReceiverSpec {
  type: ReceiverType;
  /** the forge's API base URL (github and gitlab have defaults) or the webhook's URL */
  address?: string;
  /** owner/name on github and gitea; project path or numeric id on gitlab */
  repository?: string;
  secretRef?: ReceiverSecretRef;
  /** the status context on the forge; default gitcell/<source> */
  context?: string;
  /** a link template for a commit with {sha}: the failure status links to the revert */
  commitUrl?: string;
  /** per request; default 10 */
  timeoutSeconds?: number;
  /**
   * webhook only: Alertmanager also delivers the alerts of the Receiver's namespace here (its webhook
   * JSON, the Secret's key as `Authorization: Bearer`), next to the commit notifications
   */
  alerts?: boolean;
}

/** Receiver is a Manifest of kind Receiver. */
export type Receiver = Manifest<'Receiver', ReceiverSpec> & { apiVersion: typeof API_VERSION };

/** DEFAULT_FORGE_ADDRESS: the public API base of the forges that have one. */
export const DEFAULT_FORGE_ADDRESS: Partial<Record<ReceiverType, string>> = {
  github: 'https://api.github.com',
  gitlab: 'https://gitlab.com/api/v4',
};

/** receiverSecretKey is the Secret key a Receiver reads: its own, or the type's default. */
export function receiverSecretKey(spec: Pick<ReceiverSpec, 'type' | 'secretRef'>): string {
  return spec.secretRef?.key ?? (spec.type === 'webhook' ? 'hmac' : 'token');
}
