import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGitcellError } from '../../../lib/errors.ts';
import { jitteredDelay, normalizeSubPath, parseCredentials, signPayload, verifySignature, isRemoteRepo } from '../../../reconciler/source/index.ts';
import { parseListen, pushedRef } from '../../../reconciler/source/webhook.ts';

test('parseCredentials accepts username/password and token, rejects the rest naming the field', () => {
  assert.deepEqual(parseCredentials('username: bob\npassword: s3cret\n', 'c.yaml'), { username: 'bob', password: 's3cret' });
  assert.deepEqual(parseCredentials('{"token": "ghp_x"}', 'c.json'), { username: 'x-access-token', password: 'ghp_x' });
  assert.deepEqual(parseCredentials('token: t\nusername: oauth2\n', 'c'), { username: 'oauth2', password: 't' });
  const cases: [string, string | undefined][] = [
    ['username: bob\n', 'password'],
    ['password: x\n', 'username'],
    ['token: 5\n', 'token'],
    ['token: a\npassword: b\n', 'token'],
    ['- a\n', undefined],
    ['a: [\n', undefined],
  ];
  for (const [text, field] of cases) {
    assert.throws(() => parseCredentials(text, 'creds.yaml'), (err: unknown) => {
      assert.ok(isGitcellError(err, 'E_BAD_CREDENTIALS'));
      assert.match(err.message, /^creds\.yaml: /);
      assert.equal(err.data.field, field);
      return true;
    });
  }
});

test('verifySignature accepts exactly the HMAC of the raw body', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const good = signPayload('topsecret', body);
  // HMAC-SHA256 in hex is 64 characters after the "sha256=" prefix.
  assert.match(good, /^sha256=[0-9a-f]{64}$/);
  assert.ok(verifySignature('topsecret', body, good));
  assert.ok(!verifySignature('othersecret', body, good));
  assert.ok(!verifySignature('topsecret', Buffer.from(`${body} `), good));
  assert.ok(!verifySignature('topsecret', body, undefined));
  assert.ok(!verifySignature('topsecret', body, good.replace('sha256=', 'sha1=')));
  assert.ok(!verifySignature('topsecret', body, good.slice(0, -1)));
});

test('pushedRef reads JSON and form-encoded payloads', () => {
  assert.equal(pushedRef(Buffer.from('{"ref":"refs/heads/x"}'), 'application/json'), 'refs/heads/x');
  const form = `payload=${encodeURIComponent('{"ref":"refs/heads/y"}')}`;
  assert.equal(pushedRef(Buffer.from(form), 'application/x-www-form-urlencoded'), 'refs/heads/y');
  assert.equal(pushedRef(Buffer.from('not json'), 'application/json'), undefined);
});

test('parseListen, jitter, sub-paths and URLs', () => {
  assert.deepEqual(parseListen('127.0.0.1:9292'), { host: '127.0.0.1', port: 9292 });
  assert.deepEqual(parseListen('0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
  assert.throws(() => parseListen('host:http'), (e: unknown) => isGitcellError(e, 'E_BAD_LISTEN'));
  assert.throws(() => parseListen('1.2.3.4:70000'), (e: unknown) => isGitcellError(e, 'E_BAD_LISTEN'));
  // ±10 %: 60 s gives 54 s .. 66 s.
  assert.equal(jitteredDelay(60_000, () => 0), 54_000);
  assert.equal(jitteredDelay(60_000, () => 1), 66_000);
  assert.equal(normalizeSubPath('./deploy//prod/'), 'deploy/prod');
  assert.equal(normalizeSubPath(undefined), '');
  assert.throws(() => normalizeSubPath('a/../../b'), (e: unknown) => isGitcellError(e, 'E_BAD_SUBPATH'));
  assert.ok(isRemoteRepo('https://example.com/r.git'));
  assert.ok(!isRemoteRepo('/srv/repo'));
});
