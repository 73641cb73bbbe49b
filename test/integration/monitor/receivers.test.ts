// Alert receivers of every type, from Git to a real Alertmanager to a local endpoint: a Slack-
// compatible incoming webhook (its URL sealed in a Secret), email through an SMTP server (its
// password sealed; Go's client sends it in clear only to localhost) and, in another namespace, a
// webhook. The reconciler's leader writes alertmanager.yml from the Receivers; alerts are posted to
// Alertmanager's own API (the Prometheus side is alerts.test.ts). As the attacker: a reader of
// Alertmanager's HTTP API never sees the Slack URL, the SMTP password or the bearer key, and one
// namespace's alert never reaches another namespace's receivers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { silentLogger } from '../../../lib/index.ts';
import { Keyring, openSecret, sealValue } from '../../../secrets/index.ts';
import { createSource } from '../../../reconciler/source/index.ts';
import { startReconcilerService } from '../../../reconciler/service/index.ts';
import { runMonitoringConfig } from '../../../reconciler/monitor/index.ts';
import { makeRemoteRepo } from '../../helpers/git-cli-repo.ts';
import { alertHook, startAlertmanager } from '../../helpers/monitoring.ts';
import { startSmtpSink } from '../../helpers/smtp.ts';
import { openTestStore } from '../../helpers/store.ts';
import { waitFor } from '../../helpers/wait.ts';

const log = silentLogger();
const SLACK_TOKEN = 'T0001/B0001/slack-path-secret';
const SMTP_PASSWORD = 'smtp-password-secret';
const BEARER = 'other-namespace-bearer';

/** slack is a Slack-compatible incoming webhook: it takes posts on its secret path only. */
async function slack(t: { after(fn: () => Promise<void>): void }) {
  const posts: { channel?: string; attachments?: { title?: string; text?: string; color?: string }[] }[] = [];
  const strays: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== `/services/${SLACK_TOKEN}`) {
        strays.push(`${req.method} ${req.url}`);
        return void res.writeHead(404).end('no_service');
      }
      posts.push(JSON.parse(body) as (typeof posts)[number]);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/${SLACK_TOKEN}`, posts, strays };
}

const alert = (namespace: string, name: string) => ({
  labels: { alertname: name, namespace, job: 'web', slo: 'web-latency', severity: 'page' },
  annotations: { summary: `${namespace}/web: ${name}` },
  startsAt: new Date().toISOString(),
});

test('slack, email and webhook Receivers in Git get their namespace\'s alerts through Alertmanager, secrets sealed and never shown', async (t) => {
  const { store } = await openTestStore(t, { tag: 'r', log });
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-receivers-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const keyring = await Keyring.open(stateDir, { modulusLength: 2048 });
  const chat = await slack(t);
  const smtp = await startSmtpSink();
  t.after(() => smtp.close());
  // A server without STARTTLS, for a Receiver that keeps the default requireTLS: Alertmanager must not send.
  const plain = await startSmtpSink();
  t.after(() => plain.close());
  const hook = await alertHook(t, BEARER);
  const am = await startAlertmanager();
  t.after(() => am.stop());

  const sealed = (namespace: string, name: string, key: string, value: string) => ({
    apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name, namespace },
    spec: { encryptedData: { [key]: sealValue(keyring.publicKeyPem(), { namespace, name, key }, value) } },
  });
  const docs = [
    sealed('default', 'chat-hook', 'url', chat.url),
    sealed('default', 'smtp', 'password', SMTP_PASSWORD),
    sealed('other', 'hook', 'hmac', BEARER),
    { apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'chat' }, spec: { type: 'slack', secretRef: { name: 'chat-hook' }, slack: { channel: '#oncall' } } },
    { apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'mail' }, spec: { type: 'email', secretRef: { name: 'smtp' }, email: { to: ['oncall@example.com'], from: 'gitcell@example.com', smarthost: smtp.address, username: 'gitcell', requireTLS: false } } },
    { apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'mail-tls' }, spec: { type: 'email', secretRef: { name: 'smtp' }, email: { to: ['oncall@example.com'], from: 'gitcell@example.com', smarthost: plain.address, username: 'gitcell' } } },
    { apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'hook', namespace: 'other' }, spec: { type: 'webhook', address: hook.url, secretRef: { name: 'hook' }, alerts: true } },
  ];
  const { url, work } = await makeRemoteRepo(t);
  work.commit({ 'monitoring/receivers.yaml': docs.map((d) => dump(d)).join('---\n') }, 'alert receivers');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const source = createSource({ repo: url, stateDir, pollIntervalMs: 300 }, log);
  const configs: string[] = [];
  const svc = await startReconcilerService({
    store, source, leaseMs: 1500, log, sealingKeys: (id) => keyring.privateKey(id),
    whileLeading: (ctx) => runMonitoringConfig({
      store, openSecret: (s) => openSecret(s, { privateKeyFor: (id) => keyring.privateKey(id) }), signal: ctx.signal, log,
      alertmanager: { file: am.file, url: am.url, routing: { groupWaitSeconds: 1, groupIntervalSeconds: 2, repeatIntervalSeconds: 3600 } },
      onApplied: (what, content) => void (what === 'alertmanager' && configs.push(content)),
    }).done,
  });
  t.after(async () => {
    await svc.stop();
    // after hooks run in order: the source wrote its git cache again while the first rm had run
    rmSync(stateDir, { recursive: true, force: true });
  });
  const context = () => `slack ${JSON.stringify(chat.posts)} strays ${JSON.stringify(chat.strays)}; smtp ${JSON.stringify(smtp.sessions)}; hook ${JSON.stringify(hook.posts)} refused ${JSON.stringify(hook.refused)}\nalertmanager: ${am.log().slice(-2000)}`;
  const status = async () => JSON.stringify(await (await fetch(`${am.url}/api/v2/status`)).json());
  await waitFor('Alertmanager runs the four receivers', async () => {
    const s = await status();
    return ['default/chat', 'default/mail', 'default/mail-tls', 'other/hook'].every((r) => s.includes(r));
  }, 90_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${context()}`); });

  const res = await fetch(`${am.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([alert('default', 'SLOBurnRateFast'), alert('other', 'SLOBurnRateSlow')]) });
  assert.equal(res.status, 200, await res.text());
  await waitFor('slack, email and the other namespace\'s webhook each got their alert', () => chat.posts.length > 0 && smtp.mails.length > 0 && hook.posts.length > 0, 60_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${context()}`); });

  // Slack-compatible: Alertmanager's attachment on the sealed URL, to the channel, with the summary.
  const post = chat.posts[0]!;
  assert.equal(post.channel, '#oncall');
  assert.match(post.attachments?.[0]?.title ?? '', /FIRING.*SLOBurnRateFast/);
  assert.match(post.attachments?.[0]?.text ?? '', /default\/web: SLOBurnRateFast/);
  // Email: authenticated with the sealed password, to the declared recipient, about default's alert.
  const mail = smtp.mails[0]!;
  assert.equal(mail.auth, `\0gitcell\0${SMTP_PASSWORD}`);
  assert.deepEqual([mail.from, mail.to], ['gitcell@example.com', ['oncall@example.com']]);
  assert.match(mail.data, /^Subject: .*SLOBurnRateFast/m);
  // Webhook of namespace other: its own alert, with its bearer key.
  assert.deepEqual(hook.posts.flatMap((p) => p.alerts.map((a) => `${a.labels.namespace}/${a.labels.alertname}`)), ['other/SLOBurnRateSlow']);

  // The attacker's views: no other namespace's alert at default's receivers, no secret through the API.
  assert.ok(chat.posts.every((p) => !JSON.stringify(p).includes('SLOBurnRateSlow')), 'slack heard another namespace');
  assert.ok(smtp.mails.every((m) => !m.data.includes('SLOBurnRateSlow')), 'email heard another namespace');
  const shown = await status();
  for (const secret of [SLACK_TOKEN, SMTP_PASSWORD, BEARER]) assert.ok(!shown.includes(secret), `Alertmanager's /api/v2/status shows ${secret}`);
  assert.ok(configs.at(-1)!.includes(SMTP_PASSWORD), 'the 0600 file itself holds the opened secrets');
  assert.deepEqual([chat.strays, hook.refused], [[], []]);
  // requireTLS (the default) against a server without STARTTLS: greeted, then left without a word of the mail.
  await waitFor('Alertmanager tried the server without STARTTLS and quit', () => plain.sessions.some((s) => s.some((l) => l.startsWith('EHLO')) && s.includes('QUIT')), 60_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(plain.sessions)}`); });
  assert.deepEqual(plain.mails, []);
  assert.ok(plain.sessions.every((s) => !s.some((l) => /^(AUTH|MAIL|DATA)/.test(l))), JSON.stringify(plain.sessions));
});
