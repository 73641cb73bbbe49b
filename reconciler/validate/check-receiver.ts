// Receiver checks beyond the schema: which fields each type needs (the schema lists them all as
// optional because they differ by type). The Secret it names is checked with every other reference
// (references.ts).
import { ALERT_ONLY_TYPES, DEFAULT_FORGE_ADDRESS, RECEIVER_TYPES, type ReceiverType } from '../../api/index.ts';
import { ValidationCode, recordAt, stringAt, type Report } from './finding.ts';

/** FORGE_ONLY: fields of commit statuses on a forge. */
const FORGE_ONLY = ['repository'] as const;
/** COMMIT_STATUS_ONLY: fields of commit statuses (forges and webhooks), meaningless to alert-only receivers. */
const COMMIT_STATUS_ONLY = ['address', 'context', 'commitUrl', 'timeoutSeconds'] as const;

/**
 * checkReceiver: a forge needs its repository, a token and (gitea) an address; a webhook its URL and
 * an HMAC key; slack its sealed incoming-webhook URL; email its addresses and server. A field of
 * another type is a conflict, so a typo never silently does nothing.
 */
export function checkReceiver(obj: Record<string, unknown>, report: Report): void {
  const spec = recordAt(obj, 'spec');
  const type = stringAt(spec, 'type') as ReceiverType | undefined;
  // An unknown type is the schema's finding; its needs are unknown too.
  if (!spec || !type || !(RECEIVER_TYPES as readonly string[]).includes(type)) return;
  const missing = (field: string, why: string) => report(['spec', field], ValidationCode.schema, `missing field ${JSON.stringify(field)}: ${why}`);
  const conflict = (field: string, why: string) => report(['spec', field], ValidationCode.conflict, why);
  for (const block of ['slack', 'email'] as const) {
    if (spec[block] !== undefined && type !== block) conflict(block, `${block} applies to receivers of type ${block}, not ${type}`);
  }
  if (spec.alerts === true && type !== 'webhook' && !ALERT_ONLY_TYPES.includes(type)) {
    conflict('alerts', `alerts go to webhook, slack and email receivers (Alertmanager delivers them), not as ${type} commit statuses`);
  }
  if (ALERT_ONLY_TYPES.includes(type)) return checkAlertOnly(spec, type, missing, conflict);
  if (!stringAt(spec, 'address') && !DEFAULT_FORGE_ADDRESS[type]) {
    missing('address', type === 'webhook' ? 'the URL the notifications are posted to' : `the ${type} API base URL (e.g. https://gitea.example.com/api/v1)`);
  }
  if (!recordAt(spec, 'secretRef')) {
    missing('secretRef', type === 'webhook' ? 'a sealed Secret holding the HMAC-SHA256 key the receiver verifies' : `a sealed Secret holding the ${type} token`);
  }
  if (type === 'webhook') {
    if (stringAt(spec, 'repository') !== undefined) conflict('repository', 'repository applies to forge receivers (github, gitlab, gitea), not to a webhook');
    return;
  }
  const repository = stringAt(spec, 'repository');
  if (repository === undefined) missing('repository', type === 'gitlab' ? 'the project path (group/name) or numeric id' : 'owner/name of the repository on the forge');
  else if (type !== 'gitlab' && !/^[^/\s]+\/[^/\s]+$/.test(repository)) {
    report(['spec', 'repository'], ValidationCode.schema, `repository ${JSON.stringify(repository)}: expected owner/name`);
  }
}

/** checkAlertOnly: slack needs its sealed URL; email its block, and a password only with a user. */
function checkAlertOnly(spec: Record<string, unknown>, type: ReceiverType, missing: (f: string, why: string) => void, conflict: (f: string, why: string) => void): void {
  for (const field of [...FORGE_ONLY, ...COMMIT_STATUS_ONLY]) {
    if (spec[field] === undefined) continue;
    conflict(field, field === 'address'
      ? (type === 'slack' ? 'a slack receiver\'s URL is a credential: seal it in its Secret (key "url"), not in address' : 'an email receiver\'s server is email.smarthost, not address')
      : `${field} applies to commit statuses (forges, webhooks); a ${type} receiver takes alerts only`);
  }
  if (type === 'slack') {
    if (!recordAt(spec, 'secretRef')) missing('secretRef', 'a sealed Secret holding the incoming-webhook URL (key "url")');
    return;
  }
  const email = recordAt(spec, 'email');
  if (!email) return missing('email', 'the recipients (to), the sender (from) and the SMTP server (smarthost)');
  const user = stringAt(email, 'username');
  if (user !== undefined && !recordAt(spec, 'secretRef')) missing('secretRef', `a sealed Secret holding the SMTP password of ${JSON.stringify(user)} (key "password")`);
  if (user === undefined && recordAt(spec, 'secretRef')) conflict('secretRef', 'an SMTP password needs email.username');
}
