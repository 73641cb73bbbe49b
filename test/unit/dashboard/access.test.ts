import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessPolicy, cookieValue, decide, isLoopback } from '../../../dashboard/access.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { ErrorCodes } from '../../../lib/error-codes.ts';

const TOKEN = 'token-token-token-token';

test('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
  for (const h of ['127.0.0.1', '127.5.6.7', '::1', '[::1]', 'localhost']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1', '127.0.0.1.example.com']) assert.equal(isLoopback(h), false, h);
});

test('accessPolicy: off loopback a token is required; a short token is refused', () => {
  assert.throws(() => accessPolicy('0.0.0.0', 9480, undefined), (err) => isGitcellError(err, ErrorCodes.DashboardTokenRequired));
  assert.throws(() => accessPolicy('127.0.0.1', 9480, 'short'), (err) => isGitcellError(err, ErrorCodes.Usage));
  assert.deepEqual(accessPolicy('0.0.0.0', 9480, TOKEN), { token: TOKEN });
  assert.deepEqual(accessPolicy('127.0.0.1', 9480, undefined).allowedHosts, ['127.0.0.1:9480', 'localhost:9480']);
});

test('decide: Host on loopback, then bearer, cookie or query token', () => {
  const open = accessPolicy('127.0.0.1', 9480, undefined);
  assert.deepEqual(decide(open, { host: '127.0.0.1:9480' }), { allow: true });
  assert.deepEqual(decide(open, { host: 'LOCALHOST:9480' }), { allow: true });
  for (const host of [undefined, 'evil.example:9480', '127.0.0.1:9481', 'localhost']) assert.equal(decide(open, host ? { host } : {}).allow, false, String(host));
  const closed = accessPolicy('0.0.0.0', 9480, TOKEN);
  assert.equal(decide(closed, { host: 'anything' }).allow, false);
  assert.deepEqual(decide(closed, { authorization: `Bearer ${TOKEN}` }), { allow: true });
  assert.deepEqual(decide(closed, { cookie: `a=b; gitcell_dashboard=${TOKEN}` }), { allow: true });
  assert.equal(decide(closed, { authorization: `Bearer ${TOKEN}x` }).allow, false);
  assert.equal(decide(closed, { cookie: 'gitcell_dashboard=%E0%A4%A' }).allow, false, 'a malformed cookie is no token');
  const q = decide(closed, { queryToken: TOKEN });
  assert.equal(q.allow, true);
  assert.match((q as { setCookie: string }).setCookie, /^gitcell_dashboard=.*; HttpOnly; SameSite=Strict; Path=\/$/);
});

test('cookieValue reads one cookie among others', () => {
  assert.equal(cookieValue('x=1; gitcell_dashboard=abc; y=2', 'gitcell_dashboard'), 'abc');
  assert.equal(cookieValue(undefined, 'gitcell_dashboard'), undefined);
  assert.equal(cookieValue('gitcell_dashboardx=1', 'gitcell_dashboard'), undefined);
});
