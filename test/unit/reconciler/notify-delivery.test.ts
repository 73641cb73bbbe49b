// Requests for each receiver type, and delivery to a real HTTP server on 127.0.0.1: retries with
// backoff on 500 and on a hang, no retry on 401, order kept, a newer verdict replacing a queued one.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildRequest, Delivery, signBody, type DeliveryResult, type HttpRequest } from '../../../reconciler/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { waitFor } from '../../helpers/wait.ts';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const ctx = { source: 'main', receiver: 'default/r', secret: 's3cret', time: '2026-12-04T16:00:00.000Z' };
const verdict = { revision: SHA, state: 'failure' as const, description: 'rollout failed: x'.padEnd(200, 'x'), revert: 'f'.repeat(40) };

test('HMAC-SHA256 signature matches the example in GitHub\'s webhook documentation', () => {
  assert.equal(signBody("It's a Secret to Everybody", 'Hello, World!'), 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17');
});

test('github, gitea and gitlab commit status requests', () => {
  const gh = buildRequest({ type: 'github', repository: 'org/repo', commitUrl: 'https://github.com/org/repo/commit/{sha}' }, verdict, ctx);
  assert.equal(gh.url, `https://api.github.com/repos/org/repo/statuses/${SHA}`);
  assert.equal(gh.headers.authorization, 'Bearer s3cret');
  const body = JSON.parse(gh.body) as Record<string, string>;
  assert.equal(body.state, 'failure');
  assert.equal(body.context, 'gitcell/main');
  assert.equal(body.target_url, `https://github.com/org/repo/commit/${'f'.repeat(40)}`, 'the failure links to the revert');
  assert.equal([...body.description!].length, 140, 'GitHub refuses longer descriptions');
  const gitea = buildRequest({ type: 'gitea', address: 'https://git.example.com/api/v1/', repository: 'org/repo', context: 'deploy' }, { ...verdict, state: 'pending' }, ctx);
  assert.equal(gitea.url, `https://git.example.com/api/v1/repos/org/repo/statuses/${SHA}`);
  assert.equal(gitea.headers.authorization, 'token s3cret');
  assert.equal((JSON.parse(gitea.body) as Record<string, string>).context, 'deploy');
  const gl = buildRequest({ type: 'gitlab', repository: 'group/sub/project' }, verdict, ctx);
  assert.equal(gl.url, `https://gitlab.com/api/v4/projects/group%2Fsub%2Fproject/statuses/${SHA}`);
  assert.equal(gl.headers['private-token'], 's3cret');
  assert.equal((JSON.parse(gl.body) as Record<string, string>).state, 'failed', "GitLab's word for failure");
});

test('a webhook body is signed with the receiver key', () => {
  const r = buildRequest({ type: 'webhook', address: 'http://127.0.0.1:9/hook' }, verdict, ctx);
  assert.equal(r.url, 'http://127.0.0.1:9/hook');
  assert.equal(r.headers['x-gitcell-signature-256'], signBody('s3cret', r.body));
  const body = JSON.parse(r.body) as Record<string, string>;
  assert.equal(body.revision, SHA);
  assert.equal(body.revert, 'f'.repeat(40));
  assert.equal(body.description, verdict.description, 'webhooks get the whole description');
});

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
async function serve(t: TestContext, handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const post = (url: string, body: string): HttpRequest => ({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body });
function delivery(t: TestContext, results: DeliveryResult[], timeoutMs = 2_000): Delivery {
  const d = new Delivery({ receiver: 'r', timeoutMs, backoff: { initialMs: 20, maxMs: 100 }, log: silentLogger(), onResult: (r) => results.push(r) });
  t.after(() => d.close());
  return d;
}

test('a receiver answering 500, then hanging, then 200 gets the notification, in order, with retries', async (t) => {
  const seen: string[] = [];
  let calls = 0;
  const url = await serve(t, (_req, res, body) => {
    calls++;
    if (calls === 1) return void res.writeHead(500).end('boom');
    if (calls === 2) return; // hang: the client times out
    seen.push(body);
    res.writeHead(201).end('{}');
  });
  const results: DeliveryResult[] = [];
  const d = delivery(t, results, 300);
  d.enqueue('a', post(url, 'first'));
  d.enqueue('b', post(url, 'second'));
  await waitFor('both delivered', async () => results.length === 2, 10_000);
  assert.deepEqual(seen, ['first', 'second']);
  assert.deepEqual(results.map((r) => [r.key, r.outcome]), [['a', 'delivered'], ['b', 'delivered']]);
  assert.ok(results[0]!.attempts >= 3, `a took ${results[0]!.attempts} attempts: the 500 and the hang were retried`);
  assert.equal(results[1]!.attempts, 1);
});

test('401 is refused at once (a wrong token does not fix itself); a newer verdict replaces a queued one', async (t) => {
  let release: (() => void) | undefined;
  const bodies: string[] = [];
  const url = await serve(t, (req, res, body) => {
    bodies.push(body);
    if (req.url === '/slow') {
      release = () => res.writeHead(200).end();
      return;
    }
    res.writeHead(401).end('bad credentials');
  });
  const results: DeliveryResult[] = [];
  const d = delivery(t, results);
  d.enqueue('x', post(`${url}/slow`, 'in flight'));
  await waitFor('the first request in flight', async () => release !== undefined);
  d.enqueue('c', post(`${url}/auth`, 'pending'));
  d.enqueue('c', post(`${url}/auth`, 'success'));
  assert.equal(d.pending, 2, 'the in-flight one and the newest for c');
  release!();
  await waitFor('both settled', async () => results.length === 2, 10_000);
  assert.deepEqual(bodies, ['in flight', 'success']);
  assert.equal(results[1]!.outcome, 'refused');
  assert.equal(results[1]!.status, 401);
  assert.equal(results[1]!.attempts, 1);
});

test('a full queue drops its oldest waiting notification and says so', async (t) => {
  const url = await serve(t, () => undefined); // never answers
  const results: DeliveryResult[] = [];
  const d = new Delivery({ receiver: 'r', timeoutMs: 60_000, capacity: 3, log: silentLogger(), onResult: (r) => results.push(r) });
  t.after(() => d.close());
  for (const k of ['a', 'b', 'c', 'd']) d.enqueue(k, post(url, k));
  assert.equal(d.pending, 3);
  assert.deepEqual(results.map((r) => [r.key, r.outcome]), [['b', 'dropped']], 'a is in flight; b was the oldest waiting');
});
