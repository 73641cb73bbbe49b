// Commit statuses where the team looks: a rollout driven to failure is reported to a local HTTP
// server speaking the commit status APIs of GitHub, Gitea and GitLab as pending → failure (GitLab:
// failed; linking the revert), and the revert as success; a webhook receiver gets the same, signed
// with HMAC-SHA256. The lease is 5 s: at load 35 a 1.5 s lease changed hands every few seconds and
// each new leader aborted the reconcile of the bad commit, which then never failed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import type { Job } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Keyring, openSecret, sealValue } from '../../../secrets/index.ts';
import { runNotifier } from '../../../reconciler/notify/index.ts';
import { createSource } from '../../../reconciler/source/index.ts';
import { startReconcilerService } from '../../../reconciler/service/index.ts';
import { makeRemoteRepo } from '../../helpers/git-cli-repo.ts';
import { startSim } from './sim.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

const log = silentLogger();
const TOKEN = 'ghp_test_token';
const HMAC_KEY = 'webhook-key';

const job = (image: string): string => dump({
  apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web', namespace: 'default' },
  // The bad image never becomes ready; the deadline leaves a loaded machine time for the good one.
  spec: { type: 'service', replicas: 2, template: { image, resources: { requests: { cpu: '100m', memory: '64Mi' } } },
    strategy: { maxUnavailable: 1, maxSurge: 1, progressDeadlineSeconds: 8 } },
} satisfies Job);

interface Status { state: string; description: string; context: string; target_url?: string }

/**
 * FORGES: how each forge's commit status API looks at the local server: its path (under a prefix of
 * the forge's name), its auth header, and its names for the states (GitLab says "failed" and "name").
 */
const FORGES = {
  github: { path: /^\/github\/repos\/platform\/cluster\/statuses\/([0-9a-f]{40})$/, auth: (h: Record<string, unknown>) => h.authorization === `Bearer ${TOKEN}`, states: ['pending', 'success', 'failure', 'error'] },
  gitea: { path: /^\/gitea\/repos\/platform\/cluster\/statuses\/([0-9a-f]{40})$/, auth: (h: Record<string, unknown>) => h.authorization === `token ${TOKEN}`, states: ['pending', 'success', 'failure', 'error', 'warning'] },
  gitlab: { path: /^\/gitlab\/projects\/platform%2Fcluster\/statuses\/([0-9a-f]{40})$/, auth: (h: Record<string, unknown>) => h['private-token'] === TOKEN, states: ['pending', 'running', 'success', 'failed', 'canceled'] },
} as const;
type Forge = keyof typeof FORGES;

/** forge serves the commit status APIs of GitHub, Gitea and GitLab (token required) and a webhook endpoint (signature required). */
async function forge(t: TestContext) {
  const statuses = new Map<string, Status[]>();
  const hooks: { state: string; revision: string; revert?: string }[] = [];
  const refused: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      for (const [name, api] of Object.entries(FORGES)) {
        const m = api.path.exec(req.url ?? '');
        if (req.method !== 'POST' || !m) continue;
        if (!api.auth(req.headers)) {
          refused.push(`${name} status: ${JSON.stringify(req.headers)}`);
          return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}');
        }
        const raw = JSON.parse(body) as Status & { name?: string };
        const s: Status = { ...raw, context: raw.context ?? raw.name ?? '' };
        if (!(api.states as readonly string[]).includes(s.state) || s.description.length > (name === 'gitlab' ? 255 : 140)) return void res.writeHead(422).end();
        const key = `${name}/${m[1]!}`;
        statuses.set(key, [...(statuses.get(key) ?? []), s]);
        return void res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 1, ...s }));
      }
      if (req.method === 'POST' && req.url === '/hook') {
        const want = Buffer.from(`sha256=${createHmac('sha256', HMAC_KEY).update(body).digest('hex')}`);
        const got = Buffer.from(String(req.headers['x-gitcell-signature-256'] ?? ''));
        if (got.length !== want.length || !timingSafeEqual(got, want)) {
          refused.push('hook: bad signature');
          return void res.writeHead(401).end();
        }
        hooks.push(JSON.parse(body) as { state: string; revision: string; revert?: string });
        return void res.writeHead(204).end();
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, statuses, hooks, refused };
}

test('a failed rollout is pending then failure (linking the revert) on the forge; the revert is success; a webhook hears the same', async (t) => {
  const { store } = await openTestStore(t, { tag: 'n', log });
  const f = await forge(t);
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-notify-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const keyring = await Keyring.open(stateDir, { modulusLength: 2048 });
  const sealed = (name: string, key: string, value: string) => dump({
    apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name, namespace: 'default' },
    spec: { encryptedData: { [key]: sealValue(keyring.publicKeyPem(), { namespace: 'default', name, key }, value) } },
  });
  const receivers = [
    ...(Object.keys(FORGES) as Forge[]).map((type) => ({
      apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: type },
      spec: { type, address: `${f.url}/${type}`, repository: 'platform/cluster', secretRef: { name: 'forge' }, commitUrl: 'https://github.example.com/platform/cluster/commit/{sha}' },
    })),
    { apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'hook' }, spec: { type: 'webhook', address: `${f.url}/hook`, secretRef: { name: 'hook' } } },
  ].map((r) => dump(r)).join('---\n');

  const { url, work } = await makeRemoteRepo(t);
  const good = work.commit({
    'apps/web.yaml': job('web:1'), 'notify/receivers.yaml': receivers,
    'notify/forge.yaml': sealed('forge', 'token', TOKEN), 'notify/hook.yaml': sealed('hook', 'hmac', HMAC_KEY),
  }, 'web, and where to report');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const source = createSource({ repo: url, stateDir, pollIntervalMs: 300 }, log);
  const sim = await startSim(store, { nodes: ['n1', 'n2'], ready: (image) => !image.includes('bad') });
  const svc = await startReconcilerService({
    store, source, leaseMs: 5000, log, sealingKeys: (id) => keyring.privateKey(id),
    whileLeading: (ctx) => runNotifier({
      store, sourceName: 'main', git: { gitdir: source.gitdir, ref: source.trackingRef },
      openSecret: (s) => openSecret(s, { privateKeyFor: (id) => keyring.privateKey(id) }), signal: ctx.signal, log,
    }).done,
  });
  t.after(async () => {
    await svc.stop();
    await sim.stop();
  });
  const states = (sha: string, on: Forge = 'github') => (f.statuses.get(`${on}/${sha}`) ?? []).map((s) => s.state);
  const dump1 = () => JSON.stringify(Object.fromEntries(f.statuses)) + ` refused ${JSON.stringify(f.refused)}`;
  // The Receivers arrive with this commit: the first status it gets may already be its success.
  await waitFor('the first commit rolled out: success', async () => states(good).includes('success'), 90_000).catch((err: Error) => { throw new Error(`${err.message}: ${dump1()}`); });

  const bad = work.commit({ 'apps/web.yaml': job('web:bad') }, 'web: a bad image');
  await work.gitAsync('push', '--quiet', 'origin', 'main');
  const revert = await waitFor('a revert on the remote', async () => {
    await work.gitAsync('fetch', '--quiet', 'origin');
    const tip = work.git('rev-parse', 'origin/main');
    return tip !== bad ? tip : undefined;
  }, 90_000).catch((err: Error) => { throw new Error(`${err.message}: ${dump1()}`); });
  await waitFor('the bad commit failed, linking its revert', async () => (f.statuses.get(`github/${bad}`) ?? []).some((s) => s.state === 'failure' && s.target_url?.endsWith(revert)), 60_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${dump1()}`); });
  await waitFor('the revert rolled out: success', async () => states(revert).includes('success'), 90_000).catch((err: Error) => { throw new Error(`${err.message}: ${dump1()}`); });

  const badStates = states(bad);
  assert.equal(badStates[0], 'pending');
  assert.ok(!badStates.includes('success'), `never success: ${badStates}`);
  const failure = f.statuses.get(`github/${bad}`)!.find((s) => s.state === 'failure' && s.target_url?.endsWith(revert))!;
  assert.match(failure.description, /^rollout failed, reverted by [0-9a-f]{12}: Job default\/web: /);
  assert.equal(failure.context, 'gitcell/main');
  // Gitea speaks GitHub's states; GitLab says failed, and calls the context its name.
  const linked = (on: Forge, failed: string) => f.statuses.get(`${on}/${bad}`)?.find((x) => x.state === failed && x.target_url?.endsWith(revert));
  await waitFor('gitea and gitlab: the bad commit failed linking its revert, the revert rolled out', async () =>
    linked('gitea', 'failure') && linked('gitlab', 'failed') && states(revert, 'gitea').includes('success') && states(revert, 'gitlab').includes('success'), 60_000)
    .catch((err: Error) => { throw new Error(`${err.message}: ${dump1()}`); });
  for (const [on, failed] of [['gitea', 'failure'], ['gitlab', 'failed']] as const) {
    const seen = states(bad, on);
    assert.equal(seen[0], 'pending', `${on}: ${seen}`);
    assert.ok(!seen.includes('success'), `${on}: ${seen}`);
    assert.equal(linked(on, failed)!.context, 'gitcell/main');
  }
  assert.deepEqual(f.refused, [], 'every request carried the token or the signature');
  await waitFor('the webhook heard the failure and the revert', async () =>
    f.hooks.some((h) => h.revision === bad && h.state === 'failure' && h.revert === revert) && f.hooks.some((h) => h.revision === revert && h.state === 'success'), 30_000).catch((err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(f.hooks)}`); });
});
