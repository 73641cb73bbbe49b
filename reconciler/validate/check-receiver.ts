// Receiver checks beyond the schema: which fields each type needs (the schema lists them all as
// optional because they differ by type). The Secret it names is checked with every other reference
// (references.ts).
import { DEFAULT_FORGE_ADDRESS, RECEIVER_TYPES, type ReceiverType } from '../../api/index.ts';
import { ValidationCode, recordAt, stringAt, type Report } from './finding.ts';

/** checkReceiver: a forge needs its repository, a token and (gitea) an address; a webhook its URL and an HMAC key. */
export function checkReceiver(obj: Record<string, unknown>, report: Report): void {
  const spec = recordAt(obj, 'spec');
  const type = stringAt(spec, 'type') as ReceiverType | undefined;
  // An unknown type is the schema's finding; its needs are unknown too.
  if (!spec || !type || !(RECEIVER_TYPES as readonly string[]).includes(type)) return;
  const missing = (field: string, why: string) => report(['spec', field], ValidationCode.schema, `missing field ${JSON.stringify(field)}: ${why}`);
  if (!stringAt(spec, 'address') && !DEFAULT_FORGE_ADDRESS[type]) {
    missing('address', type === 'webhook' ? 'the URL the notifications are posted to' : `the ${type} API base URL (e.g. https://gitea.example.com/api/v1)`);
  }
  if (!recordAt(spec, 'secretRef')) {
    missing('secretRef', type === 'webhook' ? 'a sealed Secret holding the HMAC-SHA256 key the receiver verifies' : `a sealed Secret holding the ${type} token`);
  }
  if (spec.alerts === true && type !== 'webhook') report(['spec', 'alerts'], ValidationCode.conflict, `alerts are delivered to webhooks only (Alertmanager posts its own JSON), not as ${type} commit statuses`);
  if (type === 'webhook') {
    if (stringAt(spec, 'repository') !== undefined) report(['spec', 'repository'], ValidationCode.conflict, 'repository applies to forge receivers (github, gitlab, gitea), not to a webhook');
    return;
  }
  const repository = stringAt(spec, 'repository');
  if (repository === undefined) missing('repository', type === 'gitlab' ? 'the project path (group/name) or numeric id' : 'owner/name of the repository on the forge');
  else if (type !== 'gitlab' && !/^[^/\s]+\/[^/\s]+$/.test(repository)) {
    report(['spec', 'repository'], ValidationCode.schema, `repository ${JSON.stringify(repository)}: expected owner/name`);
  }
}
