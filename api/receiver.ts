// The Receiver kind: where gitcell reports what it did with each commit (forges, webhooks) and where
// Alertmanager sends the alerts (webhooks, Slack-compatible incoming webhooks, email). Its own file
// because it is a notification kind, not a workload.
import type { API_VERSION, Manifest } from './manifests.ts';

/**
 * RECEIVER_TYPES: forge commit statuses (github, gitlab, gitea), a signed JSON webhook (commit
 * statuses, and alerts with `alerts: true`), or alerts only: a Slack-compatible incoming webhook
 * (Slack, Mattermost, Rocket.Chat) or email, both delivered by Alertmanager itself.
 */
export const RECEIVER_TYPES = ['github', 'gitlab', 'gitea', 'webhook', 'slack', 'email'] as const;

/** ReceiverType is one of RECEIVER_TYPES. */
export type ReceiverType = (typeof RECEIVER_TYPES)[number];

/** ALERT_ONLY_TYPES take alerts (through Alertmanager) and no commit statuses. */
export const ALERT_ONLY_TYPES: readonly ReceiverType[] = ['slack', 'email'];

/** CommitStatusType is a Receiver type that gets commit statuses. */
export type CommitStatusType = Exclude<ReceiverType, 'slack' | 'email'>;

/** takesCommitStatuses tells whether a Receiver gets the commit statuses (forges and webhooks). */
export function takesCommitStatuses<S extends Pick<ReceiverSpec, 'type'>>(spec: S): spec is S & { type: CommitStatusType } {
  return !ALERT_ONLY_TYPES.includes(spec.type);
}

/** takesAlerts tells whether Alertmanager delivers the alerts of the Receiver's namespace to it. */
export function takesAlerts(spec: Pick<ReceiverSpec, 'type' | 'alerts'>): boolean {
  return ALERT_ONLY_TYPES.includes(spec.type) ? spec.alerts !== false : spec.type === 'webhook' && spec.alerts === true;
}

/** SlackReceiver: an incoming webhook; its URL (the credential) is the Secret's key (default "url"). */
export interface SlackReceiver {
  /** the channel to post to (default: the webhook's own) */
  channel?: string;
}

/** EmailReceiver: Alertmanager mails the alerts through an SMTP server. */
export interface EmailReceiver {
  /** recipients */
  to: string[];
  /** the sender address */
  from: string;
  /** the SMTP server as host:port */
  smarthost: string;
  /** SMTP AUTH user; its password is the Secret's key (default "password") */
  username?: string;
  /** refuse to send unless the server offers STARTTLS (default true) */
  requireTLS?: boolean;
}

/** ReceiverSecretRef names a Secret of the Receiver's namespace and the key holding the token or HMAC key. */
export interface ReceiverSecretRef {
  name: string;
  /** key in the Secret; default "token" for a forge, "hmac" for a webhook, "url" for slack, "password" for email */
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
   * webhook: Alertmanager also delivers the alerts of the Receiver's namespace here (its webhook
   * JSON, the Secret's key as `Authorization: Bearer`), next to the commit notifications; slack and
   * email take alerts only (true unless set false)
   */
  alerts?: boolean;
  /** type slack: where in Slack */
  slack?: SlackReceiver;
  /** type email: the mail's addresses and server */
  email?: EmailReceiver;
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
  return spec.secretRef?.key ?? DEFAULT_SECRET_KEY[spec.type];
}

const DEFAULT_SECRET_KEY: Record<ReceiverType, string> = { github: 'token', gitlab: 'token', gitea: 'token', webhook: 'hmac', slack: 'url', email: 'password' };
