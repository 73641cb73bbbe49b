import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'js-yaml';
import { takesAlerts, takesCommitStatuses, receiverSecretKey, type Receiver } from '../../../api/index.ts';
import { alertmanagerConfig, NULL_RECEIVER } from '../../../reconciler/monitor/index.ts';
import * as fx from '../../helpers/manifests.ts';

interface AmConfig {
  route: { receiver: string; routes: { receiver: string; matchers: string[]; continue: boolean }[] };
  receivers: Array<{ name: string } & Record<string, Array<Record<string, unknown>>>>;
}

const hook: Receiver = { apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'hook', namespace: 'team-a' }, spec: { type: 'webhook', address: 'https://hooks.example.com/a', secretRef: { name: 'h' }, alerts: true } };

test('each alert Receiver becomes Alertmanager\'s own integration, routed by its namespace only', () => {
  const mailNoAuth: Receiver = { ...fx.emailReceiver(), metadata: { name: 'plain', namespace: 'default' }, spec: { type: 'email', email: { to: ['a@example.com'], from: 'g@example.com', smarthost: 'mx.example.com:25' } } };
  const config = load(alertmanagerConfig([
    { receiver: fx.slackReceiver(), secret: 'https://hooks.slack.com/services/T/B/x' },
    { receiver: fx.emailReceiver(), secret: 'pw' },
    { receiver: mailNoAuth },
    { receiver: hook, secret: 'bearer' },
  ])) as AmConfig;
  assert.equal(config.route.receiver, NULL_RECEIVER, 'an alert of a namespace without receivers goes nowhere');
  assert.deepEqual(config.route.routes.map((r) => [r.receiver, r.matchers, r.continue]), [
    ['default/chat', ['namespace="default"'], true], ['default/mail', ['namespace="default"'], true], ['default/plain', ['namespace="default"'], true], ['team-a/hook', ['namespace="team-a"'], true],
  ]);
  const byName = new Map(config.receivers.map((r) => [r.name, r]));
  assert.deepEqual(byName.get('default/chat')!.slack_configs![0], { api_url: 'https://hooks.slack.com/services/T/B/x', channel: '#oncall', send_resolved: true, text: byName.get('default/chat')!.slack_configs![0]!.text });
  assert.deepEqual(byName.get('default/mail')!.email_configs![0], {
    to: 'oncall@example.com, team@example.com', from: 'gitcell@example.com', smarthost: 'smtp.example.com:587', auth_username: 'gitcell', auth_password: 'pw', require_tls: true, send_resolved: true,
  });
  assert.deepEqual(byName.get('default/plain')!.email_configs![0], { to: 'a@example.com', from: 'g@example.com', smarthost: 'mx.example.com:25', require_tls: true, send_resolved: true }, 'no user: no AUTH; TLS required by default');
  assert.deepEqual(byName.get('team-a/hook')!.webhook_configs![0], { url: 'https://hooks.example.com/a', send_resolved: true, http_config: { authorization: { type: 'Bearer', credentials: 'bearer' } } });
});

test('who takes what: forges commit statuses only, webhooks both with alerts: true, slack and email alerts only', () => {
  const spec = (type: Receiver['spec']['type'], alerts?: boolean) => ({ type, ...(alerts === undefined ? {} : { alerts }) });
  assert.deepEqual(['github', 'gitlab', 'gitea', 'webhook', 'slack', 'email'].map((t) => takesCommitStatuses(spec(t as Receiver['spec']['type']))), [true, true, true, true, false, false]);
  assert.deepEqual([takesAlerts(spec('webhook')), takesAlerts(spec('webhook', true)), takesAlerts(spec('github', true)), takesAlerts(spec('slack')), takesAlerts(spec('email', false))], [false, true, false, true, false]);
  assert.deepEqual(['github', 'webhook', 'slack', 'email'].map((type) => receiverSecretKey({ type: type as Receiver['spec']['type'] })), ['token', 'hmac', 'url', 'password']);
});
